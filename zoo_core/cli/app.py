"""The ``zoo`` command line: list, inspect, train, evaluate and compare what plugins register."""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

import click

import zoo_core
from zoo_core.errors import ZooError, switch
from zoo_core.plugins import get_zoo
from zoo_core.registry import KINDS, PLURAL, Entry, expectation, suggest
from zoo_core.text import table as _table

KIND_WORDS = {**{k: k for k in KINDS}, **{PLURAL[k]: k for k in KINDS}}


def _debug() -> bool:
    return switch("ZOO_DEBUG")


def _complete(kind: str) -> Any:
    """Shell completion of registry names (``plugin:name`` included)."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
        names: set[str] = set()
        for entry in get_zoo().registries[kind].list():
            names.update((entry.name, entry.qualname))
        return sorted(n for n in names if n.startswith(incomplete))

    return complete


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


class ZooGroup(click.Group):
    """The top-level group: core commands plus the commands plugins add (never replacing ours)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(get_zoo().commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        found = get_zoo().commands.get(name)
        return found[1] if found else None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZooError as exc:
            if _debug():
                traceback.print_exc()
            click.echo(f"zoo: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except EOFError as exc:  # click would turn it into a bare "Aborted!": keep what happened
            raise RuntimeError(f"unexpected end of data ({exc or 'EOFError'})") from exc


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(zoo_core.__version__, "--version", prog_name="zoo")
@click.option("--debug", is_flag=True, help="Show full tracebacks (also ZOO_DEBUG=1).")
def cli(debug: bool) -> None:
    """zoo: the classic PyTorch lessons as ready-to-train models, and a home for your own.

    \b
    zoo list                 what the installed plugins offer
    zoo train regression     train a lesson with its recipe
    zoo runs                 what you have trained
    zoo predict RUN INPUT... run it on your own inputs (zoo export: .pt2, ONNX, hub)
    """
    if debug:
        os.environ["ZOO_DEBUG"] = "1"


# -- list / info / plugins ---------------------------------------------------------------------
@cli.command("list")
@click.argument("words", nargs=-1)
@click.option("--plugin", "plugin", metavar="NAME", help="Only entries of this plugin.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(words: tuple[str, ...], plugin: str | None, as_json: bool) -> None:
    """List entries: zoo list [KIND] [PATTERN...], e.g. 'zoo list models rnn*'."""
    kinds = list(KINDS)
    patterns = list(words)
    if patterns and patterns[0] in KIND_WORDS:
        kinds = [KIND_WORDS[patterns.pop(0)]]
    zoo = get_zoo()
    if plugin is not None and plugin not in zoo.plugins:
        raise ZooError(f"no plugin named {plugin!r}; see 'zoo plugins'")
    entries = [e for k in kinds for e in zoo.registries[k].list(*patterns, plugin=plugin)]
    if as_json:
        _echo_json([e.to_dict() for e in entries])
        return
    if not entries:
        click.echo("nothing matches" + (f" {' '.join(patterns)}" if patterns else ""), err=True)
        return
    rows = [[e.name, e.kind, e.plugin, e.lesson, e.summary] for e in entries]
    click.echo(_table(rows, ["NAME", "KIND", "PLUGIN", "LESSON", "SUMMARY"]))


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
    """Trainable parameters of a model built with its defaults (checked as 'zoo train' builds it)."""
    import torch

    from zoo_core.assembly import build_model

    model = build_model(entry, entry.params(overrides), torch.device("cpu"))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@cli.command("info")
@click.argument("name", shell_complete=_complete("model"))
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
        _echo_json(out if len(out) > 1 else out[0])
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
        _echo_json([p.to_dict() for p in infos])
        return
    rows = []
    for p in infos:
        what = ", ".join(f"{len(v)} {k}" for k, v in p.registered.items())
        if p.commands:
            what = ", ".join(filter(None, [what, f"commands: {' '.join(p.commands)}"]))
        rows.append([p.name, f"{p.distribution} {p.version}".strip(), p.status, p.error or what])
    click.echo(_table(rows, ["PLUGIN", "PACKAGE", "STATUS", "REGISTERED / ERROR"]))


# -- train / eval / runs / compare-formats ---------------------------------------------------------
class TrainCommand(click.Command):
    """``zoo train NAME --help`` also lists NAME's own settings with their defaults."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["zoo.args"] = list(args)  # as typed: what the workers of --nproc run again
        if any(a in ("-h", "--help") for a in args):
            ctx.meta["zoo.help_model"], ctx.meta["zoo.help_parts"] = self._named(args)
        return super().parse_args(ctx, args)

    def _named(self, args: list[str]) -> tuple[str | None, dict[str, str]]:
        """The model NAME and the parts (``--optimizer X`` ...) that ``args`` choose, before parsing."""
        with_value = {o for p in self.params if isinstance(p, click.Option) and not p.is_flag for o in p.opts}
        name, parts, rest = None, {}, iter(args)
        for arg in rest:
            flag, eq, value = arg.partition("=")
            if flag in with_value:
                value = value if eq else next(rest, "")
                if flag[2:] in ("dataset", "optimizer", "trainer", "scheduler"):
                    parts[flag[2:]] = value
            elif not arg.startswith("-") and name is None:
                name = arg
        return name, parts

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        name = ctx.meta.get("zoo.help_model")
        if not name:
            return
        try:
            from zoo_core.config import resolve

            config = resolve(name, **ctx.meta.get("zoo.help_parts", {}))
        except ZooError as exc:
            formatter.write_paragraph()
            formatter.write_text(f"({exc})")
            return
        for title, section in (
            ("model", "model"),
            ("dataset " + config.dataset, "dataset"),
            ("trainer " + config.trainer, "trainer"),
            ("optimizer " + config.optimizer, "optimizer"),
            ("scheduler " + config.scheduler, "scheduler"),
            ("loop", "loop"),
        ):
            values = config.section(section)
            if values:
                with formatter.section(f"Settings of {config.model}: {title} (--set KEY=VALUE)"):
                    formatter.write_dl([(k, repr(v)) for k, v in values.items()])


@cli.command("train", cls=TrainCommand)
@click.argument("name", required=False, shell_complete=_complete("model"))
@click.option("--device", default=None, metavar="auto|cpu|cuda|cuda:N|mps", help="Where to train [auto].")
@click.option("--epochs", type=int, default=None, help="Passes over the training data.")
@click.option("--steps", type=int, default=None, help="Optimizer steps (instead of --epochs).")
@click.option("--batch-size", type=int, default=None, help="Samples per step.")
@click.option("--lr", type=float, default=None, help="Learning rate.")
@click.option("--optimizer", default=None, shell_complete=_complete("optimizer"), help="Optimizer entry.")
@click.option("--dataset", default=None, shell_complete=_complete("dataset"), help="Dataset entry.")
@click.option("--trainer", default=None, shell_complete=_complete("trainer"), help="Trainer entry.")
@click.option("--seed", type=int, default=None, help="One seed for torch, numpy, random and loaders.")
@click.option(
    "--scheduler", default=None, shell_complete=_complete("scheduler"), help="Learning-rate schedule entry."
)
@click.option(
    "--precision",
    type=click.Choice(["32-true", "bf16-mixed", "16-mixed"]),
    default=None,
    help="Autocast the forward pass (16-mixed: CUDA, with a GradScaler) [32-true].",
)
@click.option(
    "--grad-clip",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="NORM",
    help="Clip the gradient norm.",
)
@click.option(
    "--accumulate",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Micro-batches per optimizer step.",
)
@click.option(
    "--compile",
    "compile",
    is_flag=True,
    default=None,
    help="torch.compile the model (--set compile_mode=...).",
)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override any setting (repeatable).")
@click.option(
    "--out", type=click.Path(file_okay=False), default=None, help="Run folder (must be new or empty)."
)
@click.option("--data-root", default=None, help="Where datasets that need files look for them.")
@click.option(
    "--save-format",
    type=click.Choice(["safetensors", "pickle", "both"]),
    default="safetensors",
    show_default=True,
    help="pickle adds the whole-model torch.save file (model.pt), for comparison.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Settings from a TOML or JSON file (a run's config.json repeats it); flags apply on top.",
)
@click.option("--print-config", is_flag=True, help="Print the resolved config as TOML and exit.")
@click.option(
    "--monitor", default=None, metavar="METRIC", help="Evaluation metric that picks best.safetensors."
)
@click.option(
    "--mode",
    type=click.Choice(["auto", "min", "max"]),
    default=None,
    help="Whether --monitor should go down or up.",
)
@click.option(
    "--patience",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Stop after N evaluations without improvement.",
)
@click.option(
    "--logger",
    type=click.Choice(["csv", "tensorboard"]),
    default=None,
    help="tensorboard adds event files [csv].",
)
@click.option("--resume", default=None, metavar="RUN", help="Continue a run; --steps/--epochs may extend it.")
@click.option(
    "--no-cuda-graphs", is_flag=True, help="On CUDA, run every step eagerly (= --set cuda_graphs=false)."
)
@click.option(
    "--nproc",
    type=click.IntRange(min=1),
    default=None,
    help="Train data-parallel in N worker processes (torch.distributed.run); --batch-size is the global batch.",
)
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    default=None,
    metavar="SECONDS",
    help="With several workers: how long one may stay silent before the job ends [600].",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def train_cmd(name: str | None, as_json: bool, quiet: bool, **options: Any) -> None:
    """Train NAME with its recipe; flags and --set override it. 'zoo train NAME --help' lists its settings."""
    from zoo_core import distributed
    from zoo_core.training import train_model

    if options.pop("no_cuda_graphs"):
        options["sets"] = (*options["sets"], "cuda_graphs=false")
    distributed.set_timeout(options.pop("timeout"))
    nproc = options.pop("nproc")
    if options.pop("print_config"):
        from zoo_core.config import to_toml
        from zoo_core.training import configure

        config, _, _ = configure(name, **options)
        click.echo(to_toml(config), nl=False)
        return
    if nproc is not None:
        from zoo_core.launcher import launch

        args = click.get_current_context().meta["zoo.args"]
        launch(args, nproc, {"model": name, **options})  # the workers print; worker 0 the summary
        return
    result = train_model(name, quiet=quiet or as_json, **options)
    if not distributed.is_main():
        return
    if as_json:
        _echo_json(result.to_dict())
        return
    if not quiet:
        shown = "  ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.metrics.items()
        )
        compiled = f", {result.compile_seconds:.1f}s of it compiling" if result.compile_seconds else ""
        click.echo(
            f"done: {result.step} steps in {result.seconds:.1f}s wall ({result.loop_seconds:.1f}s in the loop"
            f"{compiled}) on {result.device}  {shown}"
        )
        click.echo(f"saved: {result.run_dir}")


@cli.command("eval")
@click.argument("run", metavar="RUN_OR_FILE")
@click.option("--device", default="auto", show_default=True, help="Where to evaluate.")
@click.option("--data-root", default=None, help="Where datasets that need files look for them.")
@click.option("--trust-pickle", is_flag=True, help="Allow loading a .pt pickle (it can run arbitrary code).")
@click.option("--best", is_flag=True, help="The run's best.safetensors (kept with --set eval_every=N).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def eval_cmd(
    run: str, device: str, data_root: str | None, trust_pickle: bool, best: bool, as_json: bool
) -> None:
    """Rebuild a trained model from model.safetensors and report the lesson's metrics.

    RUN_OR_FILE is a run folder, a model name, a weights file, a hub folder or hf://org/name.
    """
    from zoo_core.hub import SCHEME, weights_of
    from zoo_core.training import evaluate_run

    if run.startswith(SCHEME):
        run = str(weights_of(run))  # downloaded (or from the cache) and checked
    result = evaluate_run(run, device=device, data_root=data_root, trust_pickle=trust_pickle, best=best)
    if as_json:
        _echo_json(result)
        return
    click.echo(f"{result['model']} from {result['source']} on {result['device']}")
    for key, value in result["metrics"].items():
        click.echo(f"  {key:<20} {value:.6g}" if isinstance(value, float) else f"  {key:<20} {value}")


@cli.command("runs")
@click.argument("name", required=False, shell_complete=_complete("model"))
@click.option(
    "--status",
    type=click.Choice(["running", "finished", "interrupted", "failed"]),
    default=None,
    help="Only runs that stand so.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def runs_cmd(name: str | None, status: str | None, as_json: bool) -> None:
    """Every run (under ./runs or $ZOO_RUNS_DIR, and those saved elsewhere with --out)."""
    from zoo_core.runs import list_runs, runs_root

    runs = list_runs(name, status=status)
    if as_json:
        _echo_json(runs)
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
        _table(
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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (no figure).")
def compare_cmd(runs: tuple[str, ...], metric: str | None, out: str, as_json: bool) -> None:
    """Overlay runs' curves in one figure and tabulate their final and best metrics."""
    from zoo_core.compare import as_rows, compare_runs, draw

    report = compare_runs(runs, metric)
    if as_json:
        _echo_json(
            {**report, "runs": [{k: v for k, v in r.items() if k != "curves"} for r in report["runs"]]}
        )
        return
    rows, header = as_rows(report)
    click.echo(_table(rows, header))
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
    from zoo_core.formats import as_table, compare_formats

    rows = compare_formats(run, repeat=repeat, exports=exports)
    if as_json:
        _echo_json(rows)
        return
    click.echo(as_table(rows))
    click.echo(f"(median of {repeat}; loads are from the page cache)")


# -- use a trained model: predict / export / push ----------------------------------------------------
@cli.command("predict", context_settings={"ignore_unknown_options": True})
@click.argument("run", metavar="RUN")
@click.argument("inputs", nargs=-1, metavar="[INPUT]...")
@click.option(
    "--top-k", type=click.IntRange(min=1), default=3, show_default=True, help="Classes shown per input."
)
@click.option(
    "--out", type=click.Path(file_okay=False), default=None, help="Folder for files a model writes [.]."
)
@click.option("--device", default="cpu", show_default=True, help="Where to run the model.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def predict_cmd(
    run: str, inputs: tuple[str, ...], top_k: int, out: str | None, device: str, as_json: bool
) -> None:
    """Run a trained model on your own inputs, read the way its lesson says.

    RUN is a run folder, a model name (its latest run), a .safetensors file, a hub folder or
    hf://org/name. INPUTs: numbers for the regression lessons (0.5 -0.3), x,y points for
    classification, digit images for the MNIST models (--top-k), images for the autoencoder
    (reconstructions go to --out); any other model reads .npy, .safetensors or .json tensors.
    """
    from zoo_core.devices import pick_device
    from zoo_core.predict import predict

    unknown = [a for a in inputs if a.startswith("--")]
    if unknown:
        raise ZooError(f"no such option: {unknown[0]} (see 'zoo predict --help')")
    dev, _ = pick_device(device)
    result = predict(run, inputs, top_k=top_k, out=out, device=str(dev))
    if as_json:
        _echo_json({"model": result.model, "source": result.source, "predictions": result.records})
        return
    click.echo(result.text)


@cli.command("export")
@click.argument("run", metavar="RUN")
@click.option(
    "--format", "fmt", type=click.Choice(["pt2", "onnx", "hub"]), required=True, help="What to write."
)
@click.option(
    "--out", type=click.Path(), default=None, help="File (pt2, onnx) or folder (hub) [beside the weights]."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def export_cmd(run: str, fmt: str, out: str | None, as_json: bool) -> None:
    """Export a trained model: torch.export (.pt2), ONNX, or a Hugging Face model folder (hub).

    pt2 and onnx are checked on the spot: the saved program runs the model's example input and
    must match PyTorch within 1e-5 + 1e-4 * |y|, or nothing is written. ONNX needs
    pip install 'zoo[onnx]'.
    """
    if fmt == "hub":
        from zoo_core.hub import write_folder

        folder = write_folder(run, out)
        if as_json:
            _echo_json(
                {"format": "hub", "path": str(folder), "files": sorted(p.name for p in folder.iterdir())}
            )
            return
        click.echo(f"wrote {folder}: {', '.join(sorted(p.name for p in folder.iterdir()))}")
        click.echo(f"load it: zoo eval {folder}, or zoo_core.load_model({str(folder)!r}); share it: zoo push")
        return
    from zoo_core.export import export

    result = export(run, fmt, out)
    if as_json:
        _echo_json(result.to_dict())
        return
    batch = "dynamic batch" if result.dynamic_batch else "fixed batch"
    part = f" ({result.part})" if result.part else ""
    click.echo(f"exported {result.model}{part} to {result.path} ({result.bytes:,} bytes, {batch})")
    click.echo(
        f"verified: largest difference from PyTorch {result.max_difference:.3g} on batches of "
        f"{' and '.join(map(str, result.batches))} (tolerance {result.tolerance})"
    )
    how = {
        "pt2": f"torch.export.load({result.path!r}).module()(x)",
        "onnx": f"s = onnxruntime.InferenceSession({result.path!r}); s.run(None, {{s.get_inputs()[0].name: x}})",
    }
    click.echo(f"load it: {how[fmt]}")


@cli.command("push")
@click.argument("run", metavar="RUN")
@click.argument("repo_id", metavar="ORG/NAME")
@click.option("--private", is_flag=True, help="Create the repository as private.")
def push_cmd(run: str, repo_id: str, private: bool) -> None:
    """Upload a run to the Hugging Face Hub as a model repo (needs pip install 'zoo[hub]' and a login)."""
    from zoo_core.hub import push

    url = push(run, repo_id, private=private)
    click.echo(f"pushed {run} to {url}; load it: zoo eval hf://{repo_id}")


# -- plugin authors: check / new-plugin ------------------------------------------------------------
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
    from zoo_core.contract import plan, run_checks, subject_of

    width = max(len(subject_of(kind, item)) for kind, item in plan(targets))
    report = run_checks(
        targets,
        steps=steps,
        data_root=data_root,
        train=train,
        on_outcome=None if as_json else lambda o: click.echo(o.line(width)),
    )
    if as_json:
        _echo_json(report.to_dict())
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
    from zoo_core.scaffold import new_plugin

    root, files = new_plugin(name, directory)
    click.echo(f"wrote {len(files)} files to {root}:")
    for path in files:
        click.echo(f"  {path.relative_to(root)}")
    click.echo(
        f"next: cd {root} && pip install -e . && zoo check {name} && pytest  "
        "(see CONTRIBUTING.md, 'Writing a plugin')"
    )


def main() -> None:
    """Console entry point: one-line errors, exit 2; tracebacks only with --debug or ZOO_DEBUG=1."""
    if "--debug" in sys.argv[1:]:
        os.environ["ZOO_DEBUG"] = "1"
    try:
        cli.main(prog_name="zoo")
    except ZooError as exc:  # raised while building the command list (e.g. strict plugin mode)
        if _debug():
            traceback.print_exc()
        click.echo(f"zoo: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if _debug():
            raise
        click.echo(
            f"zoo: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True
        )
        sys.exit(1)
