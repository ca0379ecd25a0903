"""The optimizer registry's factories: ``factory(params, lr, **settings) -> torch.optim.Optimizer``.

Each one picks the fastest implementation torch has that gives the same numbers as the reference
for-loop: ``fused`` kernels for SGD (with or without momentum) and Adagrad on the CPU (checked
bit for bit against the for-loop), and ``foreach`` elsewhere (the for-loop's arithmetic over all
tensors at once). Adam's fused kernel differs in the last bit, so Adam and RMSprop use foreach.
``--set fused=true`` or ``--set foreach=false`` overrides the choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


def _params_list(params: Iterable[Any]) -> list[Any]:
    return list(params)


def _all_tensors(params: list[Any]) -> list[torch.Tensor]:
    tensors: list[torch.Tensor] = []
    for item in params:
        if isinstance(item, dict):
            tensors += list(item["params"])
        else:
            tensors.append(item)
    return tensors


def _fused_is_exact(params: list[Any]) -> bool:
    """Fused kernels were checked bit for bit against the for-loop on CPU float tensors only."""
    tensors = _all_tensors(params)
    return bool(tensors) and all(t.device.type == "cpu" and t.is_floating_point() for t in tensors)


def _implementation(
    params: list[Any], fused: bool | None, foreach: bool | None, exact: bool
) -> dict[str, Any]:
    """torch's ``fused``/``foreach`` keywords: the user's choice, else fused where it is exact."""
    if fused is None:
        fused = True if exact and foreach is None and _fused_is_exact(params) else None
    if fused:
        return {"fused": True}
    # foreach does the for-loop's arithmetic on all tensors at once: same numbers, fewer kernels.
    return {"foreach": True if foreach is None else foreach}


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
    params = _params_list(params)
    return torch.optim.SGD(
        params,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        nesterov=nesterov,
        **_implementation(params, fused, foreach, True),
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
    params = _params_list(params)
    kw = _implementation(params, None, foreach, False)
    return torch.optim.RMSprop(
        params,
        lr=lr,
        alpha=alpha,
        eps=eps,
        momentum=momentum,
        weight_decay=weight_decay,
        centered=centered,
        **kw,
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
    params = _params_list(params)
    return torch.optim.Adam(
        params,
        lr=lr,
        betas=tuple(betas),
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        **_implementation(params, fused, foreach, False),
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
    params = _params_list(params)
    return torch.optim.Adagrad(
        params,
        lr=lr,
        lr_decay=lr_decay,
        weight_decay=weight_decay,
        eps=eps,
        **_implementation(params, fused, foreach, True),
        **extra,
    )
