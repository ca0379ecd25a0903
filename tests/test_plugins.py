"""Plugin discovery and isolation, with fake entry points pointing at throwaway modules."""

from __future__ import annotations

import sys
import textwrap
from importlib import metadata

import pytest

from zoo_core import PluginError
from zoo_core.plugin import discovery as plugins_mod
from zoo_core.plugin.discovery import Zoo

GOOD = """
from zoo_core import hookimpl

@hookimpl
def register_models(registry):
    registry.add("good-net", factory="builtins:dict", summary="fine", dataset="d", optimizer="o", trainer="t")
"""

SOURCES = {
    "zp_good": GOOD,
    "zp_import_error": "import no_such_dependency_zz\n",
    "zp_raises": """
from zoo_core import hookimpl

@hookimpl
def register_models(registry):
    registry.add("half-done", factory="builtins:dict")
    raise RuntimeError("boom in hook")
""",
    "zp_bad_registration": """
from zoo_core import hookimpl

@hookimpl
def register_datasets(registry):
    registry.add("Bad Name", factory="builtins:dict")
""",
    "zp_misspelled": """
from zoo_core import hookimpl

@hookimpl
def register_model(registry):
    pass
""",
    "zp_future_api": """
from zoo_core import hookimpl
ZOO_API_VERSIONS = (3,)

@hookimpl
def register_models(registry):
    registry.add("future-net", factory="builtins:dict")
""",
    "zp_steals_train": """
import click
from zoo_core import hookimpl

@hookimpl
def register_models(registry):
    registry.add("thief-net", factory="builtins:dict")

@hookimpl
def register_commands(cli):
    @cli.command("train")
    def train():
        pass
""",
    "zp_adds_command": """
import click
from zoo_core import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command("hello")
    def hello():
        click.echo("hello from a plugin")
""",
}


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    """Write the modules above and expose them as ``zoo`` entry points named after them."""
    for module, source in SOURCES.items():
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [
        metadata.EntryPoint(name=m.removeprefix("zp_").replace("_", "-"), value=m, group="zoo")
        for m in SOURCES
    ]
    monkeypatch.setattr(plugins_mod.metadata, "entry_points", lambda group: eps if group == "zoo" else [])
    for var in ("ZOO_LOAD_PLUGINS", "ZOO_BLOCK_PLUGINS", "ZOO_STRICT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    yield
    for module in SOURCES:
        sys.modules.pop(module, None)


def test_each_failure_is_contained_and_reported_in_one_line(fake_plugins, capsys):
    zoo = Zoo.discover()
    status = {name: info.status for name, info in zoo.plugins.items()}
    assert status == {
        "good": "loaded",
        "import-error": "failed",
        "raises": "failed",
        "bad-registration": "failed",
        "misspelled": "failed",
        "future-api": "incompatible",
        "steals-train": "failed",
        "adds-command": "loaded",
    }
    assert [e.name for e in zoo.models.list()] == ["good-net"]  # half-done rolled back
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 6  # one line per plugin that did not load
    assert any(
        "plugin 'import-error'" in line and "No module named 'no_such_dependency_zz'" in line for line in err
    )
    assert any("plugin 'raises'" in line and "boom in hook" in line for line in err)
    assert any("plugin 'misspelled'" in line and "unknown hook register_model" in line for line in err)
    assert any("plugin 'steals-train'" in line and "would replace zoo's own command" in line for line in err)
    assert "needs zoo plugin API 3" in zoo.plugins["future-api"].error
    assert zoo.plugins["good"].registered == {"models": ["good-net"]}
    assert "hello" in zoo.commands and "train" not in zoo.commands


def test_strict_mode_makes_a_failure_fatal(fake_plugins, monkeypatch):
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="plugin 'bad-registration'.*invalid"):
        Zoo.discover()


def test_load_list_and_block_list(fake_plugins, monkeypatch, capsys):
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "good, raises")
    monkeypatch.setenv("ZOO_BLOCK_PLUGINS", "raises")
    zoo = Zoo.discover()
    assert zoo.plugins["good"].status == "loaded"
    assert zoo.plugins["raises"].status == "blocked"
    assert zoo.plugins["import-error"].status == "skipped"
    assert capsys.readouterr().err == ""  # nothing that was not loaded can fail


def test_empty_load_list_loads_nothing(fake_plugins, monkeypatch):
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "")
    zoo = Zoo.discover()
    assert {i.status for i in zoo.plugins.values()} == {"skipped"}
    assert len(zoo.models) == 0


def test_throwaway_plugin_objects(make_zoo):
    from tests.conftest import Toy

    zoo = make_zoo(Toy)
    assert zoo.plugins["toy"].registered == {
        "models": ["toy"],
        "datasets": ["line"],
        "optimizers": ["sgd"],
        "trainers": ["mse"],
    }
    import zoo_core

    assert [e.qualname for e in zoo_core.list_models()] == ["toy:toy"]


