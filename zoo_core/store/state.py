"""The training state a checkpoint keeps for ``--resume``: stored without pickle, checked before use.

The state (step, optimizers, RNGs, the trainer's own, the history) is nested values and tensors:
:func:`flatten` turns it into JSON plus tensors that safetensors can hold. Read back it is
untrusted, so :func:`validate_state` and :func:`check_optimizer` check it before anything uses it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from zoo_core.plugin.errors import ZooError, first_line


def flatten(obj: Any, tensors: dict[str, Any]) -> Any:
    """``obj`` as JSON, its tensors moved into ``tensors``: what safetensors holds, with no pickle."""
    import numpy as np
    import torch

    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": flatten(torch.from_numpy(obj.copy()), tensors)}
    if isinstance(obj, dict):
        return {"__dict__": [[flatten(k, tensors), flatten(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [flatten(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [flatten(v, tensors) for v in obj]
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot save {type(obj).__name__} in a training state")


def unflatten(obj: Any, tensors: Mapping[str, Any]) -> Any:
    """What :func:`flatten` took apart, put back together."""
    if isinstance(obj, list):
        return [unflatten(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__ndarray__" in obj:
            return unflatten(obj["__ndarray__"], tensors).numpy()
        if "__tuple__" in obj:
            return tuple(unflatten(v, tensors) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {unflatten(k, tensors): unflatten(v, tensors) for k, v in obj["__dict__"]}
    return obj


def damaged(path: Path, what: str) -> ZooError:
    """A state file that cannot be used, as one line saying what to do about it."""
    return ZooError(
        f"{path}: {what}; the file is damaged or was edited: restore it, or start a new run "
        "(resume needs the state this run wrote)"
    )


def validate_state(state: Any, path: str | Path) -> dict[str, Any]:
    """Check a training state read from a file (untrusted) before anything uses it."""
    path = Path(path)
    if not isinstance(state, dict):
        raise damaged(path, "the training state is not a mapping")
    step = state.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise damaged(path, f"'step' must be a whole number >= 0, not {step!r}")
    optimizers = state.get("optimizers")
    if not isinstance(optimizers, dict) or not all(
        isinstance(o, dict) and isinstance(o.get("state"), dict) and isinstance(o.get("param_groups"), list)
        for o in optimizers.values()
    ):
        raise damaged(path, "'optimizers' must map names to optimizer states")
    if not isinstance(state.get("rng"), dict) or not {"python", "numpy", "torch"} <= set(state["rng"]):
        raise damaged(path, "'rng' must hold the python, numpy and torch generator states")
    if not isinstance(state.get("trainer", {}), dict):
        raise damaged(path, "'trainer' must be a mapping")
    history = state.get("history", [])
    if not isinstance(history, list):
        raise damaged(path, "'history' must be a list of metric rows")
    for row in history:
        if (
            not isinstance(row, dict)
            or isinstance(row.get("step"), bool)
            or not isinstance(row.get("step"), int)
        ):
            raise damaged(path, f"history row {row!r} has no whole-number 'step'")
        bad = [k for k, v in row.items() if not isinstance(k, str) or not isinstance(v, (int, float, str))]
        if bad:
            raise damaged(path, f"history row at step {row['step']} has unusable values for {bad}")
    return state


def check_optimizer(path: Path, name: str, saved: dict[str, Any], optimizer: Any) -> None:
    """Every saved per-parameter tensor is a scalar or has its parameter's shape."""
    import torch

    params = [p for group in optimizer.param_groups for p in group["params"]]
    groups = saved["param_groups"]
    if len(groups) != len(optimizer.param_groups) or not all(
        isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups
    ):
        raise damaged(
            path,
            f"optimizer '{name}' has {len(groups)} parameter groups, the run has "
            f"{len(optimizer.param_groups)}",
        )
    for index, values in saved["state"].items():
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(params):
            raise damaged(path, f"optimizer '{name}' has state for parameter {index!r}, which does not exist")
        if not isinstance(values, dict):
            raise damaged(path, f"optimizer '{name}' state of parameter {index} is not a mapping")
        for key, value in values.items():
            if isinstance(value, torch.Tensor) and value.dim() and value.shape != params[index].shape:
                raise damaged(
                    path,
                    f"optimizer '{name}' {key} of parameter {index} has shape {tuple(value.shape)}, "
                    f"the parameter {tuple(params[index].shape)}",
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise damaged(path, f"optimizer '{name}' {key} of parameter {index} is {value}")


@contextlib.contextmanager
def restoring(path: str | Path) -> Iterator[None]:
    """Around putting a saved state back: whatever does not fit is one line naming the file."""
    try:
        yield
    except ZooError:
        raise
    except Exception as exc:
        raise damaged(
            Path(path), f"cannot restore the training state ({type(exc).__name__}: {first_line(exc)})"
        ) from exc
