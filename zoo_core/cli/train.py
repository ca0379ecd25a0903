"""``zoo train``, whose ``--help`` also lists the named model's own settings."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import click

from zoo_core.cli.app import cli, complete, echo_json
from zoo_core.config import settings
from zoo_core.plugin.errors import ZooError


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
            from zoo_core.config.resolver import resolve

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
                    docs = settings.docs() if section == "loop" else {}
                    formatter.write_dl(
                        [(k, f"{v!r}  # {docs[k]}" if k in docs else repr(v)) for k, v in values.items()]
                    )


def _eval_every(value: str | None) -> int | str | None:
    """``--eval-every N|epoch`` as the loop setting takes it."""
    if value is None:
        return None
    word = value.strip().lower()
    if word == "epoch" or (word.isdigit() and int(word) >= 0):
        return word if word == "epoch" else int(word)
    raise click.BadParameter(f"{value!r}: give a number of steps (0: at the end only) or epoch")


@cli.command("train", cls=TrainCommand)
@click.argument("name", required=False, shell_complete=complete("model"))
@click.option("--device", default=None, metavar="auto|cpu|cuda|cuda:N|mps", help="Where to train [auto].")
@click.option("--epochs", type=int, default=None, help="Passes over the training data.")
@click.option("--steps", type=int, default=None, help="Optimizer steps (instead of --epochs).")
@click.option("--batch-size", type=int, default=None, help="Samples per step.")
@click.option("--lr", type=float, default=None, help="Learning rate.")
@click.option("--optimizer", default=None, shell_complete=complete("optimizer"), help="Optimizer entry.")
@click.option("--dataset", default=None, shell_complete=complete("dataset"), help="Dataset entry.")
@click.option("--trainer", default=None, shell_complete=complete("trainer"), help="Trainer entry.")
@click.option("--seed", type=int, default=None, help="One seed for torch, numpy, random and loaders.")
@click.option(
    "--scheduler", default=None, shell_complete=complete("scheduler"), help="Learning-rate schedule entry."
)
@click.option(
    "--precision",
    type=click.Choice(settings.PRECISIONS),
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
    type=click.Choice(settings.SAVE_FORMATS),
    default=None,
    help="pickle adds the whole-model torch.save file (model.pt), for comparison [safetensors; "
    "a resumed run keeps its own unless given].",
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
    "--eval-every",
    default=None,
    metavar="N|epoch",
    callback=lambda ctx, param, value: _eval_every(value),
    help="Evaluate every N steps, or every epoch (0: at the end only) [epoch for an --epochs run].",
)
@click.option(
    "--monitor", default=None, metavar="METRIC", help="Evaluation metric that picks best.safetensors."
)
@click.option(
    "--mode",
    type=click.Choice(settings.MODES),
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
    type=click.Choice(settings.LOGGERS),
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
    from zoo_core.training.loop import train_model
    from zoo_core.training.parallel import worker as distributed

    if options.pop("no_cuda_graphs"):
        options["sets"] = (*options["sets"], "cuda_graphs=false")
    timeout = options.pop("timeout")
    nproc = options.pop("nproc")
    if options.pop("print_config"):
        from zoo_core.config.files import to_toml
        from zoo_core.training.loop import configure

        config, _ = configure(name, **options)
        unsized = _size_from_data(config)
        click.echo(to_toml(config), nl=False)
        if unsized:
            click.echo(f"# {unsized}")
        return
    if nproc is not None:
        from zoo_core.training.parallel.launcher import launch

        args = click.get_current_context().meta["zoo.args"]
        launch(
            args, nproc, {"model": name, **options}, timeout=timeout
        )  # workers print; worker 0 the summary
        return
    result = train_model(name, quiet=quiet or as_json, timeout=timeout, **options)
    if not distributed.is_main():
        return
    if as_json:
        echo_json(result.to_dict())
        return
    if not quiet:
        shown = "  ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.metrics.items()
        )
        compiled = f", {result.compile_seconds:.3g}s of it compiling" if result.compile_seconds else ""
        click.echo(  # three figures: a short loop is 0.042s, not 0.0s
            f"done: {result.step} steps in {result.seconds:.3g}s wall ({result.loop_seconds:.3g}s in the loop"
            f"{compiled}) on {result.device}  {shown}"
        )
        click.echo(f"saved: {result.run_dir}")


def _size_from_data(config: Any) -> str:
    """Apply the settings the run's data imply (``--print-config`` shows them); why not, or ''."""
    from zoo_core.config.resolver import apply_implied, build_dataset
    from zoo_core.plugin.discovery import get_zoo
    from zoo_core.plugin.errors import ZooError, first_line

    zoo = get_zoo()
    try:
        data = build_dataset(
            zoo.datasets.get(config.dataset),
            config.dataset_params,
            seed=config.loop.seed,
            data_root=config.data_root,
        )
    except ZooError as exc:
        return f"the dataset cannot be built here ({first_line(exc)}): the model settings it implies are not shown"
    apply_implied(config, zoo.models.get(config.model), data)
    return ""


def train_options(*without: str) -> Callable[[click.Command], click.Command]:
    """``zoo train``'s options (all but those named in ``without``, by parameter name) added to a
    command, so that a plugin's command that trains runs takes the same flags: ``zoo sweep``."""

    def add(command: click.Command) -> click.Command:
        for param in train_cmd.params:
            if isinstance(param, click.Option) and param.name not in without:
                command.params.append(copy.copy(param))
        return command

    return add