def test_an_isolated_zoo_holds_one_plugin_and_zoos_own_as_discovery_names_them(monkeypatch):
    for var in ("ZOO_LOAD_PLUGINS", "ZOO_BLOCK_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    everything = Zoo.discover()
    own = {name for name, info in everything.plugins.items() if info.distribution == "zoo"}
    zoo, info = Zoo.isolated("regression")
    assert info is zoo.plugins["regression"] and info.status == "loaded"
    assert set(zoo.plugins) == own
    assert {n: i.registered for n, i in zoo.plugins.items()} == {
        n: everything.plugins[n].registered for n in own
    }
    alone, _ = Zoo.isolated("regression", builtins=False)
    assert list(alone.plugins) == ["regression"]


def test_an_isolated_plugin_object_is_named_as_make_zoo_names_it(make_zoo):
    from tests.conftest import Toy

    zoo, info = Zoo.isolated(Toy, builtins=False)
    assert (info.name, info.module) == ("toy", "Toy")
    assert list(zoo.plugins) == list(make_zoo(Toy).plugins) == ["toy"]


def test_hook_register_models_fills_the_model_registry(toy_zoo):
    assert toy_zoo.models.get("toy").dataset == "line"


def test_hook_register_datasets_fills_the_dataset_registry(toy_zoo):
    import zoo_core

    splits = zoo_core.create_dataset("line", seed=3, n=10)
    assert len(splits.train) == 10 and len(splits.eval) == 10


def test_hook_register_optimizers_fills_the_optimizer_registry(toy_zoo):
    import torch

    import zoo_core

    opt = zoo_core.create_optimizer("sgd", [torch.nn.Parameter(torch.zeros(1))], lr=0.5, momentum=0.9)
    assert opt.defaults["momentum"] == 0.9 and opt.defaults["lr"] == 0.5


def test_hook_register_trainers_fills_the_trainer_registry(toy_zoo):
    import zoo_core

    assert zoo_core.create_trainer("mse", weight=2.0).weight == 2.0


def test_hook_register_commands_adds_a_cli_command(fake_plugins, monkeypatch):
    from click.testing import CliRunner

    from zoo_core.cli import cli

    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "adds-command,steals-train")
    previous = plugins_mod.set_zoo(Zoo.discover())
    try:
        result = CliRunner().invoke(cli, ["hello"])
        assert result.exit_code == 0 and result.output == "hello from a plugin\n"
        assert "Run a training job" not in CliRunner().invoke(cli, ["train", "--help"]).output
        assert "Train NAME" in CliRunner().invoke(cli, ["train", "--help"]).output  # ours, not the thief's
    finally:
        plugins_mod.set_zoo(previous)


def test_every_core_command_is_reserved():
    from zoo_core.cli import cli

    assert set(cli.commands) <= plugins_mod.CORE_COMMANDS


def test_a_plugin_calling_sys_exit_is_contained(tmp_path, monkeypatch, capsys):
    (tmp_path / "zp_exits_at_import.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "zp_exits_in_hook.py").write_text(
        "import sys\nfrom zoo_core import hookimpl\n\n@hookimpl\ndef register_models(registry):\n    sys.exit()\n"
    )
    (tmp_path / "zp_fine.py").write_text(textwrap.dedent(GOOD))
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [
        metadata.EntryPoint(name=m.removeprefix("zp_"), value=m, group="zoo")
        for m in ("zp_exits_at_import", "zp_exits_in_hook", "zp_fine")
    ]
    monkeypatch.setattr(plugins_mod.metadata, "entry_points", lambda group: eps if group == "zoo" else [])
    try:
        zoo = Zoo.discover()
    finally:
        for m in ("zp_exits_at_import", "zp_exits_in_hook", "zp_fine"):
            sys.modules.pop(m, None)
    assert {n: i.status for n, i in zoo.plugins.items()} == {
        "exits_at_import": "failed",
        "exits_in_hook": "failed",
        "fine": "loaded",
    }
    assert zoo.plugins["exits_at_import"].error == "called sys.exit(3)"
    assert zoo.plugins["exits_in_hook"].error == "called sys.exit()"
    err = capsys.readouterr().err
    assert "plugin 'exits_at_import'" in err and "plugin 'exits_in_hook'" in err


def _distribution(site, dist, module, names):
    """A minimal installed distribution: a module and a dist-info with ``zoo`` entry points."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[zoo]\n" + "".join(f"{n} = {module}\n" for n in names))
    (site / f"{module}.py").write_text(
        "from zoo_core import hookimpl\n\n@hookimpl\ndef register_models(registry):\n"
        f"    registry.add('net', factory='builtins:dict', summary='from {dist}')\n"
    )


def test_two_distributions_with_one_plugin_name_are_both_reported_and_reachable(
    tmp_path, monkeypatch, capsys
):
    site = tmp_path / "site"
    _distribution(site, "acme-zoo", "zp_acme", ["shapes"])
    _distribution(site, "other-zoo", "zp_other", ["shapes"])
    monkeypatch.syspath_prepend(str(site))
    eps = [ep for d in metadata.distributions(path=[str(site)]) for ep in d.entry_points if ep.group == "zoo"]
    monkeypatch.setattr(plugins_mod.metadata, "entry_points", lambda group: eps if group == "zoo" else [])
    for var in ("ZOO_LOAD_PLUGINS", "ZOO_BLOCK_PLUGINS", "ZOO_STRICT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    try:
        zoo = Zoo.discover()
        alone, info = Zoo.isolated("other-zoo/shapes", builtins=False)  # by the name discovery gave it
    finally:
        for m in ("zp_acme", "zp_other"):
            sys.modules.pop(m, None)
    assert list(alone.plugins) == ["other-zoo/shapes"] and info.distribution == "other-zoo"
    assert alone.models.get("net").summary == "from other-zoo"
    assert sorted(zoo.plugins) == ["other-zoo/shapes", "shapes"]
    assert zoo.plugins["shapes"].distribution == "acme-zoo"
    assert all(info.status == "loaded" for info in zoo.plugins.values())
    models = zoo.models
    assert models.get("shapes:net").summary == "from acme-zoo"
    assert models.get("other-zoo/shapes:net").summary == "from other-zoo"
    err = capsys.readouterr().err
    assert (
        "plugin name 'shapes' is taken by acme-zoo; the one from other-zoo is loaded as 'other-zoo/shapes'"
        in err
    )
