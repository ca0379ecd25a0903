"""One sweep: an Optuna study whose trials are zoo runs, and the summary its folder keeps.

Each trial trains ``NAME`` with the fixed settings plus the values Optuna picks (as ``--set`` would)
into ``OUT/trial-NNNN``, named by the trial's number, which the study's storage hands out once: so
several processes on one storage never share a folder. The loop reports every in-loop evaluation
to the trial (``on_evaluate``); when the pruner says so, the run stops with status ``pruned``.
"""

from __future__ import annotations

import csv
import io
import math
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

import zoo_core
from zoo_core import Interrupted, RunStopped, ZooError
from zoo_plugins.sweep.space import Param

INSTALL = "zoo sweep needs Optuna: pip install 'zoo[sweep]'"
STUDY_DB = "study.db"  # the default storage, in the sweep folder: a sweep can always be resumed
SUMMARY = "sweep.json"
TABLE = "trials.csv"
FIGURES = ("history.png", "importance.png", "slice.png")
EVALUATIONS = 10  # in-loop evaluations per trial when the run would evaluate only at its end
PARTS = ("dataset", "optimizer", "trainer", "scheduler")  # searched by name, as their flags take them
STATES = {
    "COMPLETE": "finished",
    "PRUNED": "pruned",
    "FAIL": "failed",
    "RUNNING": "running",
    "WAITING": "waiting",
}


class Pruned(RunStopped):
    """The pruner stopped this trial's run: its folder keeps status ``pruned``."""


class TrialFailed(Exception):
    """A trial's run failed (the reason is its first line): the study marks it failed and goes on."""


