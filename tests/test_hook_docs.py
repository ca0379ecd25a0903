"""docs/plugin-hooks.md is complete and true: every hook spec is on it with its signature and an
example plugin that registers through it, every example on it runs, and the tables list every field,
loop key, Trainer member and environment variable zoo has.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from doc_blocks import ROOT, Block, blocks, commands, match_output, sections, write

import zoo_core
from zoo_core.cli import cli
from zoo_core.config import settings
from zoo_core.plugin import hookspecs
from zoo_core.plugin.discovery import PluginInfo, Zoo, set_zoo
from zoo_core.plugin.errors import PluginError
from zoo_core.plugin.registry import Registry

PAGE = ROOT / "docs" / "plugin-hooks.md"
HOOKS = sorted(name for name, obj in vars(hookspecs).items() if hasattr(obj, f"{hookspecs.PROJECT}_spec"))
# Sections whose examples use another section's plugin.
SECTION_PLUGINS = {
    "Recipe loop keys": ["zoo_line"],
    "The supervised trainer": ["zoo_line"],
    "Settings on the command line": ["zoo_line"],
    "Environments: training by acting": ["dqn"],
}
VENV_BIN = Path(sys.executable).parent


def signature_text(name: str) -> str:
    """``register_models(registry: Registry) -> None``, from the hook spec itself."""
    sig = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{name}({params}) -> {sig.return_annotation}"


def page_blocks() -> list[Block]:
    return blocks(PAGE)


def section_blocks(title: str) -> list[Block]:
    return [b for b in page_blocks() if b.section == title]


@pytest.fixture(autouse=True)
def _own_zoo():
    """Whatever zoo a test makes current is dropped after it."""
    previous = set_zoo(None)
    yield
    set_zoo(previous)


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every ``# file:`` block of the page written into one folder on ``sys.path``."""
    root = tmp_path_factory.mktemp("hook-examples")
    packages = set()
    for block in page_blocks():
        if block.mode in ("file", "append"):
            write(block, root)
            packages.add(block.path.split("/")[0])
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    yield root
    sys.path.remove(str(root))
    for name in list(sys.modules):
        if name.split(".")[0] in packages:
            del sys.modules[name]


def zoo_of(*modules: str) -> Zoo:
    """zoo's own plugins plus the example packages ``modules``, made the current zoo."""
    zoo, _ = Zoo.isolated(modules[0])
    for name in modules[1:]:
        info = zoo.add_plugin(importlib.import_module(name), PluginInfo(name=name, module=name))
        assert info.status == "loaded", info.error
    set_zoo(zoo)
    return zoo


def run_console(block: Block, env_root: Path) -> None:
    """Run a console block's ``$ zoo`` commands (in-process, or as a process when they set variables)."""
    for cmd in commands(block):
        words = shlex.split(cmd.command)
        assignments = {}
        while words and re.match(r"^[A-Z_]+=", words[0]):
            key, _, value = words.pop(0).partition("=")
            assignments[key] = value
        assert words[0] == "zoo", f"{block.where('plugin-hooks.md')}: only zoo commands run here"
        if assignments:
            env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
            env.update(assignments, PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}")
            proc = subprocess.run(
                [str(VENV_BIN / "zoo"), *words[1:]],
                capture_output=True,
                text=True,
                env=env,
                cwd=env_root,
                timeout=120,
            )
            code, output = proc.returncode, proc.stdout + proc.stderr
        else:
            result = CliRunner().invoke(cli, words[1:], prog_name="zoo")
            code, output = result.exit_code, result.output
        assert code == 0, f"{block.where('plugin-hooks.md')}: '{cmd.command}' failed:\n{output}"
        problem = match_output(cmd.expected, output)
        assert problem is None, f"{block.where('plugin-hooks.md')}: '{cmd.command}': {problem}"


