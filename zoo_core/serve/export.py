"""``zoo export``: a trained model as a ``torch.export`` program (``.pt2``) or ONNX, verified on the spot.

Every export is run back before it is kept: the saved program (``torch.export.load``, or
onnxruntime for ONNX) takes the model's example input and must give PyTorch's outputs within
``ATOL + RTOL * |y|``; otherwise the file is not written and the error says by how much it
differed. The batch dimension is dynamic where the model allows it, and checked with a second
batch size.
"""

from __future__ import annotations

import io
import json
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from zoo_core.plugin.errors import ZooError, first_line

if TYPE_CHECKING:
    import torch

ATOL, RTOL = 1e-5, 1e-4
TOLERANCE = f"{ATOL:g} + {RTOL:g} * |y|"
ONNX_EXTRA = "pip install 'zoo[onnx]'"
SUFFIX = {"pt2": ".pt2", "onnx": ".onnx"}


@attrs.frozen
class Exported:
    """What ``zoo export`` made and how it was checked."""

    model: str
    format: str
    path: str
    bytes: int
    part: str
    dynamic_batch: bool
    batches: tuple[int, ...]
    max_difference: float
    tolerance: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return attrs.asdict(self)


def flat_outputs(value: Any) -> list[torch.Tensor]:
    """A model's outputs (a tensor, or tuples and lists of them) as a flat list of tensors."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in flat_outputs(v)]
    raise ZooError(f"the model returns {type(value).__name__}, not tensors; it cannot be exported")


def largest_difference(expected: Any, got: Sequence[Any]) -> tuple[float, bool]:
    """The largest absolute difference of ``got`` from ``expected``, and whether all are in tolerance."""
    import torch

    ref = flat_outputs(expected)
    if len(got) != len(ref):
        return float("inf"), False
    worst, ok = 0.0, True
    for r, g in zip(ref, got, strict=True):
        g = torch.as_tensor(g)
        if tuple(g.shape) != tuple(r.shape):
            return float("inf"), False
        diff = (g.float() - r.float()).abs()
        worst = max(worst, float(diff.max()) if diff.numel() else 0.0)
        ok = ok and bool((diff <= ATOL + RTOL * r.float().abs()).all())
    return worst, ok


def check_batches(example: tuple[torch.Tensor, ...]) -> list[tuple[torch.Tensor, ...]]:
    """The example batch and one of another size, to prove the batch dimension is really dynamic."""
    import torch

    n = example[0].shape[0]
    other = tuple(t[: n - 1] for t in example) if n > 2 else tuple(torch.cat([t] * 3) for t in example)
    return [example, other]


def _verify(
    model: torch.nn.Module, run: Callable[[tuple[torch.Tensor, ...]], list[Any]], batches: list[tuple]
) -> float:
    import torch

    worst = 0.0
    for batch in batches:
        try:
            with torch.no_grad():
                expected = model(*batch)
                got = run(batch)
        except Exception as exc:
            raise ZooError(
                f"the exported program fails on a batch of {batch[0].shape[0]} ({first_line(exc)})"
            ) from exc
        diff, ok = largest_difference(expected, got)
        if not ok:
            raise ZooError(
                f"the exported program differs from PyTorch by up to {diff:.3g} on a batch of "
                f"{batch[0].shape[0]} (tolerance {TOLERANCE}); nothing was written"
            )
        worst = max(worst, diff)
    return worst


def _dims(example: tuple[torch.Tensor, ...]) -> tuple[dict[int, Any], ...]:
    from torch.export import Dim

    return tuple({0: Dim.AUTO} for _ in example)


def _is_dynamic(program: Any) -> bool:
    """Whether an exported program's first input has a symbolic batch size."""
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in program.graph_signature.user_inputs:
            return not isinstance(node.meta["val"].shape[0], int)
    return False


def _trace(module: torch.nn.Module, example: tuple[torch.Tensor, ...]) -> Any:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.export.export(module, example, dynamic_shapes=_dims(example))
    except Exception as exc:
        raise ZooError(f"torch.export cannot trace this model ({first_line(exc)})") from exc


def export_pt2(
    module: torch.nn.Module, example: tuple[torch.Tensor, ...], path: Path, meta: dict[str, Any]
) -> tuple[bool, tuple[int, ...], float]:
    """Save ``torch.export``'s program of ``module`` to ``path``, then load it back and check it."""
    import torch

    from zoo_core.plugin.atomic import atomic_path

    program = _trace(module, example)
    dynamic = _is_dynamic(program)
    batches = check_batches(example) if dynamic else [example]
    buffer = io.BytesIO()  # torch.export wants a name ending in .pt2; the temporary file's does not
    torch.export.save(program, buffer, extra_files={"zoo.json": json.dumps(meta, default=str)})
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
        loaded = torch.export.load(io.BytesIO(tmp.read_bytes())).module()
        worst = _verify(module, lambda b: flat_outputs(loaded(*b)), batches)
    return dynamic, tuple(b[0].shape[0] for b in batches), worst


