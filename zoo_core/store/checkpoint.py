"""Saving and loading: safetensors by default, the whole-model pickle only beside it, on request.

Every file is written through :mod:`zoo_core.plugin.atomic`, so a kill at any moment leaves the previous
good file in place, and a checkpoint (weights, state, pickle) is one commit there, so the weights
and the state on disk always come from the same step. Every file is checked before use.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.plugin import atomic
from zoo_core.plugin.errors import RunFailed, ZooError, first_line
from zoo_core.store.state import check_optimizer, damaged, flatten, unflatten, validate_state

if TYPE_CHECKING:
    import torch

WEIGHTS = "model.safetensors"
PICKLE = "model.pt"
STATE = "state.safetensors"
FORMAT_VERSION = "1"
CHECKPOINT_FILES = (WEIGHTS, PICKLE, STATE)


# -- model weights ------------------------------------------------------------------------------
def _weights_metadata(metadata: Mapping[str, Any]) -> dict[str, str]:
    meta = {"zoo.format": FORMAT_VERSION}
    meta.update({k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in metadata.items()})
    return meta


def save_weights(model: torch.nn.Module, path: str | Path, metadata: Mapping[str, Any]) -> Path:
    """Save ``model``'s weights with safetensors' model helper (shared weights are handled)."""
    from safetensors.torch import save_model

    path = Path(path)
    with atomic.atomic_path(path) as tmp:
        save_model(model, str(tmp), metadata=_weights_metadata(metadata))
    return path


def _weights_file(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / WEIGHTS
    if not path.exists():
        raise ZooError(f"{path}: no such file; pass a run folder or a .safetensors file (see 'zoo runs')")
    try:  # safetensors says "No such file or directory" for any file it cannot open: say why here
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ZooError(f"{path}: cannot read it ({exc.strerror or first_line(exc)})") from exc
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
        other = _other_kind(path)
        if other:
            raise ZooError(
                f"{path}: {other}, not a weights file; pass a run folder or its model.safetensors"
            ) from exc
        raise ZooError(
            f"{path}: not a readable safetensors file ({first_line(exc)}); it may be truncated or "
            "corrupt: re-run training or restore the file"
        ) from exc
    return meta, shapes


_KINDS = ((b"\x89PNG", "a PNG image"), (b"PK\x03\x04", "a zip archive (a .pt pickle or an export?)"))


def _other_kind(path: Path) -> str | None:
    """What a file that is no safetensors file at all is (it lacks the JSON header at byte 8), or
    None when it looks like one, only damaged."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
    except OSError:
        return None
    if len(head) < 9 or head[8:9] == b"{":  # cut short, or a safetensors header
        return None
    return next((what for magic, what in _KINDS if head.startswith(magic)), "some other kind of file")


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


def saved_metrics(meta: Mapping[str, Any], path: str | Path) -> dict[str, float]:
    """The metrics a weights file says it reached: names to numbers, anything else refused."""
    metrics = meta.get("zoo.metrics", {})
    if not isinstance(metrics, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
        for k, v in metrics.items()
    ):
        raise ZooError(
            f"{path}: metadata zoo.metrics must map names to numbers; the file is damaged or was edited"
        )
    return metrics


def load_weights(model: torch.nn.Module, path: str | Path, device: str | torch.device = "cpu") -> None:
    """Load weights into ``model``, listing every missing, unexpected or mis-shaped tensor."""
    from safetensors.torch import load_model as st_load_model

    path = _weights_file(path)
    _, shapes = read_header(path)
    check_fits(model, shapes, path)
    try:
        missing, unexpected = st_load_model(model, str(path), strict=False, device=str(device))
    except Exception as exc:
        raise ZooError(f"{path}: cannot load weights ({exc})") from exc
    if missing or unexpected:  # not reached after check_fits; kept as safetensors' own word
        raise ZooError(
            f"{path}: weights do not fit the model; missing: {sorted(missing)}; unexpected: {sorted(unexpected)}"
        )


def check_fits(model: torch.nn.Module, shapes: Mapping[str, tuple[int, ...]], path: str | Path) -> None:
    """Every tensor name and shape of a file's header against a model (which may be on ``meta``)."""
    tensors = model.state_dict(keep_vars=True)
    expected = {k: tuple(v.shape) for k, v in tensors.items()}
    wrong = [
        f"{k} {shapes[k]} vs {expected[k]}" for k in shapes if k in expected and shapes[k] != expected[k]
    ]
    names_of: dict[int, list[str]] = {}  # tied weights are one tensor: the file holds one of its names
    for key, value in tensors.items():
        names_of.setdefault(id(value), []).append(key)
    missing = sorted(ns[0] for ns in names_of.values() if not any(n in shapes for n in ns))
    unexpected = sorted(set(shapes) - set(expected))
    parts = []
    if wrong:
        parts.append(f"shape mismatch (file vs model): {'; '.join(wrong)}")
    if missing:
        parts.append(f"missing: {', '.join(missing)}")
    if unexpected:
        parts.append(f"unexpected: {', '.join(unexpected)}")
    if parts:
        raise ZooError(f"{path}: weights do not fit the model; {'; '.join(parts)}")


