"""Registry behaviour: names, collisions, qualified lookups, suggestions, lazy factories."""

from __future__ import annotations

import sys

import pytest

from zoo_core import PluginError, ZooError
from zoo_core.plugin.registry import Entry, Registry, Source


def _registry(*adds: tuple[str, str]) -> Registry:
    reg = Registry("model")
    for plugin, name in adds:
        reg.scoped(Source(plugin=plugin, distribution=f"dist-{plugin}", version="1.0")).add(
            name, factory=dict
        )
    return reg


def test_a_scoped_view_stamps_its_plugin_and_shares_the_entries():
    reg = Registry("dataset")
    view = reg.scoped(Source(plugin="p", distribution="dist-p", version="2.0"))
    entry = view.add("points", factory=dict)
    assert (entry.plugin, entry.distribution, entry.version) == ("p", "dist-p", "2.0")
    assert reg.get("p:points") is entry and reg.add("other", factory=dict).plugin == ""


def test_get_by_bare_and_qualified_name():
    reg = _registry(("a", "net"), ("a", "other"))
    assert reg.get("net").plugin == "a"
    assert reg.get("a:net").qualname == "a:net"
    assert "net" in reg and "a:net" in reg and "b:net" not in reg


def test_two_plugins_same_name_are_both_kept_and_bare_name_is_ambiguous():
    reg = _registry(("a", "net"), ("b", "net"))
    assert len(reg) == 2
    with pytest.raises(ZooError, match=r"ambiguous.*'a:net', 'b:net'"):
        reg.get("net")
    assert reg.get("b:net").distribution == "dist-b"


def test_same_plugin_registering_twice_names_the_plugin():
    with pytest.raises(PluginError, match="plugin 'a' registers model 'net' twice"):
        _registry(("a", "net"), ("a", "net"))


def test_unknown_name_suggests_close_matches():
    reg = _registry(("a", "regression"), ("a", "classification"))
    with pytest.raises(ZooError, match=r"unknown model 'regresion'; did you mean 'regression'"):
        reg.get("regresion")
    with pytest.raises(ZooError, match=r"unknown model 'zzz' \(see 'zoo list models'\)"):
        reg.get("zzz")


@pytest.mark.parametrize("name", ["Net", "a b", "", "-x", "x/y"])
def test_invalid_names_are_refused(name):
    with pytest.raises(PluginError, match="invalid"):
        _registry(("a", name))


def test_factory_must_be_callable_or_module_attr():
    reg = Registry("dataset")
    with pytest.raises(PluginError, match="needs a callable factory"):
        reg.add("d", factory="not a path")
    with pytest.raises(PluginError, match="only apply to models"):
        reg.add("d", factory=dict, trainer="x")


def test_list_globs_and_natural_sort():
    reg = _registry(("a", "mlp10"), ("a", "mlp2"), ("a", "rnn-a"), ("b", "rnn-b"))
    assert [e.name for e in reg.list()] == ["mlp2", "mlp10", "rnn-a", "rnn-b"]
    assert [e.name for e in reg.list("rnn*")] == ["rnn-a", "rnn-b"]
    assert [e.name for e in reg.list("b:*")] == ["rnn-b"]
    assert [e.name for e in reg.list(plugin="a")] == ["mlp2", "mlp10", "rnn-a"]


def test_string_factory_is_resolved_only_on_use():
    entry = Entry(name="x", kind="model", factory="json.decoder:JSONDecoder")
    module = "json.decoder"
    sys.modules.pop(module, None)
    assert module not in sys.modules  # creating the entry imported nothing
    assert entry.load().__name__ == "JSONDecoder"


def test_broken_string_factory_is_a_clear_error():
    entry = Entry(name="x", kind="model", factory="no_such_module_zz:Net", plugin="p")
    with pytest.raises(
        ZooError, match=r"load factory 'no_such_module_zz:Net': there is no module 'no_such_module_zz'"
    ):
        entry.load()


def test_a_typo_in_a_factory_name_says_so_not_reinstall():
    entry = Entry(name="x", kind="model", factory="json.decoder:JSONDecodr", plugin="p")
    with pytest.raises(ZooError) as err:
        entry.load()
    assert str(err.value).startswith(
        "model 'p:x': cannot load factory 'json.decoder:JSONDecodr': 'json.decoder' has no 'JSONDecodr'; "
        "fix the name plugin 'p' registers; did you mean 'JSONDecoder'"
    )
    needs = Entry(name="y", kind="model", factory="tests.test_registry_needs:Net", plugin="p")
    with pytest.raises(
        ZooError, match="there is no module 'tests.test_registry_needs'; fix the name plugin 'p'"
    ):
        needs.load()


def test_params_merge_defaults_and_reject_unknown_keys():
    entry = Entry(name="x", kind="model", factory=dict, defaults={"a": 1, "b": 2})
    assert entry.params({"b": 3}) == {"a": 1, "b": 3}
    with pytest.raises(ZooError, match=r"no setting 'c'; valid settings: a, b"):
        entry.params({"c": 1})
    assert entry.create(b=5) == {"a": 1, "b": 5}


def test_discard_plugin_removes_only_its_entries():
    reg = _registry(("a", "net"), ("b", "net"), ("a", "solo"))
    reg.discard_plugin("a")
    assert [e.qualname for e in reg.list()] == ["b:net"]
