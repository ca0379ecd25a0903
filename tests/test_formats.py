"""``zoo compare-formats``: each format's reload is checked on its own, so a bad one shows."""

from __future__ import annotations

import math

import torch

from zoo_core.serve.formats import compare_formats
from zoo_core.training.loop import train_model


def test_every_format_round_trips_exactly(toy_zoo, tmp_path):
    train_model("toy", out=tmp_path / "run", device="cpu")
    rows = compare_formats(tmp_path / "run", repeat=1)
    assert [(r["format"], r["identical"]) for r in rows] == [
        ("safetensors", True),
        ("state-dict pickle", True),
        ("whole-model pickle", True),
    ]
    assert all(r["bytes"] > 0 and r["load_ms"] >= 0 for r in rows)
    assert (
        "tests.conftest" not in rows[2]["requires"]
        and "torch.nn.modules.container.Sequential" in rows[2]["requires"]
    )


def test_a_format_that_reloads_different_weights_is_reported(toy_zoo, tmp_path, monkeypatch):
    train_model("toy", out=tmp_path / "run", device="cpu")
    real_load = torch.load

    def nudged(f, *args, **kwargs):
        out = real_load(f, *args, **kwargs)
        if isinstance(out, dict):  # the state-dict pickle: spoil one weight
            out = {k: v + 1e-3 if k == "0.weight" else v for k, v in out.items()}
        return out

    monkeypatch.setattr(torch, "load", nudged)
    rows = {r["format"]: r["identical"] for r in compare_formats(tmp_path / "run", repeat=1)}
    assert rows == {"safetensors": True, "state-dict pickle": False, "whole-model pickle": True}


def test_exports_join_the_table_with_their_load_times(toy_zoo, tmp_path):
    from zoo_core.serve.formats import formats_table

    train_model("toy", out=tmp_path / "run", device="cpu")
    rows = compare_formats(tmp_path / "run", repeat=2, exports=True)
    assert [r["format"] for r in rows] == [
        "safetensors",
        "state-dict pickle",
        "whole-model pickle",
        "torch.export",
        "ONNX",
    ]
    for row in rows[3:]:
        # measured times are reported, never compared: their relation is a benchmark's, not a test's
        assert row["bytes"] > 0 and all(math.isfinite(row[k]) and row[k] >= 0 for k in ("save_ms", "load_ms"))
        assert row["max_difference"] <= 1e-5 and row["identical"] == (row["max_difference"] == 0)
    table = formats_table(rows).splitlines()
    assert table[5].startswith("torch.export") and "torch.export.load" in table[5]
    assert table[6].split()[4] in ("yes", "within")