def load_model(path: str | Path, device: str = "cpu") -> torch.nn.Module:
    """Rebuild a model from its weights file alone: the entry and settings come from its metadata.

    The metadata is untrusted: the settings are checked like user input, and the model is first
    built on the ``meta`` device (no memory) and compared with the file's header, so a file cannot
    make zoo allocate a model its own tensors do not describe.
    """
    import torch

    from zoo_core.config.runconfig import RunConfig

    path = _weights_file(path)
    meta, shapes = read_header(path)
    decoded = read_metadata(path)
    if "zoo.model" not in meta or "zoo.config" not in meta:
        raise ZooError(
            f"{path}: has no zoo metadata (zoo.model, zoo.config); it was not saved "
            "by zoo, so load it with safetensors and your own model class"
        )
    config = RunConfig.from_dict(decoded["zoo.config"], f"{path} (metadata zoo.config)")
    if decoded["zoo.model"] != config.model:
        raise ZooError(
            f"{path}: metadata names model {decoded['zoo.model']!r} but its config {config.model!r}"
        )
    from zoo_core.plugin.discovery import get_zoo

    entry = get_zoo().models.get(config.model)
    factory, params = entry.load(), entry.params(config.model_params)
    try:
        with torch.device("meta"):
            shell = factory(**params)
    except Exception:  # a factory that cannot build on meta is checked after building it for real
        shell = None
    if shell is not None:
        try:
            check_fits(shell, shapes, path)
        except ZooError as exc:
            raise ZooError(f"{exc}; nothing was built") from None
        del shell
    model = entry.create(**config.model_params)
    load_weights(model, path, device=device)
    return model.to(device).eval()


# -- the whole-model pickle (for comparison, as the tutorial teaches it) -------------------------
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


# -- resumable training state, without pickle (zoo_core.store.state) ------------------------------------
def load_state(path: str | Path) -> dict[str, Any]:
    """Read back a training state; a skeleton that does not match its tensors is one error."""
    from safetensors.torch import load_file

    path = Path(path)
    meta, _ = read_header(path)
    if "zoo.state" not in meta:
        raise ZooError(f"{path}: not a zoo training state")
    try:
        return unflatten(json.loads(meta["zoo.state"]), load_file(str(path)))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise damaged(
            path, f"its contents do not match its description ({type(exc).__name__}: {exc})"
        ) from exc


def _state_metadata(state: Mapping[str, Any], tensors: dict[str, Any], commit_id: str = "") -> dict[str, str]:
    skeleton = flatten(dict(state), tensors)
    meta = {"zoo.format": FORMAT_VERSION, "zoo.state": json.dumps(skeleton)}
    if commit_id:
        meta["zoo.commit"] = commit_id
    return meta


def save_checkpoint(
    run_dir: str | Path,
    model: torch.nn.Module,
    *,
    metadata: Mapping[str, Any],
    state: Mapping[str, Any],
    save_format: str = "safetensors",
    finite: bool = False,
) -> list[str]:
    """Weights (and the pickle on request) and the training state as one commit, tagged alike.

    With ``finite``, weights holding NaN or infinity are refused, so the last good checkpoint stays.
    """
    from safetensors.torch import save_file, save_model

    if finite:
        import torch

        bad = [
            k for k, t in model.state_dict().items() if t.is_floating_point() and not torch.isfinite(t).all()
        ]
        if bad:
            raise diverged(
                f"non-finite weights in {', '.join(bad[:3])}", metadata.get("zoo.step", "?"), Path(run_dir)
            )
    commit_id = secrets.token_hex(8)
    writers: dict[str, Callable[[Path], None]] = {}
    if save_format in ("safetensors", "both"):
        meta = _weights_metadata({**metadata, "zoo.commit": commit_id})
        writers[WEIGHTS] = lambda p: save_model(model, str(p), metadata=meta)
    if save_format in ("pickle", "both"):
        import torch

        writers[PICKLE] = lambda p: torch.save(model, p)
    tensors: dict[str, Any] = {}
    state_meta = _state_metadata(state, tensors, commit_id)
    writers[STATE] = lambda p: save_file(tensors, str(p), metadata=state_meta)
    return atomic.commit(run_dir, writers, CHECKPOINT_FILES)


def load_checkpoint(
    run_dir: str | Path,
    model: torch.nn.Module,
    optimizers: Mapping[str, Any],
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load a run's last checkpoint for resume: the pair checked to be one commit, the state validated."""
    run_dir = Path(run_dir)
    path = run_dir / STATE
    state_meta, _ = read_header(path)
    state = validate_state(load_state(path), path)
    weights_meta = read_metadata(run_dir / WEIGHTS)
    if weights_meta.get("zoo.commit") != state_meta.get("zoo.commit") or weights_meta.get(
        "zoo.step"
    ) != state.get("step"):
        raise ZooError(
            f"{run_dir}: {WEIGHTS} (step {weights_meta.get('zoo.step')!r}) and {STATE} "
            f"(step {state['step']}) are not from the same checkpoint; restore both files from one "
            "save, or start a new run"
        )
    missing = sorted(set(optimizers) - set(state["optimizers"]))
    if missing:
        raise damaged(path, f"no state for optimizer(s) {', '.join(missing)}")
    for name, optimizer in optimizers.items():
        check_optimizer(path, name, state["optimizers"][name], optimizer)
    load_weights(model, run_dir, device=device)
    return state


def diverged(what: str, step: int, run_dir: Path) -> RunFailed:
    """The one message for a run whose numbers left the finite range."""
    return RunFailed(
        f"training diverged: {what} at step {step}; {last_checkpoint(run_dir)}; "
        "lower --lr, or --set stop_on_nan=false to only warn"
    )


def last_checkpoint(run_dir: Path) -> str:
    """What became of the last good checkpoint, for a message about a run that stopped."""
    if (run_dir / STATE).exists():
        return f"the last good checkpoint in {run_dir} is kept"
    return f"no checkpoint was saved in {run_dir} before it (--set checkpoint_every=N saves some)"
