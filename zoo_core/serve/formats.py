"""Side-by-side comparison of the three ways to save a model: what each costs and requires."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zoo_core.plugin.errors import ZooError
from zoo_core.serve.trained import Trained, open_run
from zoo_core.store import checkpoint


def _median_ms(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), value


def _same(a: Any, b: Any) -> bool:
    import torch

    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _outputs(model: Any, sample: Any) -> Any:
    import torch

    with torch.no_grad():
        return model(sample)


def compare_formats(run: str | Path, repeat: int = 7, exports: bool = False) -> list[dict[str, Any]]:
    """Save and reload a run's model as safetensors, state-dict pickle and whole-model pickle.

    ``exports`` adds what ``zoo export`` writes (``.pt2``, and ONNX when its extra is installed),
    for models that can be exported.
    """
    import torch
    from safetensors.torch import load_file, save_model

    trained = open_run(run)
    model, path = trained.model, trained.weights
    cls = type(model)
    try:
        sample = trained.example()
    except ZooError:  # no dataset inputs the model takes: the rows compare weights only
        sample = None
    reference = _outputs(model, sample) if sample is not None else None

    def identical(other: Any) -> bool:
        if not _same(model, other):
            return False
        if reference is None:
            return True
        out = _outputs(other.eval(), sample)
        return torch.equal(out, reference) if torch.is_tensor(out) else out == reference

    def blank() -> Any:
        """The same architecture with every weight zeroed, so only the loaded file can fill it."""
        fresh = checkpoint.load_model(path)
        with torch.no_grad():
            for p in fresh.parameters():
                p.zero_()
        return fresh

    def into_blank(state: Any) -> Any:
        fresh = blank()
        fresh.load_state_dict(state)
        return fresh

    # (format, what the file is, save(path), load(path), the model rebuilt from what was loaded, requires)
    formats = [
        (
            "safetensors",
            "model.safetensors",
            lambda f: save_model(model, str(f)),
            lambda f: load_file(str(f)),
            lambda _, f: _load_weights_into(blank(), f),
            "nothing: plain tensors, no code runs (safe)",
        ),
        (
            "state-dict pickle",
            "torch.save(model.state_dict())",
            lambda f: torch.save(model.state_dict(), f),
            lambda f: torch.load(f, weights_only=True),
            lambda state, _: into_blank(state),
            "weights_only=True to be safe; the model class to rebuild",
        ),
        (
            "whole-model pickle",
            "torch.save(model) = model.pt",
            lambda f: torch.save(model, f),
            lambda f: torch.load(f, weights_only=False),
            lambda whole, _: whole,
            f"trust (runs code); {cls.__module__}.{cls.__qualname__} importable at that path",
        ),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, label, save, load, rebuild, requires) in enumerate(formats):
            file = Path(tmp) / f"model-{i}"
            save_ms, _ = _median_ms(lambda save=save, file=file: save(file), repeat)
            load_ms, loaded = _median_ms(lambda load=load, file=file: load(file), repeat)
            rows.append(
                _row(name, label, file, save_ms, load_ms, identical(rebuild(loaded, file).eval()), requires)
            )
        if exports:
            rows += exported_rows(trained, sample, repeat, Path(tmp))
    return rows


def exported_rows(trained: Trained, sample: Any, repeat: int, tmp: Path) -> list[dict[str, Any]]:
    """``.pt2`` and ONNX rows: one verified export each (slow), then ``repeat`` timed loads."""
    import importlib.util

    import torch

    from zoo_core.serve.export import export_onnx, export_pt2
    from zoo_core.serve.predict import predictor_of

    entry, model = trained.entry, trained.model
    predictor = predictor_of(entry)
    example = predictor.example(model) or ((sample,) if sample is not None else None)
    if predictor.cannot_export or example is None:
        return []
    module = predictor.export_module(model).eval()
    formats = [
        (
            "torch.export",
            "zoo export --format pt2",
            export_pt2,
            lambda f: torch.export.load(f),
            "torch only (torch.export.load): a traced program, no model class; loads zoo's own exports",
        )
    ]
    if all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript", "onnxruntime")):
        formats.append(
            (
                "ONNX",
                "zoo export --format onnx",
                export_onnx,
                lambda f: _onnx_session(f),
                "onnxruntime (any language): no torch, no zoo, no model class",
            )
        )
    rows = []
    for name, label, save, load, requires in formats:
        file = tmp / f"export.{'pt2' if name == 'torch.export' else 'onnx'}"
        start = time.perf_counter()
        _, _, difference = save(module, example, file, {})
        save_ms = (time.perf_counter() - start) * 1000
        load_ms, _ = _median_ms(lambda load=load, file=file: load(file), repeat)
        row = _row(name, label, file, save_ms, load_ms, difference == 0.0, requires)
        rows.append({**row, "max_difference": difference})
    return rows


def _row(
    name: str, label: str, file: Path, save_ms: float, load_ms: float, identical: bool, requires: str
) -> dict[str, Any]:
    return {
        "format": name,
        "file": label,
        "bytes": file.stat().st_size,
        "save_ms": save_ms,
        "load_ms": load_ms,
        "identical": identical,
        "requires": requires,
    }


def _onnx_session(file: Path) -> Any:
    import onnxruntime

    return onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])


def _load_weights_into(model: Any, file: Path) -> Any:
    checkpoint.load_weights(model, file)
    return model


def _identical(row: dict[str, Any]) -> str:
    """yes, or for an export that differs in the last bits, by how much (it passed its check)."""
    if row["identical"]:
        return "yes"
    return f"within {row['max_difference']:.1g}" if "max_difference" in row else "NO"


def formats_table(rows: list[dict[str, Any]]) -> str:
    """``compare_formats`` rows as the text table ``zoo compare-formats`` prints."""
    from zoo_core.plugin.text import table

    return table(
        [
            [
                r["format"],
                f"{r['bytes']:,}",
                f"{r['save_ms']:.2f}",
                f"{r['load_ms']:.2f}",
                _identical(r),
                r["requires"],
            ]
            for r in rows
        ],
        ["FORMAT", "BYTES", "SAVE ms", "LOAD ms", "IDENTICAL", "LOADING REQUIRES"],
    )
