"""Looking back at runs: ``zoo eval``, ``zoo runs``, ``zoo compare`` and ``zoo compare-formats``."""

from __future__ import annotations

import click

from zoo_core.cli.app import cli, complete, echo_json
from zoo_core.plugin.text import table
from zoo_core.store.runs import STATUSES


@cli.command("eval")
@click.argument("run", metavar="RUN_OR_FILE")
@click.option("--device", default="auto", show_default=True, help="Where to evaluate.")
@click.option("--data-root", default=None, help="Where datasets that need files look for them.")
@click.option("--trust-pickle", is_flag=True, help="Allow loading a .pt pickle (it can run arbitrary code).")
@click.option("--best", is_flag=True, help="The run's best.safetensors (kept with --eval-every N|epoch).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def eval_cmd(
    run: str, device: str, data_root: str | None, trust_pickle: bool, best: bool, as_json: bool
) -> None:
    """Rebuild a trained model from model.safetensors and report the lesson's metrics.

    RUN_OR_FILE is a run folder, a model name, a weights file, a hub folder or hf://org/name.
    """
    from zoo_core.serve.evaluation import evaluate_run
    from zoo_core.serve.trained import SCHEME, weights_of

    if run.startswith(SCHEME):
        run = str(weights_of(run))  # downloaded (or from the cache) and checked
    result = evaluate_run(run, device=device, data_root=data_root, trust_pickle=trust_pickle, best=best)
    if as_json:
        echo_json(result)
        return
    click.echo(f"{result['model']} from {result['source']} on {result['device']}")
    if result["data_root"] is not None:
        click.echo(f"  data from {result['data_root']}" + ("" if data_root else " (where the run trained)"))
    for key, value in result["metrics"].items():
        click.echo(f"  {key:<20} {value:.6g}" if isinstance(value, float) else f"  {key:<20} {value}")


@cli.command("runs")
@click.argument("name", required=False, shell_complete=complete("model"))
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    default=None,
    help="Only runs that stand so.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def runs_cmd(name: str | None, status: str | None, as_json: bool) -> None:
    """Every run (under ./runs or $ZOO_RUNS_DIR, and those saved elsewhere with --out)."""
    from zoo_core.store.runs import list_runs, runs_root

    runs = list_runs(name, status=status)
    if as_json:
        echo_json(runs)
        return
    if not runs:
        click.echo(f"no runs under {runs_root()}" + (f" for {name}" if name else ""), err=True)
        return
    rows = []
    for r in runs:
        metrics = "  ".join(f"{k}={v:.4g}" for k, v in list(r["metrics"].items())[:3] if isinstance(v, float))
        seconds = f"{r['seconds']:.1f}s" if isinstance(r["seconds"], (int, float)) else "-"
        short = lambda name: (name or "-").rpartition(":")[2]  # noqa: E731
        rows.append(
            [
                r["run"],
                short(r["model"]),
                short(r["optimizer"]),
                short(r["scheduler"]),
                r["precision"],
                str(r["step"] or "-"),
                r["status"],
                seconds,
                metrics,
            ]
        )
    click.echo(
        table(
            rows, ["RUN", "MODEL", "OPTIMIZER", "SCHEDULER", "PRECISION", "STEP", "STATUS", "TIME", "METRICS"]
        )
    )


@cli.command("compare")
@click.argument("runs", nargs=-1, required=True, metavar="RUN RUN...")
@click.option(
    "--metric", default=None, help="The evaluation metric to compare [eval_loss, or one all runs have]."
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False),
    default="compare.png",
    show_default=True,
    help="The figure.",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="RUN=TEXT",
    help="Call RUN so in the table and the figure (repeatable) [the settings that differ].",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (no figure).")
def compare_cmd(
    runs: tuple[str, ...], metric: str | None, out: str, labels: tuple[str, ...], as_json: bool
) -> None:
    """Overlay runs' curves in one figure and tabulate their final and best metrics."""
    import os
    from pathlib import Path

    from zoo_core.config.resolver import split_assignments
    from zoo_core.plugin.errors import ZooError
    from zoo_core.serve.compare import as_rows, compare_runs, draw

    folder = Path(out).parent
    if not as_json and not (folder.is_dir() and os.access(folder, os.W_OK)):
        raise ZooError(f"--out {out}: the folder {folder} does not exist or is not writable")
    named = dict(split_assignments(labels, "--label", "RUN=TEXT, for example --label runs/sgd=baseline"))
    report = compare_runs(runs, metric, named)
    if as_json:
        echo_json({**report, "runs": [{k: v for k, v in r.items() if k != "curves"} for r in report["runs"]]})
        return
    rows, header = as_rows(report)
    click.echo(table(rows, header))
    for line in report["missing"]:
        click.echo(f"note: {line}")
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        click.echo("figure skipped: matplotlib is not installed (pip install matplotlib)")
        return
    click.echo(f"figure: {draw(report, out)}")


@cli.command("compare-formats")
@click.argument("run", metavar="RUN")
@click.option(
    "--repeat", type=click.IntRange(1, 100), default=7, show_default=True, help="Timings per figure."
)
@click.option(
    "--exports/--no-exports", default=True, show_default=True, help="Include .pt2 and ONNX (seconds each)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def compare_formats_cmd(run: str, repeat: int, exports: bool, as_json: bool) -> None:
    """safetensors vs the pickles vs the exports (.pt2, ONNX): size, speed, fidelity, safety.

    Each export is made once (its SAVE ms is that one export, checked against PyTorch); loads are
    timed --repeat times.
    """
    from zoo_core.serve.formats import compare_formats, formats_table

    rows = compare_formats(run, repeat=repeat, exports=exports)
    if as_json:
        echo_json(rows)
        return
    click.echo(formats_table(rows))
    click.echo(f"(median of {repeat}; loads are from the page cache)")
