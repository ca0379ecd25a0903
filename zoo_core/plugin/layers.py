"""Small building blocks models share: activation functions chosen by name."""

from __future__ import annotations

from typing import Any

from zoo_core.plugin.errors import ZooError

# name -> torch.nn class name; models take ``activation="tanh"`` as a hyperparameter.
ACTIVATIONS = {
    "relu": "ReLU",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "softplus": "Softplus",
    "leaky_relu": "LeakyReLU",
    "elu": "ELU",
    "selu": "SELU",
    "gelu": "GELU",
    "silu": "SiLU",
    "mish": "Mish",
    "softsign": "Softsign",
    "hardtanh": "Hardtanh",
    "identity": "Identity",
}


def activation(name: str) -> Any:
    """A fresh ``torch.nn`` activation module for ``name`` (see ``ACTIVATIONS``)."""
    from torch import nn

    if name not in ACTIVATIONS:
        raise ZooError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return getattr(nn, ACTIVATIONS[name])()