def run_section(title: str, root: Path) -> None:
    """Load the section's example plugin with zoo's own, then run its python and console blocks."""
    found = section_blocks(title)
    packages = list(dict.fromkeys(b.path.split("/")[0] for b in found if b.mode in ("file", "append")))
    packages = packages or SECTION_PLUGINS.get(title, [])
    runnable = [b for b in found if b.mode in ("run", "console")]
    assert packages, f"section {title!r} has no example plugin (add one, or name it in SECTION_PLUGINS)"
    assert runnable, f"section {title!r} shows no example of using its plugin"
    previous = set_zoo(None)
    try:
        zoo_of(*packages)
        for block in runnable:
            if block.mode == "run":
                code = compile(block.text, f"{PAGE}:{block.line}", "exec")
                exec(code, {"__name__": f"doc_example_{block.line}"})
            else:
                run_console(block, root)
    finally:
        set_zoo(previous)


# -- every hook spec: documented, with its signature, and tested --------------------------------------
def test_hook_specs_are_found():
    assert HOOKS == [
        "register_commands",
        "register_datasets",
        "register_models",
        "register_optimizers",
        "register_schedulers",
        "register_trainers",
    ]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_on_the_page_with_its_signature(hook):
    page = sections(PAGE)
    assert hook in page, f"docs/plugin-hooks.md has no '## {hook}' section"
    assert f"```text\n{signature_text(hook)}\n```" in page[hook], (
        f"'## {hook}' does not show the signature {signature_text(hook)}"
    )
    files = [b for b in section_blocks(hook) if b.mode == "file"]
    assert files, f"'## {hook}' has no complete example plugin"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hooks_example_registers_through_it_and_runs(hook, examples):
    run_section(hook, examples)
    package = next(b.path.split("/")[0] for b in section_blocks(hook) if b.mode in ("file", "append"))
    _, info = Zoo.isolated(package)
    kind = hook.removeprefix("register_")
    added = info.commands if kind == "commands" else info.registered.get(kind)
    assert added, f"the example plugin of '## {hook}' ({package}) registers no {kind} through {hook}"


# -- each hook's example, run ------------------------------------------------------------------------
def test_hook_register_models(examples):
    run_section("register_models", examples)
    zoo = zoo_of("zoo_line")
    entry = zoo.models.get("line")
    assert (entry.plugin, entry.qualname) == ("zoo_line", "zoo_line:line")
    assert isinstance(entry.factory, str)  # lazy: nothing imported by listing


def test_hook_register_datasets(examples):
    run_section("register_datasets", examples)
    zoo_of("zoo_rings")
    with pytest.raises(zoo_core.ZooError, match=r"points.csv not found"):
        zoo_core.create_dataset("points-csv", data_root=str(examples / "empty"))


def test_hook_register_commands_cannot_replace_core_commands(make_zoo):
    import click

    class Thief:
        @zoo_core.hookimpl
        def register_commands(self, cli):
            @cli.command("train")
            def train():
                click.echo("not zoo's train")

    zoo = make_zoo(Thief())
    assert zoo.plugins["thief"].status == "failed"
    assert "would replace zoo's own command" in zoo.plugins["thief"].error


def test_recipe_example_runs(examples):
    run_section("Recipe loop keys", examples)


def test_predictor_example_runs(examples):
    run_section("Predictors", examples)


def test_predictor_members_are_documented():
    text = sections(PAGE)["Predictors"]
    members = [n for n in vars(zoo_core.Predictor) if not n.startswith("_")]
    missing = [m for m in members if f"| `{m}" not in text]
    assert not missing, f"Predictor members missing from the table: {missing}"


def test_environment_example_runs(examples):
    run_section("Environments: training by acting", examples)


@pytest.mark.parametrize(
    "title",
    [
        "Checking a plugin",
        "Models sized by their data",
        "The supervised trainer",
        "Settings on the command line",
        "Datasets that are not tensors",
        "Testing a plugin",
    ],
)
def test_rules_for_plugin_authors_examples_run(examples, title):
    run_section(title, examples)


