"""A pytest plugin for zoo and plugin authors: load plugins in isolation and check their entries.

It is registered through the ``pytest11`` entry point, so its fixtures are available in any test
suite once zoo is installed:

- ``make_zoo(plugin, ...)``: a zoo of just those plugin objects (modules, classes, instances);
- ``zoo_plugin_zoo(plugin)``: a zoo of one plugin (an installed plugin's name, a module name or a
  plugin object) plus zoo's own plugins, so it can use ``supervised``, ``adam`` and friends;
- ``zoo_check(plugin)``: runs the checks of ``zoo check`` on it and fails the test with the report
  when one fails.

and ``invoke("train", "NAME", ...)`` runs zoo's command line in the test's process, as ``zoo``
would in a shell, for testing a plugin's commands.

Each fixture makes its zoo the current one (what ``zoo_core.create_model`` and the other
functions use) for the test, and puts the previous one back afterwards.

For the whole test session the runs root (``$ZOO_RUNS_DIR``) is a temporary folder, so runs the
tests train, and the index of those saved with ``--out``, never land in the current folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from zoo_core.plugin.discovery import Zoo, set_zoo


@pytest.fixture(scope="session", autouse=True)
def zoo_runs_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's runs root: a temporary folder, not ``./runs``, whatever the tests train."""
    root = tmp_path_factory.mktemp("zoo-runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZOO_RUNS_DIR", str(root))
        yield root


@pytest.fixture
def make_zoo() -> Iterator[Callable[..., Zoo]]:
    """``make_zoo(plugin, ...)`` makes a zoo of just those plugin objects, current for the test."""
    previous = set_zoo(None)

    def factory(*plugins: Any) -> Zoo:
        zoo = Zoo.from_plugins(plugins)
        set_zoo(zoo)
        return zoo

    yield factory
    set_zoo(previous)


@pytest.fixture
def zoo_plugin_zoo() -> Iterator[Callable[..., Zoo]]:
    """``zoo_plugin_zoo(plugin, builtins=True)``: a zoo of ``plugin`` and zoo's own plugins only.

    ``plugin`` is an installed plugin's entry-point name (``"waves"``), an importable module name
    or a plugin object. Other installed third-party plugins are left out. A plugin that fails to
    load fails the test with its error.
    """
    from zoo_core.plugin.errors import PluginError

    previous = set_zoo(None)

    def factory(plugin: Any, *, builtins: bool = True) -> Zoo:
        try:
            zoo, _ = Zoo.isolated(plugin, builtins=builtins)
        except PluginError as exc:
            pytest.fail(str(exc), pytrace=False)
        set_zoo(zoo)
        return zoo

    yield factory
    set_zoo(previous)


@pytest.fixture
def zoo_check(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``zoo_check(plugin, *, steps=20, data_root=None, builtins=True, listing=True, train=False)``.

    Runs the checks of ``zoo check`` on ``plugin`` (what ``zoo_plugin_zoo`` takes, or one entry's
    ``"plugin:name"``), loaded in isolation (with zoo's own plugins unless ``builtins=False``);
    ``listing=False`` skips the fresh-interpreter listing check, ``train=True`` adds
    ``zoo check --train``. Returns the ``zoo_core.author.contract.Report``; a FAIL fails the test with
    the whole report.
    """
    from zoo_core.author.contract import DEFAULT_STEPS, run_checks
    from zoo_core.plugin.errors import PluginError

    previous = set_zoo(None)
    count = 0

    def check(
        plugin: Any,
        *,
        steps: int = DEFAULT_STEPS,
        data_root: str | Path | None = None,
        builtins: bool = True,
        listing: bool = True,
        train: bool = False,
    ) -> Any:
        nonlocal count
        entry = ""
        if isinstance(plugin, str) and ":" in plugin:  # 'plugin:name', as 'zoo check' takes it
            entry, plugin = plugin, plugin.partition(":")[0]
        try:
            zoo, info = Zoo.isolated(plugin, builtins=builtins)
        except PluginError as exc:
            pytest.fail(str(exc), pytrace=False)
        set_zoo(zoo)
        count += 1
        workdir = tmp_path / f"zoo-check-{count}"
        workdir.mkdir()
        target = entry or info.name
        report = run_checks(
            [target],
            steps=steps,
            data_root=None if data_root is None else str(data_root),
            workdir=workdir,
            listing=listing,
            train=train,
        )
        print(report.text())
        if not report.ok:
            pytest.fail(f"zoo check {target}:\n{report.text()}", pytrace=False)
        return report

    yield check
    set_zoo(previous)


def invoke(*args: Any, input: str | None = None) -> Any:
    """``zoo ARGS`` run in this process with the current zoo (click's ``CliRunner``): its ``Result``."""
    from click.testing import CliRunner

    from zoo_core.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], input=input)
