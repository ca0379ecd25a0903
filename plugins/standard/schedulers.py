"""The scheduler registry's factories: ``factory(optimizer, total_steps, **settings)``.

``total_steps`` is the run's number of optimizer steps (after ``--accumulate``). Schedules that
are a function of the step are ``LambdaLR`` with a small callable object, whose fields are the
scheduler's saved state: no pickle is needed to resume them.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
from torch.optim import lr_scheduler


def _check(name: str, value: float, low: float, high: float | None = None, *, above: bool = False) -> None:
    """Refuse a setting out of range; ``above``: ``low`` itself is out too (a factor of 0 stops training)."""
    from zoo_core import ZooError

    fits = (value > low if above else value >= low) and (high is None or value <= high)
    if not fits or math.isnan(value):
        span = f"more than {low}" if above else f"at least {low}"
        if high is not None:
            span = f"{span} and at most {high}" if above else f"between {low} and {high}"
        raise ZooError(f"scheduler setting {name}={value!r} must be {span}")


def _warmup_fits(warmup_steps: int, total_steps: int) -> None:
    """A warm-up longer than the run never reaches the learning rate: refused like ``--lr 0``."""
    from zoo_core import ZooError

    if warmup_steps > total_steps:
        raise ZooError(
            f"scheduler setting warmup_steps={warmup_steps} is longer than the run ({total_steps} optimizer "
            "steps): the learning rate would never be reached; lower it or train longer"
        )


def constant(optimizer: Any, total_steps: int) -> None:
    """No scheduler: the loop then leaves the learning rate (and a CUDA graph) alone."""
    return None


def step(optimizer: Any, total_steps: int, step_size: int = 100, gamma: float = 0.5) -> Any:
    """torch's ``StepLR``."""
    _check("step_size", step_size, 1)
    _check("gamma", gamma, 0.0, above=True)
    return lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)


def exponential(optimizer: Any, total_steps: int, gamma: float = 0.99) -> Any:
    """torch's ``ExponentialLR``."""
    _check("gamma", gamma, 0.0, above=True)
    return lr_scheduler.ExponentialLR(optimizer, gamma=gamma)


@attrs.define(slots=False)  # LambdaLR saves the factor's __dict__ as its state
class CosineFactor:
    """The factor on the base learning rate at optimizer step ``s``: warm-up, then a half cosine."""

    total_steps: int
    warmup_steps: int
    min_factor: float

    def __call__(self, s: int) -> float:
        if s < self.warmup_steps:
            return (s + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (s - self.warmup_steps) / span)
        return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * progress))


@attrs.define(slots=False)  # LambdaLR saves the factor's __dict__ as its state
class WarmupFactor:
    """Linear from ``start_factor`` to 1 over ``warmup_steps``, then 1."""

    warmup_steps: int
    start_factor: float

    def __call__(self, s: int) -> float:
        if s >= self.warmup_steps:
            return 1.0
        return self.start_factor + (1 - self.start_factor) * s / self.warmup_steps


def cosine(optimizer: Any, total_steps: int, warmup_steps: int = 0, min_factor: float = 0.0) -> Any:
    """Cosine annealing to ``min_factor * lr`` at the run's last step, after a linear warm-up."""
    _check("warmup_steps", warmup_steps, 0)
    _warmup_fits(warmup_steps, total_steps)
    _check("min_factor", min_factor, 0.0, 1.0)
    return lr_scheduler.LambdaLR(optimizer, CosineFactor(total_steps, warmup_steps, min_factor))


def linear_warmup(
    optimizer: Any, total_steps: int, warmup_steps: int = 100, start_factor: float = 0.01
) -> Any:
    """A linear warm-up, then the optimizer's learning rate."""
    _check("warmup_steps", warmup_steps, 1)
    _warmup_fits(warmup_steps, total_steps)
    _check("start_factor", start_factor, 0.0, 1.0)
    return lr_scheduler.LambdaLR(optimizer, WarmupFactor(warmup_steps, start_factor))


def onecycle(
    optimizer: Any,
    total_steps: int,
    max_factor: float = 1.0,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Any:
    """torch's ``OneCycleLR`` peaking at ``max_factor`` times each group's learning rate."""
    _check("max_factor", max_factor, 0.0, above=True)
    _check("pct_start", pct_start, 0.0, 1.0)
    _check("div_factor", div_factor, 0.0, above=True)
    _check("final_div_factor", final_div_factor, 0.0, above=True)
    peaks = [float(group["lr"]) * max_factor for group in optimizer.param_groups]
    return lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=peaks,
        total_steps=max(total_steps, 2),
        pct_start=pct_start,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        cycle_momentum=False,  # works with every optimizer, not only those with momentum
    )