def require_onnx() -> Any:
    """The onnxruntime module once the onnx extra is importable; else one line saying what to install."""
    try:
        import onnx  # noqa: F401
        import onnxruntime
        import onnxscript  # noqa: F401
    except ImportError:
        raise ZooError(f"ONNX export needs the onnx extra: {ONNX_EXTRA}") from None
    return onnxruntime


def export_onnx(
    module: torch.nn.Module, example: tuple[torch.Tensor, ...], path: Path, meta: dict[str, Any]
) -> tuple[bool, tuple[int, ...], float]:
    """Save ``torch.onnx.export(dynamo=True)``'s model to ``path``, then run it in onnxruntime and check it."""
    import contextlib

    import torch

    from zoo_core.plugin.atomic import atomic_path

    ort = require_onnx()
    traced = _trace(module, example)  # the same program as .pt2, its dynamic batch included
    dynamic = _is_dynamic(traced)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(traced, example, dynamo=True, verbose=False)
    except Exception as exc:
        raise ZooError(f"torch.onnx.export cannot convert this model ({first_line(exc)})") from exc
    program.model.metadata_props.update({k: str(v) for k, v in meta.items()})
    batches = check_batches(example) if dynamic else [example]
    with atomic_path(path) as tmp:
        program.save(str(tmp))
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]

        def run(batch: tuple[torch.Tensor, ...]) -> list[Any]:
            feeds = {n: t.detach().cpu().numpy() for n, t in zip(names, batch, strict=True)}
            return [torch.from_numpy(o) for o in session.run(None, feeds)]

        worst = _verify(module, run, batches)
    return dynamic, tuple(b[0].shape[0] for b in batches), worst


def export(run: str | Path, fmt: str, out: str | Path | None = None, *, force: bool = False) -> Exported:
    """Export a trained run as ``pt2`` or ``onnx`` (the part and example input its predictor names).

    An existing ``out`` is replaced only with ``force`` (an earlier export at the default path always
    is); a file of the run's own folder never is."""
    import torch

    from zoo_core.serve.predict import predictor_of
    from zoo_core.serve.trained import open_run

    if fmt not in SUFFIX:
        raise ZooError(f"unknown export format {fmt!r}; use one of {', '.join(SUFFIX)} or hub")
    start = time.perf_counter()
    trained = open_run(run)
    weights, entry, model = trained.weights, trained.entry, trained.model
    predictor = predictor_of(entry)
    if predictor.cannot_export:
        raise ZooError(f"{entry.name} cannot be exported: {predictor.cannot_export}")
    module = predictor.export_module(model).eval()
    example = predictor.example(model)
    if example is None:
        try:
            example = (trained.example(),)
        except ZooError as exc:
            raise ZooError(
                f"{entry.name}: no example input to export with: its predictor gives none and {exc}"
            ) from exc
    example = tuple(t.to(torch.float32) if t.is_floating_point() else t for t in example)
    default = default_path(run, weights, SUFFIX[fmt])
    path = Path(out) if out is not None else default
    if path.is_dir():
        path = path / f"model{SUFFIX[fmt]}"
    if not path.parent.is_dir():
        raise ZooError(f"--out {path}: the folder {path.parent} does not exist")
    _may_write(path, default, weights, force)
    meta = {
        "zoo.model": entry.qualname,
        "zoo.plugin": entry.plugin,
        "zoo.plugin_version": entry.version,
        "zoo.part": predictor.exports or "the whole model",
        "zoo.inputs": [list(t.shape[1:]) for t in example],
    }
    save = export_pt2 if fmt == "pt2" else export_onnx
    dynamic, batches, worst = save(module, example, path, meta)
    return Exported(
        model=entry.qualname,
        format=fmt,
        path=str(path),
        bytes=path.stat().st_size,
        part=predictor.exports,
        dynamic_batch=dynamic,
        batches=batches,
        max_difference=worst,
        tolerance=TOLERANCE,
        seconds=time.perf_counter() - start,
    )


def _may_write(path: Path, default: Path, weights: Path, force: bool) -> None:
    """Refuse to replace what is not an earlier export: a run's files never, other files without --force."""
    if not path.exists() and not path.is_symlink():
        return
    where = path.resolve()
    if where == default.resolve():
        return  # the earlier export of this format, where zoo puts it
    if path.is_dir() or where.parent == weights.resolve().parent:
        raise ZooError(
            f"--out {path}: that is a file of the run in {weights.parent} (or a folder); an export never "
            "replaces it: pick another --out"
        )
    if not force:
        raise ZooError(f"--out {path}: the file exists; pass --force to replace it, or pick another --out")


def default_path(run: str | Path, weights: Path, suffix: str) -> Path:
    """``model.pt2``/``model.onnx`` beside the weights; in the current folder for an ``hf://`` repo."""
    from zoo_core.serve.trained import SCHEME

    return Path(f"model{suffix}") if str(run).startswith(SCHEME) else weights.with_name(f"model{suffix}")