def optuna_module() -> Any:
    """Optuna, or one line saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise ZooError(INSTALL) from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the sweep prints its own line per trial
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # the figures
    return optuna


@attrs.define
class Sweep:
    """What a ``zoo sweep`` command line asks for."""

    model: str
    params: list[Param]
    out: Path
    trials: int
    options: dict[str, Any] = attrs.field(factory=dict)  # zoo train's options for everything fixed
    direction: str | None = None
    sampler: str = "tpe"
    storage: str | None = None
    study: str | None = None
    n_jobs: int = 1
    pruner: Any = None  # an optuna pruner; None: the median pruner
    say: Callable[[str], None] = print

    def run(self) -> dict[str, Any]:
        """Run trials until the study has ``trials`` of them, then write and return the summary."""
        optuna = optuna_module()
        metric, direction, fixed, steps = self._plan()
        self.out.mkdir(parents=True, exist_ok=True)
        study = self._study(optuna, direction, steps)
        said = study.user_attrs.get("zoo")
        mine = {"model": self.model, "metric": metric, "direction": direction}
        if said is None:
            study.set_user_attr("zoo", mine)
        elif {k: said.get(k) for k in mine} != mine:
            raise ZooError(
                f"study '{study.study_name}' searches {said.get('model')} for {said.get('metric')} "
                f"({said.get('direction')}), not {self.model} for {metric} ({direction}); name another --study"
            )
        have = len(study.get_trials(deepcopy=False))
        if have >= self.trials:
            self.say(
                f"study '{study.study_name}' has {have} trials already (--trials {self.trials}); give more to go on"
            )
        else:
            self.say(
                f"sweep {self.model}: {self.trials - have} more trials of study '{study.study_name}' "
                f"({direction} {metric}) -> {self.out}"
            )
            objective = self._objective(optuna, metric, direction, fixed)

            def enough(study: Any, trial: Any) -> None:
                self.say(_line(trial, metric))
                if len(study.get_trials(deepcopy=False)) >= self.trials:
                    study.stop()  # every worker stops once the study is full

            study.optimize(
                objective,
                n_trials=self.trials - have,
                n_jobs=self.n_jobs,
                catch=(TrialFailed,),
                callbacks=[enough],
            )
        return write_summary(study, self.out, metric, direction, self.say)

    def _plan(self) -> tuple[str, str, dict[str, Any], int]:
        """The metric, its direction, the fixed options every trial trains with and its steps (0:
        epochs); settings that cannot be resolved fail here, before any trial."""
        for param in self.params:
            if self.options.get(param.key) is not None:
                raise ZooError(
                    f"--search {param.key} and --{param.key.replace('_', '-')} are both given; drop one"
                )
        config = zoo_core.configure(self.model, **self.options)
        for param in self.params:  # an unknown setting or a value it refuses: one line now
            probe = param.choices[0] if param.choices else (int(param.low) if param.integer else param.low)
            zoo_core.configure(self.model, **self.chosen(self.options, {param.key: probe}))
        trainer = zoo_core.create_trainer(config.trainer, **config.section("trainer"))
        metric = config.loop.monitor or getattr(trainer, "monitor", None) or "eval_loss"
        direction = self.direction or zoo_core.mode_of(metric, config.loop.mode)
        fixed = {**self.options, "monitor": metric, "mode": direction}
        if not config.loop.evaluates and self.options.get("eval_every") is None:  # pruning needs them
            steps = config.loop.steps
            fixed["eval_every"] = max(1, steps // EVALUATIONS) if steps else "epoch"
        return metric, direction, fixed, config.loop.steps or 0

    @staticmethod
    def chosen(options: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        """``options`` with the trial's ``values``: a part (``optimizer=adam``) as its flag, the
        rest as ``--set KEY=VALUE``."""
        parts = {k: str(v) for k, v in values.items() if k in PARTS}
        sets = [*(options.get("sets") or ()), *(f"{k}={v}" for k, v in values.items() if k not in PARTS)]
        return {**options, **parts, "sets": sets}

    def _study(self, optuna: Any, direction: str, steps: int) -> Any:
        """The study, created or loaded from its storage (many workers share one); the median
        pruner judges no trial in its first quarter, where losses are noisy."""
        median = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=steps // 4)
        url = self.storage or f"sqlite:///{(self.out / STUDY_DB).resolve()}"
        name = self.study or Path(self.model.rpartition(":")[2]).name
        seed = self.options.get("seed")
        samplers = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}
        for attempt in range(1, 6):
            try:
                storage = url
                if url.partition(":")[0].split("+")[0] in ("sqlite", "postgresql", "mysql"):
                    # a worker that died leaves its trial running: others mark it failed after 2 minutes
                    storage = optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=120)
                study = optuna.create_study(
                    storage=storage,
                    study_name=name,
                    direction="minimize" if direction == "min" else "maximize",
                    sampler=samplers[self.sampler](seed=seed),
                    pruner=self.pruner if self.pruner is not None else median,
                    load_if_exists=True,
                )
                break
            except Exception as exc:  # a URL Optuna cannot open, a database it cannot read
                if attempt < 5 and type(exc).__name__ in ("IntegrityError", "OperationalError"):
                    time.sleep(0.2 * attempt)  # workers creating one new database at once: one wins
                    continue
                raise ZooError(f"--storage {url}: {zoo_core.first_line(exc)}") from exc
        wanted = (
            optuna.study.StudyDirection.MINIMIZE
            if direction == "min"
            else optuna.study.StudyDirection.MAXIMIZE
        )
        if study.direction != wanted:
            raise ZooError(
                f"study '{name}' in {url} goes the other way ({study.direction.name.lower()}); name another --study"
            )
        return study

    def _objective(
        self, optuna: Any, metric: str, direction: str, fixed: dict[str, Any]
    ) -> Callable[[Any], float]:
        def objective(trial: Any) -> float:
            values = {p.key: p.suggest(trial) for p in self.params}
            run_dir = self.out / f"trial-{trial.number:04d}"
            trial.set_user_attr("run", str(run_dir))

            def report(step: int, metrics: dict[str, Any]) -> None:
                value = metrics.get(metric)
                if not isinstance(value, (int, float)):
                    return
                trial.report(float(value), step)
                if trial.should_prune():
                    raise Pruned(
                        f"pruned at step {step}: {metric}={value:.4g} is behind the other trials",
                        status="pruned",
                        step=step,
                        seconds=round((datetime.now() - trial.datetime_start).total_seconds(), 3),
                        metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float))},
                    )

            try:
                zoo_core.train(
                    self.model, **self.chosen(fixed, values), out=run_dir, quiet=True, on_evaluate=report
                )
                return best_value(run_dir, metric)
            except Pruned as exc:
                trial.set_user_attr("error", str(exc))
                raise optuna.TrialPruned(str(exc)) from None
            except Interrupted as exc:  # Ctrl-C: the run saved its state; the sweep ends
                trial.set_user_attr("error", "interrupted")
                raise Interrupted(
                    f"sweep interrupted in trial {trial.number} ({run_dir} kept, marked interrupted); "
                    "the same zoo sweep command again continues the study",
                    exc.exit_code - 128,
                ) from exc
            except Exception as exc:
                trial.set_user_attr("error", zoo_core.first_line(exc))
                raise TrialFailed(zoo_core.first_line(exc)) from exc

        return objective


def best_value(run_dir: Path, metric: str) -> float:
    """The run's best ``metric`` (summary.json's ``best``, else its last value): the trial's value."""
    summary = zoo_core.read_json(run_dir / "summary.json")
    best = summary.get("best") if isinstance(summary.get("best"), dict) else {}
    value = best.get("value") if best.get("metric") == metric else None
    if not isinstance(value, (int, float)):
        value = (summary.get("metrics") or {}).get(metric)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise TrialFailed(f"{run_dir}: the run reports no finite {metric}")
    return float(value)


