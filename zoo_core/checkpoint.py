"""Saving and loading: safetensors by default, the whole-model pickle only beside it, on request.

Every file is written atomically (temporary file, flush, fsync, rename), so a kill at any moment
leaves the previous good file in place.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.errors import ZooError

if TYPE_CHECKING:
    import torch

WEIGHTS = "model.safetensors"
PICKLE = "model.pt"
STATE = "state.safetensors"
FORMAT_VERSION = "1"
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed over it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically, pretty enough to read."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


# -- model weights ------------------------------------------------------------------------------
def save_weights(model: torch.nn.Module, path: str | Path, metadata: Mapping[str, Any]) -> Path:
    """Save ``model``'s weights with safetensors' model helper (shared weights are handled)."""
    from safetensors.torch import save_model

    path = Path(path)
    meta = {"zoo.format": FORMAT_VERSION}
    meta.update({k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in metadata.items()})
    with atomic_path(path) as tmp:
        save_model(model, str(tmp), metadata=meta)
    return path


def _weights_file(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / WEIGHTS
    if not path.exists():
        raise ZooError(f"{path}: no such file; pass a run folder or a .safetensors file (see 'zoo runs')")
    return path


def read_header(path: str | Path) -> tuple[dict[str, str], dict[str, tuple[int, ...]]]:
    """A safetensors file's metadata and tensor shapes; a damaged file is one clear error."""
    from safetensors import safe_open

    path = _weights_file(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            shapes = {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}
    except Exception as exc:  # safetensors raises its own error type for every kind of damage
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ZooError(
            f"{path}: not a readable safetensors file ({detail}); it may be truncated or "
            "corrupt: re-run training or restore the file"
        ) from exc
    return meta, shapes


def read_metadata(path: str | Path) -> dict[str, Any]:
    """zoo's metadata in a weights file, JSON values decoded."""
    meta, _ = read_header(path)
    out: dict[str, Any] = {}
    for key, value in meta.items():
        try:
            out[key] = json.loads(value)
        except (json.JSONDecodeError, TypeError):
            out[key] = value
    return out


def load_weights(model: torch.nn.Module, path: str | Path, device: str | torch.device = "cpu") -> None:
    """Load weights into ``model``, listing every missing, unexpected or mis-shaped tensor."""
    from safetensors.torch import load_model as st_load_model

    path = _weights_file(path)
    _, shapes = read_header(path)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    wrong = [
        f"{k} {shapes[k]} vs {expected[k]}" for k in shapes if k in expected and shapes[k] != expected[k]
    ]
    if wrong:
        raise ZooError(
            f"{path}: weights do not fit the model; shape mismatch (file vs model): {'; '.join(wrong)}"
        )
    try:
        missing, unexpected = st_load_model(model, str(path), strict=False, device=str(device))
    except Exception as exc:
        raise ZooError(f"{path}: cannot load weights ({exc})") from exc
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing: {', '.join(sorted(missing))}")
        if unexpected:
            parts.append(f"unexpected: {', '.join(sorted(unexpected))}")
        raise ZooError(f"{path}: weights do not fit the model; {'; '.join(parts)}")


def load_model(path: str | Path, device: str = "cpu") -> torch.nn.Module:
    """Rebuild a model from its weights file alone: the entry and settings come from its metadata."""
    from zoo_core.plugins import get_zoo

    meta = read_metadata(path)
    name = meta.get("zoo.model")
    config = meta.get("zoo.config")
    if not name or not isinstance(config, dict):
        raise ZooError(
            f"{_weights_file(path)}: has no zoo metadata (zoo.model, zoo.config); it was not saved "
            "by zoo, so load it with safetensors and your own model class"
        )
    entry = get_zoo().registries["model"].get(name)
    model = entry.create(**config.get("model_params", {}))
    load_weights(model, path, device=device)
    return model.to(device).eval()


# -- the whole-model pickle (for comparison, as the tutorial teaches it) -------------------------
def save_run(
    run_dir: Path, model: torch.nn.Module, meta: Mapping[str, Any], state: Mapping[str, Any], save_format: str
) -> list[str]:
    """A run's checkpoint: the weights (safetensors, and the pickle when asked), then the state."""
    files = []
    was_training = model.training
    if save_format in ("safetensors", "both"):
        files.append(save_weights(model, run_dir / WEIGHTS, meta).name)
    if save_format in ("pickle", "both"):
        files.append(save_pickle(model, run_dir / PICKLE).name)
    model.train(was_training)
    files.append(save_state(run_dir / STATE, state).name)
    return files


def save_pickle(model: torch.nn.Module, path: str | Path) -> Path:
    """``torch.save(model)``: the whole object pickled; loading it needs the class importable."""
    import torch

    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(model, tmp)
    return path


def pickle_globals(path: str | Path) -> list[str]:
    """The importable names a pickle checkpoint would make Python import and run."""
    import torch

    try:
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    except Exception:
        return []


def load_pickle(path: str | Path, *, trust: bool, device: str = "cpu") -> Any:
    """Unpickle a checkpoint, only when the user said they trust it (a pickle can run any code)."""
    import torch

    path = Path(path)
    if not path.exists():
        raise ZooError(f"{path}: no such file")
    if not trust:
        names = pickle_globals(path)
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        raise ZooError(
            f"{path} is a pickle: loading it can run arbitrary code"
            + (f" (it would import {shown})" if names else "")
            + "; pass --trust-pickle only if you trust its source, or use model.safetensors"
        )
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:
        raise ZooError(f"{path}: cannot unpickle ({type(exc).__name__}: {exc})") from exc


# -- resumable training state, without pickle ----------------------------------------------------
def _flatten(obj: Any, tensors: dict[str, Any], prefix: str) -> Any:
    import numpy as np
    import torch

    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": _flatten(torch.from_numpy(obj.copy()), tensors, prefix)}
    if isinstance(obj, dict):
        return {
            "__dict__": [[_flatten(k, tensors, prefix), _flatten(v, tensors, prefix)] for k, v in obj.items()]
        }
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten(v, tensors, prefix) for v in obj]}
    if isinstance(obj, list):
        return [_flatten(v, tensors, prefix) for v in obj]
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot save {type(obj).__name__} in a training state")


def _unflatten(obj: Any, tensors: Mapping[str, Any]) -> Any:
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__ndarray__" in obj:
            return _unflatten(obj["__ndarray__"], tensors).numpy()
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {_unflatten(k, tensors): _unflatten(v, tensors) for k, v in obj["__dict__"]}
    return obj


def save_state(path: str | Path, state: Mapping[str, Any]) -> Path:
    """Save nested dicts of tensors and plain values (optimizer state, RNG states) as safetensors."""
    from safetensors.torch import save_file

    tensors: dict[str, Any] = {}
    skeleton = _flatten(dict(state), tensors, "")
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(
            tensors, str(tmp), metadata={"zoo.format": FORMAT_VERSION, "zoo.state": json.dumps(skeleton)}
        )
    return path


def load_state(path: str | Path) -> dict[str, Any]:
    """Read back what ``save_state`` wrote."""
    from safetensors.torch import load_file

    meta, _ = read_header(path)
    if "zoo.state" not in meta:
        raise ZooError(f"{path}: not a zoo training state")
    return _unflatten(json.loads(meta["zoo.state"]), load_file(str(path)))
