"""``zoo sweep NAME --trials N --search KEY=RANGE ... --out DIR``: zoo train's flags fix the rest.

Only click (and zoo's options) are imported here; Optuna and torch when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import zoo_core

#: zoo train's options a sweep has its own of (--out, --direction), or that mean one run; --set
#: cuda_graphs=false stands for --no-cuda-graphs
NOT_FOR_SWEEPS = (
    "out",
    "resume",
    "nproc",
    "timeout",
    "print_config",
    "as_json",
    "quiet",
    "mode",
    "no_cuda_graphs",
)


@zoo_core.train_options(*NOT_FOR_SWEEPS)
@click.command("sweep")
@click.argument("name")
@click.option(
    "--trials", type=click.IntRange(min=1), required=True, help="Trials the study should have in all."
)
@click.option(
    "--search",
    "search",
    multiple=True,
    metavar="KEY=LO..HI[:log][:int]|KEY=a,b,c",
    help="A setting to search (any --set reaches): a range, on a log scale, of whole numbers, or a choice.",
)
@click.option(
    "--direction",
    type=click.Choice(["min", "max"]),
    default=None,
    help="Minimize or maximize [from the metric].",
)
@click.option(
    "--sampler",
    type=click.Choice(["tpe", "random"]),
    default="tpe",
    show_default=True,
    help="How trials pick values.",
)
@click.option(
    "--pruner",
    type=click.Choice(["median", "none"]),
    default="median",
    show_default=True,
    help="Stop trials behind the others' median at the same evaluation.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The sweep folder: a run folder per trial and the summary.",
)
@click.option(
    "--storage",
    default=None,
    metavar="URL",
    help="The study's database, shared by workers [sqlite:///OUT/study.db].",
)
@click.option(
    "--study", "study", default=None, metavar="NAME", help="The study's name in --storage [the model's name]."
)
@click.option(
    "--n-jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Trials at once in this process (threads).",
)
def sweep(
    name: str,
    trials: int,
    search: tuple[str, ...],
    direction: str | None,
    sampler: str,
    pruner: str,
    out: Path,
    storage: str | None,
    study: str | None,
    n_jobs: int,
    **options: Any,
) -> None:
    """Search NAME's settings with Optuna: every trial a run folder OUT/trial-NNNN, then a summary.

    The objective is the monitored metric's best value (--monitor; eval_loss or the trainer's own
    by default); runs evaluate 10 times so that trials behind the others are pruned. Other workers
    given the same --storage and --study (and --out) share the study; the same command again
    resumes it. Seeds: --seed seeds every trial's run and the sampler.

    \b
    zoo sweep regression --trials 30 --search lr=1e-3..1:log --search n_hidden=4..64:int --out sweeps/reg
    zoo sweep regression --trials 20 --search optimizer=sgd,adam --steps 100 --out sweeps/opt
    """
    from zoo_plugins.sweep.space import parse_all
    from zoo_plugins.sweep.study import Sweep, optuna_module

    params = parse_all(search)
    optuna = optuna_module()
    if n_jobs > 1:
        import os

        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // n_jobs))  # threads share the cores
    Sweep(
        model=name,
        params=params,
        out=out,
        trials=trials,
        options=options,
        direction=direction,
        sampler=sampler,
        storage=storage,
        study=study,
        n_jobs=n_jobs,
        pruner=optuna.pruners.NopPruner() if pruner == "none" else None,
        say=click.echo,
    ).run()
