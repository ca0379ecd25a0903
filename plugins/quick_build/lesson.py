"""Lesson 303: Sequential-built nets, and the map between their weight names and the class's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from zoo_core import ZooError
from zoo_core import activation as make_activation

#: lesson 301's ``Net`` attribute -> its index in the equivalent ``nn.Sequential``.
KEY_MAP = {"hidden": "0", "predict": "2"}


def mlp(sizes: Sequence[int] = (1, 10, 1), activation: str = "relu") -> nn.Sequential:
    """Linear layers of the given sizes with ``activation`` between them (not after the last)."""
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise ZooError(f"mlp sizes must be two or more positive numbers (inputs, ..., outputs), got {sizes}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        if i:
            layers.append(make_activation(activation))
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


def sequential_net(
    n_feature: int = 1, n_hidden: int = 10, n_output: int = 1, activation: str = "relu"
) -> nn.Sequential:
    """Lesson 301/302's ``Net``, built quickly: Linear, activation, Linear."""
    return nn.Sequential(
        nn.Linear(n_feature, n_hidden),
        make_activation(activation),
        nn.Linear(n_hidden, n_output),
    )


def _rename(state: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    out = {}
    for key, value in state.items():
        prefix, dot, rest = key.partition(".")
        if prefix not in mapping:
            raise ZooError(f"weight {key!r} has no counterpart; expected a prefix in {sorted(mapping)}")
        out[mapping[prefix] + dot + rest] = value
    return out


def class_to_sequential(state: Mapping[str, Any]) -> dict[str, Any]:
    """A class-built state dict renamed for Sequential: ``hidden.*`` -> ``0.*``, ``predict.*`` -> ``2.*``."""
    return _rename(state, KEY_MAP)


def sequential_to_class(state: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of ``class_to_sequential``."""
    return _rename(state, {v: k for k, v in KEY_MAP.items()})