def _line(trial: Any, metric: str) -> str:
    """One trial as the sweep prints it when it ends."""
    state = STATES.get(trial.state.name, trial.state.name.lower())
    shown = "  ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    value = f"{metric}={trial.value:.4g}" if trial.value is not None else trial.user_attrs.get("error", "")
    return f"trial {trial.number} {state}: {value}  {shown}".rstrip()


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def rows(study: Any) -> list[dict[str, Any]]:
    """Every trial of the study: number, status, value, settings, seconds, run folder, why it ended."""
    out = []
    for trial in study.get_trials(deepcopy=False):
        seconds = (
            (trial.datetime_complete - trial.datetime_start).total_seconds()
            if trial.datetime_complete and trial.datetime_start
            else None
        )
        out.append(
            {
                "trial": trial.number,
                "status": STATES.get(trial.state.name, trial.state.name.lower()),
                "value": trial.value,
                "params": dict(trial.params),
                "seconds": round(seconds, 3) if seconds is not None else None,
                "run": trial.user_attrs.get("run"),
                "error": trial.user_attrs.get("error"),
            }
        )
    return out


def write_summary(
    study: Any, out: Path, metric: str, direction: str, say: Callable[[str], None]
) -> dict[str, Any]:
    """``sweep.json`` and ``trials.csv`` (every trial), the figures, and the table printed."""
    trials = rows(study)
    keys = sorted({k for t in trials for k in t["params"]})
    done = [t for t in trials if t["status"] == "finished"]
    best = None
    if done:
        pick = min if direction == "min" else max
        best = pick(done, key=lambda t: t["value"])
    summary = {
        "study": study.study_name,
        "metric": metric,
        "direction": direction,
        "trials": trials,
        "best": best,
        "counts": {s: sum(t["status"] == s for t in trials) for s in sorted({t["status"] for t in trials})},
    }
    summary["figures"] = draw(study, out, metric, say)
    zoo_core.write_json(out / SUMMARY, summary)
    header = ["trial", "status", metric, *keys, "seconds", "run", "error"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for t in trials:
        writer.writerow(
            [
                t["trial"],
                t["status"],
                t["value"],
                *(t["params"].get(k) for k in keys),
                t["seconds"],
                t["run"],
                t["error"] or "",
            ]
        )
    zoo_core.write_text(out / TABLE, buf.getvalue())
    shown = [
        [
            str(t["trial"]),
            t["status"],
            _short(t["value"]) if t["value"] is not None else "-",
            *(_short(t["params"][k]) if k in t["params"] else "-" for k in keys),
            f"{t['seconds']:.1f}s" if t["seconds"] is not None else "-",
            t["run"] or "-",
        ]
        for t in trials
    ]
    say(zoo_core.table(shown, ["TRIAL", "STATUS", metric.upper(), *(k.upper() for k in keys), "TIME", "RUN"]))
    if best is not None:
        settings = "  ".join(f"{k}={_short(v)}" for k, v in best["params"].items())
        say(f"best: trial {best['trial']} {metric}={best['value']:.4g}  {settings}  -> {best['run']}")
    else:
        say("best: none yet (no trial finished)")
    say(f"summary: {out / SUMMARY}, {out / TABLE}" + "".join(f", {out / f}" for f in summary["figures"]))
    return summary


def draw(study: Any, out: Path, metric: str, say: Callable[[str], None]) -> list[str]:
    """Optuna's figures of the study, headless: its history, the settings' importance and a slice."""
    import optuna.visualization.matplotlib as vis

    plt = zoo_core.pyplot()
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not finished:
        return []
    drawn = []
    plots: Sequence[tuple[str, Callable[[], Any]]] = [
        ("history.png", lambda: vis.plot_optimization_history(study, target_name=metric)),
        ("importance.png", lambda: vis.plot_param_importances(study, target_name=metric)),
        ("slice.png", lambda: vis.plot_slice(study, target_name=metric)),
    ]
    for name, plot in plots:
        if name == "importance.png" and (
            len(finished) < 2 or len({k for t in finished for k in t.params}) < 2
        ):
            continue  # one setting, or one trial: nothing to rank
        try:
            with warnings.catch_warnings():  # one trial, or equal values: matplotlib widens the axis itself
                warnings.simplefilter("ignore", UserWarning)
                axes = plot()
        except Exception as exc:  # a study Optuna cannot draw (every value equal ...): said, not fatal
            say(f"note: {name} not drawn ({zoo_core.first_line(exc)})")
            plt.close("all")
            continue
        every = list(axes.flat) if hasattr(axes, "flat") else [axes]
        for ax in every:  # a log axis's minor labels run into each other: the decades say enough
            if ax.get_xscale() == "log":
                ax.xaxis.set_minor_formatter(plt.NullFormatter())
        values = [t.value for t in finished]
        if name == "history.png" and min(values) > 0 and max(values) > 10 * min(values):
            every[0].set_yscale("log")  # values a decade apart: the best ones stay apart too
        fig = every[0].get_figure()
        if name == "slice.png":
            fig.set_size_inches(3.2 * len(every) + 1.5, 4)
        zoo_core.save_figure(fig, out / name)
        drawn.append(name)
    return drawn