def test_supervised_trainer_table_lists_its_settings_and_losses():
    from zoo_plugins.standard.supervised import LOSSES

    text = sections(PAGE)["The supervised trainer"]
    defaults = zoo_core.get_zoo().trainers.get("standard:supervised").defaults
    assert all(f"| `{k}` | `{v!r}` |" in text for k, v in defaults.items())
    assert all(f"`{name}`" in text for name in LOSSES)


def test_non_models_refuse_model_fields():
    with pytest.raises(PluginError, match="only apply to models"):
        Registry("dataset").add("d", factory=dict, summary="s", dataset="x")


# -- the tables list everything zoo has ----------------------------------------------------------------
def test_registry_fields_are_documented():
    text = sections(PAGE)["Registry entries"]
    fields = [p for p in inspect.signature(Registry.add).parameters if p != "self"]
    missing = [f for f in fields if f"| `{f}` |" not in text]
    assert not missing, f"Registry.add fields missing from the table: {missing}"


def test_recipe_loop_keys_are_documented_with_their_defaults():
    text = sections(PAGE)["Recipe loop keys"]
    wrong = [k for k, v in settings.defaults().items() if f"| `{k}` | `{v!r}` |" not in text]
    assert not wrong, f"loop keys missing or with another default on the page: {wrong}"


def test_trainer_members_are_documented():
    text = sections(PAGE)["The Trainer base class"]
    members = [n for n in vars(zoo_core.Trainer) if not n.startswith("_")] + ["__init__"]
    missing = [m for m in members if f"| `{m}" not in text]
    assert not missing, f"Trainer members missing from the table: {missing}"


def test_environment_variables_are_documented():
    text = sections(PAGE)["Environment variables"]
    source = (ROOT / "zoo_core" / "plugin" / "discovery.py").read_text()
    used = set(re.findall(r'(?:environ\.get\(|environ\[|_env_list\(|switch\()\s*"(ZOO_[A-Z_]+)"', source))
    assert used >= {"ZOO_LOAD_PLUGINS", "ZOO_BLOCK_PLUGINS", "ZOO_STRICT_PLUGINS"}
    missing = [v for v in sorted(used) if f"| `{v}` |" not in text]
    assert not missing, f"environment variables missing from the table: {missing}"


def test_environment_variables_example_runs(tmp_path):
    (console,) = [b for b in section_blocks("Environment variables") if b.mode == "console"]
    run_console(console, tmp_path)


# -- the plugin API version ----------------------------------------------------------------------------
def test_api_version_is_the_one_on_the_page():
    assert f"`zoo_core.API_VERSION = {zoo_core.API_VERSION}`" in PAGE.read_text()


def test_api_version_example(examples):
    with pytest.raises(PluginError, match="incompatible: needs zoo plugin API 3; this zoo provides 2"):
        Zoo.isolated("zoo_future")
    previous = set_zoo(None)
    try:
        zoo = zoo_of("zoo_line")
        info = zoo.add_plugin(
            importlib.import_module("zoo_future"), PluginInfo(name="zoo_future", module="zoo_future")
        )
        assert info.status == "incompatible"
        assert info.registered == {}
        (console,) = [b for b in section_blocks("Plugin API version") if b.mode == "console"]
        run_console(console, examples)
    finally:
        set_zoo(previous)


def _versioned(versions):
    class Versioned:
        ZOO_API_VERSIONS = versions
        called = False

        @zoo_core.hookimpl
        def register_models(self, registry):
            type(self).called = True
            registry.add("v", factory=dict, summary="s", tags=["t"])

    return Versioned()


@pytest.mark.parametrize("versions", [(2,), (1, 2), (2, 3), [2], 2, None])
def test_compatible_api_versions_load(make_zoo, versions):
    plugin = _versioned(versions)
    zoo = make_zoo(plugin)
    assert zoo.plugins["versioned"].status == "loaded"
    assert plugin.called and "v" in zoo.models


