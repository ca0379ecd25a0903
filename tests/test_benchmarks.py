"""The benchmark suite's plumbing (table, JSON, row selection, skips); speed targets live only in it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.common import Result, Settings  # noqa: E402
from benchmarks.rows import ROWS, run_row, select, table  # noqa: E402

HEADER = ["ROW", "FIGURE", "UNIT", "ZOO", "BASELINE", "RATIO", "TARGET", "RESULT"]


def test_quick_row_prints_one_table_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "step-mlp",
            "--quick",
            "--repeat",
            "1",
            "--json",
            str(out),
            "-q",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: a target missed, which is not this test's business
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["ROW", "FIGURE"])
    assert lines[start].split() == HEADER and set(lines[start + 1]) <= {"-", " "}
    row = lines[start + 2]
    assert row.startswith("step-mlp") and row.split()[-1] in ("PASS", "FAIL")
    assert "1 thread(s)" in done.stdout and "quick" in done.stdout
    data = json.loads(out.read_text())
    (result,) = data["rows"]
    assert result["row"] == "step-mlp" and result["unit"] == "us/step"
    assert result["zoo"] > 0 and result["baseline"] > 0 and result["ratio"] > 0
    assert result["data"]["losses_identical"] is True  # zoo's loop computes exactly the hand loop's losses
    assert data["machine"]["torch_threads"] == 1


def test_list_names_every_row_without_running_any():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--list"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert [line.split()[0] for line in done.stdout.splitlines()] == [r.id for r in ROWS]


def test_rows_are_picked_by_id_and_group():
    assert [r.id for r in select(["gpu"])] == [
        "gan-cuda",
        "epoch-cnn-cuda",
        "bf16-cnn-cuda",
        "compile-cnn-cuda",
    ]
    assert [r.id for r in select(["load-cnn,cli-list"])] == ["cli-list", "load-cnn"]  # table order
    assert len(select([])) == len(select(["all"])) == len(ROWS)
    with pytest.raises(SystemExit, match="unknown row 'nope'"):
        select(["nope"])


def test_mnist_rows_skip_with_the_reason_when_the_data_are_missing(tmp_path):
    result = run_row(select(["step-cnn"])[0], Settings(quick=True, mnist=str(tmp_path), verbose=False))
    assert result.status == "SKIP"
    assert "no MNIST in" in result.notes and "--mnist" in result.notes


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the skip on machines without a GPU")
def test_gpu_rows_skip_without_cuda():
    results = [run_row(r, Settings(quick=True, verbose=False)) for r in select(["gpu"])]
    assert [r.status for r in results] == ["SKIP"] * 4
    assert all("no CUDA device" in r.notes for r in results)


def test_table_layout():
    rows = [
        Result("a-row", "something", "s", 0.5, 2.0, 0.25, "<= 0.5x", "PASS", notes="fine"),
        Result("b", "other", status="SKIP", notes="why not"),
    ]
    lines = table(rows).splitlines()
    assert lines[0].split() == HEADER
    assert lines[2].split() == ["a-row", "something", "s", "0.5", "2", "0.25x", "<=", "0.5x", "PASS"]
    assert lines[3].split() == ["b", "other", "-", "-", "-", "-", "-", "SKIP"]
    assert lines[-2:] == ["  a-row: fine", "  b: why not"]


def test_the_gan_baseline_is_the_lessons_loop_on_the_cpu(tmp_path):
    from benchmarks import baselines
    from zoo_core.training.loop import train_model

    hand = baselines.gan(1, seed=3)
    run = train_model("gan", steps=1, seed=3, device="cpu", out=tmp_path / "gan", sets=["log_every=1"])
    assert hand["d_losses"] == [run.history[0]["d_loss"]]  # same data, noise, weights and step
    assert {k: hand["metrics"][k] for k in ("d_score", "in_bounds")} == {
        k: run.metrics[k] for k in ("d_score", "in_bounds")
    }
