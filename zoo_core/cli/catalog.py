"""What is installed: ``zoo list``, ``zoo info`` and ``zoo plugins`` (none of them imports torch)."""

from __future__ import annotations

from typing import Any

import click

from zoo_core.cli.app import cli, complete, echo_json
from zoo_core.plugin.discovery import get_zoo
from zoo_core.plugin.errors import ZooError
from zoo_core.plugin.registry import KINDS, PLURAL, Entry, expectation, suggest
from zoo_core.plugin.text import table

KIND_WORDS = {**{k: k for k in KINDS}, **{PLURAL[k]: k for k in KINDS}}


@cli.command("list")
@click.argument("words", nargs=-1)
@click.option("--plugin", "plugin", metavar="NAME", help="Only entries of this plugin.")
@click.option(
    "--tag", "tags", metavar="WORD", multiple=True, help="Only entries with this tag (repeat: all of them)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(words: tuple[str, ...], plugin: str | None, tags: tuple[str, ...], as_json: bool) -> None:
    """List entries: zoo list [KIND] [PATTERN...], e.g. 'zoo list models rnn*'."""
    kinds = list(KINDS)
    patterns = list(words)
    if patterns and patterns[0] in KIND_WORDS:
        kinds = [KIND_WORDS[patterns.pop(0)]]
    zoo = get_zoo()
    if plugin is not None and plugin not in zoo.plugins:
        raise ZooError(f"no plugin named {plugin!r}; see 'zoo plugins'")
    entries = [e for k in kinds for e in zoo.registries[k].list(*patterns, plugin=plugin)]
    entries = [e for e in entries if set(tags) <= set(e.tags)]
    if as_json:
        echo_json([e.to_dict() for e in entries])
        return
    if not entries:
        click.echo("nothing matches" + (f" {' '.join(patterns)}" if patterns else ""), err=True)
        return
    rows = [[e.name, e.kind, e.plugin, e.lesson, e.summary] for e in entries]
    click.echo(table(rows, ["NAME", "KIND", "PLUGIN", "LESSON", "SUMMARY"]))


def _entries_named(name: str, kind: str | None) -> list[Entry]:
    zoo = get_zoo()
    if kind:
        return [zoo.registries[KIND_WORDS[kind]].get(name)]  # its own unknown-name message
    found = zoo.entries_named(name)
    if not found:
        known = {e.name for k in KINDS for e in zoo.registries[k].list()}
        raise ZooError(f"nothing is registered as '{name}'{suggest(name, known)} (see 'zoo list')")
    return found


def parameter_count(entry: Entry, **overrides: Any) -> int:
    """Trainable parameters of a model built with its defaults (checked as 'zoo train' builds it).

    Built on the meta device first, where weights take no memory and no time to initialize (a
    600M-parameter model counts in a second); a factory that needs real tensors is built on the CPU.
    """
    import torch

    from zoo_core.training.assembly import build_model

    params = entry.params(overrides)
    try:
        with torch.device("meta"):
            model = build_model(entry, params, torch.device("meta"))
    except Exception:  # data-dependent construction: count it the slow way, errors and all
        model = build_model(entry, params, torch.device("cpu"))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@cli.command("info")
@click.argument("name", shell_complete=complete("model"))
@click.option("--kind", type=click.Choice(sorted(KIND_WORDS)), help="Look only in this registry.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info_cmd(name: str, kind: str | None, as_json: bool) -> None:
    """Everything known about an entry: summary, plugin, defaults, recipe, parameter count."""
    entries = _entries_named(name, kind)
    out = []
    for entry in entries:
        data = entry.to_dict()
        if entry.kind == "model":
            data["parameters"] = parameter_count(entry)
        out.append(data)
    if as_json:
        echo_json(out if len(out) > 1 else out[0])
        return
    for i, data in enumerate(out):
        if i:
            click.echo("")
        click.echo(f"{data['name']} ({data['kind']})  {data['summary']}")
        click.echo(f"  plugin:     {data['plugin']} ({data['distribution']} {data['version']})".rstrip())
        if data["lesson"]:
            click.echo(f"  lesson:     {data['lesson']}")
        if data["tags"]:
            click.echo(f"  tags:       {', '.join(data['tags'])}")
        click.echo(f"  qualified:  {data['qualname']}")
        click.echo(f"  factory:    {data['factory']}")
        if data["kind"] == "model":
            click.echo(f"  parameters: {data['parameters']:,}")
            for part in ("dataset", "optimizer", "trainer"):
                click.echo(f"  {part + ':':<11} {data[part] or '-'}")
            if data["expects"]:
                click.echo(f"  expects:    {expectation(data['expects'])} (zoo check --train measures it)")
        if data.get("checked_as"):
            click.echo(
                f"  checked as: {data['plugin']}:{data['checked_as']} (by 'zoo check {data['plugin']}')"
            )
        if data.get("lr") is not None:
            click.echo(f"  lr:         {data['lr']:g} (when a run switches to it without --lr)")
        for key, value in data["defaults"].items():
            click.echo(f"  setting     {key} = {value!r}")
        for key, value in data.get("recipe", {}).items():
            click.echo(f"  recipe      {key} = {value!r}")


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_cmd(as_json: bool) -> None:
    """Installed plugins: version, what each registered, and whether it loaded."""
    infos = sorted(get_zoo().plugins.values(), key=lambda p: p.name)
    if as_json:
        echo_json([p.to_dict() for p in infos])
        return
    rows = []
    for p in infos:
        what = ", ".join(f"{len(v)} {k}" for k, v in p.registered.items())
        if p.commands:
            what = ", ".join(filter(None, [what, f"commands: {' '.join(p.commands)}"]))
        rows.append([p.name, f"{p.distribution} {p.version}".strip(), p.status, p.error or what])
    click.echo(table(rows, ["PLUGIN", "PACKAGE", "STATUS", "REGISTERED / ERROR"]))