def test_incompatible_plugin_is_not_called_and_reported(make_zoo, capsys):
    plugin = _versioned((3, 4))
    zoo = make_zoo(plugin)
    info = zoo.plugins["versioned"]
    assert (info.status, info.error) == ("incompatible", "needs zoo plugin API 3, 4; this zoo provides 2")
    assert not plugin.called and "v" not in zoo.models
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "zoo: plugin 'versioned' (Versioned) incompatible: needs zoo plugin API 3, 4; this zoo provides 2"
    ]
    result = CliRunner().invoke(cli, ["plugins"])
    assert re.search(r"versioned\s+incompatible\s+needs zoo plugin API 3, 4", result.output)


def test_a_plugin_of_api_1_is_refused_with_the_way_to_port_it(make_zoo):
    plugin = _versioned((1,))
    info = make_zoo(plugin).plugins["versioned"]
    assert info.status == "incompatible" and not plugin.called
    assert info.error == (
        "needs zoo plugin API 1; this zoo provides 2: port it (a trainer's loss(), or manual = True "
        "with opt.backward/opt.step) and declare ZOO_API_VERSIONS = (2,)"
    )


@pytest.mark.parametrize("versions", ["1", (1.0,), True, ("1",)])
def test_malformed_api_versions_fail_the_plugin(make_zoo, versions):
    zoo = make_zoo(_versioned(versions))
    info = zoo.plugins["versioned"]
    assert info.status == "failed"
    assert "ZOO_API_VERSIONS must be a tuple of ints" in info.error


# -- the environment variables do what the page says ---------------------------------------------------
def test_load_plugins_keeps_only_those(monkeypatch):
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "regression, standard")
    monkeypatch.delenv("ZOO_BLOCK_PLUGINS", raising=False)
    zoo = Zoo.discover()
    loaded = {n for n, p in zoo.plugins.items() if p.status == "loaded"}
    assert loaded == {"regression", "standard"}
    assert zoo.plugins["classification"].status == "skipped"


def test_load_plugins_set_but_empty_loads_none(monkeypatch):
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "")
    zoo = Zoo.discover()
    assert zoo.plugins and {p.status for p in zoo.plugins.values()} == {"skipped"}


def test_block_plugins(monkeypatch):
    monkeypatch.delenv("ZOO_LOAD_PLUGINS", raising=False)
    monkeypatch.setenv("ZOO_BLOCK_PLUGINS", "regression,classification")
    zoo = Zoo.discover()
    assert zoo.plugins["regression"].status == zoo.plugins["classification"].status == "blocked"
    assert "regression" not in zoo.models and "classification" not in zoo.models
    assert "quadratic" in zoo.datasets  # a standard part: quick-build still trains on it


def _failing():
    class Failing:
        @zoo_core.hookimpl
        def register_models(self, registry):
            registry.add("ok-model", factory=dict, summary="s", tags=["t"])
            raise RuntimeError("boom")

    return Failing()


def test_failing_plugin_is_contained(make_zoo, capsys):
    zoo = make_zoo(_failing())
    assert zoo.plugins["failing"].status == "failed"
    assert zoo.plugins["failing"].error == "RuntimeError: boom"
    assert "ok-model" not in zoo.models  # all or nothing
    assert capsys.readouterr().err.count("\n") == 1


def test_strict_plugins_turns_a_failure_into_an_error(make_zoo, monkeypatch):
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"plugin 'failing' \(Failing\) failed: RuntimeError: boom"):
        make_zoo(_failing())


def test_misspelled_hook_fails_the_plugin(make_zoo):
    class Typo:
        @zoo_core.hookimpl
        def register_model(self, registry):  # missing 's'
            pass

    zoo = make_zoo(Typo())
    assert zoo.plugins["typo"].status == "failed"
    assert "unknown hook register_model" in zoo.plugins["typo"].error
