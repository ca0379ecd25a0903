"""The checks of a plugin as a whole: it loads, its commands' help renders, and its entries list
without importing torch (``listing``, run in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import ModuleType

from zoo_core.author.contract.report import FAIL, PASS, SKIP, Outcome, error_text
from zoo_core.plugin.discovery import PluginInfo, get_zoo, installed


def check_loads(info: PluginInfo) -> Outcome:
    """The plugin loaded, and no hook of it went unmarked (which zoo would never call)."""
    subject = f"plugin {info.name}"
    label = f"{info.distribution} {info.version}".strip() or info.module
    if info.status == "loaded" and info.warnings:
        return Outcome(FAIL, subject, "loads", f"{label}: {'; '.join(info.warnings)}")
    if info.status == "loaded":
        what = ", ".join(f"{len(v)} {k}" for k, v in info.registered.items()) or "no entries"
        if info.commands:
            what += f", commands: {' '.join(info.commands)}"
        return Outcome(PASS, subject, "loads", f"{label}: {what}")
    if info.status in ("skipped", "blocked"):
        why = "ZOO_LOAD_PLUGINS" if info.status == "skipped" else "ZOO_BLOCK_PLUGINS"
        return Outcome(SKIP, subject, "loads", f"{label}: {info.status} by {why}")
    return Outcome(FAIL, subject, "loads", f"{label}: {info.status}: {info.error}")


def check_command(info: PluginInfo, name: str) -> Outcome:
    """``zoo NAME --help`` renders: a command that cannot say what it does is broken."""
    import click

    subject = f"command {name}"
    command = get_zoo().commands[name][1]
    try:
        with click.Context(command, info_name=name) as ctx:
            help_text = command.get_help(ctx)
    except Exception as exc:
        return Outcome(FAIL, subject, "help", error_text(exc))
    return Outcome(
        PASS, subject, "help", f"'zoo {name} --help' renders ({len(help_text.splitlines())} lines)"
    )


def check_listing(info: PluginInfo) -> Outcome:
    """Listing the plugin's entries in a fresh interpreter must not import torch."""
    subject = f"plugin {info.name}"
    found = installed().get(info.name)
    loaded = get_zoo().pm.get_plugin(info.name)
    if found is not None and found[1].module == info.module:
        env_plugins, module = info.name, ""
    elif (
        isinstance(loaded, ModuleType)
        and loaded.__name__ == info.module
        and getattr(loaded, "__file__", None)
    ):
        env_plugins, module = "", info.module
    else:
        why = "neither an installed plugin nor an importable module: it cannot be listed in a new process"
        return Outcome(SKIP, subject, "listing", why)
    env = dict(os.environ)
    env["ZOO_LOAD_PLUGINS"] = env_plugins
    env.pop("ZOO_BLOCK_PLUGINS", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.run(
        [sys.executable, "-m", "zoo_core.author.contract.listing", info.name, module],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        err = proc.stderr.strip().splitlines()
        why = f"listing in a new process failed: {err[-1] if err else proc.returncode}"
        return Outcome(FAIL, subject, "listing", why)
    if result["status"] != "loaded":
        why = f"in a new process the plugin is {result['status']}: {result['error']}"
        return Outcome(FAIL, subject, "listing", why)
    if result["torch"]:
        where = f" (first from {result['by']})" if result["by"] else ""
        return Outcome(
            FAIL,
            subject,
            "listing",
            f"loading the plugin and listing its entries imports torch{where}; import torch only in "
            "the modules your 'module:attr' factories name",
        )
    return Outcome(PASS, subject, "listing", f"its {result['entries']} entries list without importing torch")
