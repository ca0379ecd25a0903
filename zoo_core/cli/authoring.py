"""For plugin authors: ``zoo check`` and ``zoo new-plugin``."""

from __future__ import annotations

import click

from zoo_core.cli.app import cli, echo_json


@cli.command("check")
@click.argument("targets", nargs=-1, required=True, metavar="PLUGIN_OR_ENTRY...")
@click.option(
    "--steps", type=click.IntRange(2, 100_000), default=20, show_default=True, help="CPU training steps."
)
@click.option("--data-root", default=None, help="Where datasets that need files look for them.")
@click.option(
    "--train", is_flag=True, help="Also train each model's full recipe and compare it with its expects."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def check_cmd(
    ctx: click.Context,
    targets: tuple[str, ...],
    steps: int,
    data_root: str | None,
    train: bool,
    as_json: bool,
) -> None:
    """Check that a plugin's entries keep zoo's contract (a PASS/FAIL line per check).

    Each model must build with its defaults, take a batch of its default dataset, survive a
    safetensors round trip, move its weights and lower its loss on a fixed batch in a few CPU
    steps, and reload for 'zoo eval'; each optimizer must descend on a linear regression; every
    entry needs complete metadata; every register_* function needs @hookimpl; listing the plugin
    must not import torch. TARGET is a plugin
    name, or an entry's 'plugin:name' or name. Exit status 1 when a check fails. With --train,
    each model trains its full recipe on the CPU and its metrics must meet what its registration
    declares (expects=); a table of model, expected, measured, time and result ends the report.
    """
    from zoo_core.author.contract import plan, run_checks, subject_of

    width = max(len(subject_of(kind, item)) for kind, item in plan(targets))
    report = run_checks(
        targets,
        steps=steps,
        data_root=data_root,
        train=train,
        on_outcome=None if as_json else lambda o: click.echo(o.line(width)),
    )
    if as_json:
        echo_json(report.to_dict())
    else:
        if report.trained:
            click.echo(report.table())
        click.echo(report.summary())
    if not report.ok:
        ctx.exit(1)


@cli.command("new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write it [./zoo-NAME].",
)
def new_plugin_cmd(name: str, directory: str | None) -> None:
    """Write a ready plugin package NAME: pyproject.toml, a model, a dataset, tests and a README."""
    from zoo_core.author.scaffold import new_plugin

    root, files = new_plugin(name, directory)
    click.echo(f"wrote {len(files)} files to {root}:")
    for path in files:
        click.echo(f"  {path.relative_to(root)}")
    click.echo(
        f"next: cd {root} && pip install -e . && zoo check {name} && pytest  (see docs/writing-a-plugin.md)"
    )
