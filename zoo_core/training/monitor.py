"""Keep the best weights and stop a run that stopped improving: ``--monitor``, ``--mode``, ``--patience``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from zoo_core.plugin.errors import ZooError

BEST = "best.safetensors"
_HIGHER_IS_BETTER = ("accuracy", "acc", "score", "reward", "bounds", "auc", "f1")


def default_metric(trainer: Any, metrics: Mapping[str, Any]) -> str | None:
    """The trainer's ``monitor`` when it names one, else ``eval_loss``, else its first metric."""
    named = getattr(trainer, "monitor", None)
    if isinstance(named, str) and named:
        return named
    numbers = [k for k, v in metrics.items() if isinstance(v, (int, float))]
    return "eval_loss" if "eval_loss" in numbers else (numbers[0] if numbers else None)


def mode_of(metric: str, mode: str) -> str:
    """``min`` or ``max``: ``auto`` means max for accuracies, scores and rewards, min otherwise."""
    if mode != "auto":
        return mode
    return "max" if any(word in metric.lower() for word in _HIGHER_IS_BETTER) else "min"


@attrs.define
class Monitor:
    """The best value of one evaluation metric so far, and evaluations since it improved."""

    metric: str | None
    mode: str = "auto"
    patience: int = 0
    best: float | None = None
    best_step: int | None = None
    bad: int = 0  # evaluations in a row without improvement

    def observe(self, metrics: Mapping[str, Any], step: int, trainer: Any) -> bool:
        """Take one evaluation's metrics; True when the monitored one improved (keep these weights)."""
        if self.metric is None:
            self.metric = default_metric(trainer, metrics)
            if self.metric is None:
                return False
        self._check(metrics)
        value = float(metrics[self.metric])
        if math.isnan(value):
            self.bad += 1
            return False
        better = self.best is None or (
            value < self.best if mode_of(self.metric, self.mode) == "min" else value > self.best
        )
        if better:
            self.best, self.best_step, self.bad = value, step, 0
        else:
            self.bad += 1
        return better

    def _check(self, metrics: Mapping[str, Any]) -> None:
        if self.metric not in metrics:
            raise ZooError(
                f"--monitor {self.metric}: the evaluation reports {', '.join(sorted(metrics)) or 'no metrics'}; "
                "pick one of those"
            )

    def check_before(self, trainer: Any, model: Any, data: Any, device: Any) -> None:
        """A named metric the evaluation never reports is refused before the run writes anything
        (one evaluation of the fresh model, the random generators put back after it)."""
        from zoo_core.training.seeding import rng_state, set_rng_state

        if self.metric is None:
            return
        state = rng_state()
        try:
            self._check(trainer.evaluate(model, data, device))
        finally:
            set_rng_state(state)
            model.train()

    @property
    def out_of_patience(self) -> bool:
        return self.patience > 0 and self.bad >= self.patience

    def why_stopped(self) -> str:
        return (
            f"early stop: {self.metric} has not improved for {self.bad} evaluations "
            f"(best {self.best:.6g} at step {self.best_step})"
        )

    def record(self) -> dict[str, Any]:
        """What best.safetensors' metadata and summary.json say about the best weights."""
        mode = mode_of(self.metric, self.mode) if self.metric else self.mode
        return {"metric": self.metric, "mode": mode, "value": self.best, "step": self.best_step}

    def state_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "best": self.best, "best_step": self.best_step, "bad": self.bad}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """A resumed run keeps its best value and its patience count (validated: it is read from a file)."""
        metric, best, step, bad = (state.get(k) for k in ("metric", "best", "best_step", "bad"))
        if metric is not None and not isinstance(metric, str):
            raise ZooError("the saved training state has a bad monitor metric; the state file is damaged")
        if best is not None and not isinstance(best, (int, float)):
            raise ZooError("the saved training state has a bad best value; the state file is damaged")
        self.metric = self.metric or metric
        self.best = None if best is None else float(best)
        self.best_step = int(step) if isinstance(step, int) else None
        self.bad = int(bad) if isinstance(bad, int) and bad >= 0 else 0
