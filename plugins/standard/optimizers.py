"""The optimizer registry's factories: ``factory(params, lr, **settings) -> torch.optim.Optimizer``.

Each one is torch's own optimizer with torch's own choice of implementation: the plain for-loop on
the CPU and ``foreach`` on CUDA. That choice gives the same numbers on every CPU for the same
computation: torch's ``fused`` CPU kernels round differently from the for-loop depending on the
instruction set (AVX-512, AVX2 or none), so a fused default would make the lessons' figures, and a
test comparing them with the for-loop, hold on some processors only.

``--set fused=true`` or ``--set foreach=true`` opts in to a faster kernel. The cost of not doing it
by default is small for these nets (``optimizer.step()`` alone, one thread, medians; the whole CNN
step is about 8 ms): Adam on the CNN 195 us for-loop, 182 us foreach, 66 us fused; SGD with
momentum on the 1-10-1 regression net 43 us, 42 us, 24 us.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


def _implementation(fused: bool | None, foreach: bool | None) -> dict[str, Any]:
    """torch's ``fused``/``foreach`` keywords, passed on only when the user chose one."""
    return {k: v for k, v in (("fused", fused), ("foreach", foreach)) if v is not None}


def sgd(
    params: Iterable[Any],
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    fused: bool | None = None,
    foreach: bool | None = None,
    **extra: Any,
) -> torch.optim.Optimizer:
    """Stochastic gradient descent: ``p -= lr * grad`` (with ``momentum``, a velocity)."""
    return torch.optim.SGD(
        params,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        nesterov=nesterov,
        **_implementation(fused, foreach),
        **extra,
    )


def rmsprop(
    params: Iterable[Any],
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    centered: bool = False,
    foreach: bool | None = None,
    **extra: Any,
) -> torch.optim.Optimizer:
    """RMSprop: each step divided by a running root-mean-square of recent gradients."""
    return torch.optim.RMSprop(
        params,
        lr=lr,
        alpha=alpha,
        eps=eps,
        momentum=momentum,
        weight_decay=weight_decay,
        centered=centered,
        **_implementation(None, foreach),
        **extra,
    )


def adam(
    params: Iterable[Any],
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    fused: bool | None = None,
    foreach: bool | None = None,
    **extra: Any,
) -> torch.optim.Optimizer:
    """Adam: momentum on the gradient and RMSprop's scaling, both bias-corrected."""
    return torch.optim.Adam(
        params,
        lr=lr,
        betas=tuple(betas),
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        **_implementation(fused, foreach),
        **extra,
    )


def adagrad(
    params: Iterable[Any],
    lr: float,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    fused: bool | None = None,
    foreach: bool | None = None,
    **extra: Any,
) -> torch.optim.Optimizer:
    """Adagrad: each parameter's step divided by the root of its summed squared gradients."""
    return torch.optim.Adagrad(
        params,
        lr=lr,
        lr_decay=lr_decay,
        weight_decay=weight_decay,
        eps=eps,
        **_implementation(fused, foreach),
        **extra,
    )
