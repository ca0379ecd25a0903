"""Run integrity and bad input, in one process: checkpoints commit as one unit, one process per
run folder, untrusted files checked before use, numbers that cannot train refused."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest
import torch
from safetensors.torch import load_file

from zoo_core import ZooError, checkpoint, lock
from zoo_core.training import train_model


def _weights(run_dir):
    return load_file(str(run_dir / "model.safetensors"))


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- 1. a checkpoint is one commit --------------------------------------------------------------------
def test_a_write_cut_before_the_commit_point_leaves_the_old_pair(toy_zoo, tmp_path):
    run = tmp_path / "run"
    train_model("toy", out=run, device="cpu")
    before = {n: (run / n).read_bytes() for n in ("model.safetensors", "state.safetensors")}

    def weights(path):
        path.write_bytes(b"new weights")

    def state_dies(path):
        path.write_bytes(b"half")
        raise KeyboardInterrupt  # killed while writing the second file

    with pytest.raises(KeyboardInterrupt):
        checkpoint.commit(run, {"model.safetensors": weights, "state.safetensors": state_dies})
    assert {n: (run / n).read_bytes() for n in before} == before
    assert not [p.name for p in run.iterdir() if p.name.endswith((".next", ".tmp", ".commit"))]


def test_a_commit_cut_after_its_commit_point_is_finished_by_resume(toy_zoo, tmp_path):
    run, whole = tmp_path / "run", tmp_path / "whole"
    train_model("toy", out=run, device="cpu", seed=4, steps=10)
    train_model("toy", out=whole, device="cpu", seed=4, steps=20)
    # A kill between the renames: the journal is in place, one file moved, the other still staged.
    os.replace(run / "state.safetensors", run / ".state.safetensors.next")
    old = tmp_path / "old-state"
    shutil.copy(run / ".state.safetensors.next", old)
    (run / ".checkpoint.commit").write_text(json.dumps({"files": ["model.safetensors", "state.safetensors"]}))
    (run / ".model.safetensors.1234.tmp").write_bytes(b"a leftover of a killed write")
    # config says 10 steps: lengthen it so the resume has work to do
    config = json.loads((run / "config.json").read_text())
    config["config"]["loop"]["steps"] = 20
    (run / "config.json").write_text(json.dumps(config))
    resumed = train_model(resume=run, device="cpu")
    assert resumed.step == 20
    assert _same(_weights(run), _weights(whole))
    assert not [p.name for p in run.iterdir() if p.name.endswith((".next", ".tmp", ".commit"))]


def test_weights_and_state_of_different_saves_are_refused(toy_zoo, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    train_model("toy", out=a, device="cpu", steps=10)
    train_model("toy", out=b, device="cpu", steps=12)
    shutil.copy(b / "model.safetensors", a / "model.safetensors")
    before = (a / "state.safetensors").read_bytes()
    with pytest.raises(ZooError, match=r"step 12.*step 10\) are not from the same checkpoint"):
        train_model(resume=a, device="cpu")
    assert (a / "state.safetensors").read_bytes() == before


def test_files_are_written_with_the_users_umask(toy_zoo, tmp_path):
    train_model("toy", out=tmp_path / "run", device="cpu")
    want = 0o666 & ~checkpoint._UMASK
    for name in ("model.safetensors", "state.safetensors", "config.json", "metrics.csv", "summary.json"):
        assert stat.S_IMODE((tmp_path / "run" / name).stat().st_mode) == want, name


# -- 2. one process per run folder ---------------------------------------------------------------------
def _held_elsewhere(run_dir):
    """The lock as another process would hold it (a second OS lock on the same file)."""
    from filelock import FileLock

    run_dir.mkdir(parents=True, exist_ok=True)
    other = FileLock(str(run_dir / lock.LOCK), timeout=0)
    other.acquire()
    (run_dir / lock.OWNER).write_text(json.dumps({"pid": 4242, "host": "elsewhere", "since": "then"}))
    return other


def test_a_folder_in_use_is_refused_naming_the_holder(toy_zoo, tmp_path):
    other = _held_elsewhere(tmp_path / "run")
    try:
        with pytest.raises(ZooError, match=r"run: in use by process 4242 on elsewhere since then"):
            train_model("toy", out=tmp_path / "run", device="cpu")
        assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(lock.NAMES)
    finally:
        other.release()
    train_model("toy", out=tmp_path / "run", device="cpu")  # free again: the same folder works


def test_resume_takes_the_lock_too(toy_zoo, tmp_path):
    run = tmp_path / "run"
    train_model("toy", out=run, device="cpu", steps=10)
    before = (run / "state.safetensors").read_bytes()
    other = _held_elsewhere(run)
    try:
        with pytest.raises(ZooError, match="in use by process 4242"):
            train_model(resume=run, device="cpu")
    finally:
        other.release()
    assert (run / "state.safetensors").read_bytes() == before
    assert not lock.held(run)


def test_a_finished_run_in_the_folder_is_seen_after_taking_the_lock(toy_zoo, tmp_path, monkeypatch):
    # The loser of a race checks "empty" before the winner writes, then gets the lock after it ended.
    from zoo_core import runs

    run = tmp_path / "run"
    real = runs._has_files
    calls = []

    def has_files(path):
        calls.append(path)
        if len(calls) == 1:  # the first look, before the lock: the other run has not written yet
            return False
        return real(path)

    train_model("toy", out=run, device="cpu")
    monkeypatch.setattr(runs, "_has_files", has_files)
    with pytest.raises(ZooError, match="already exists and is not empty"):
        train_model("toy", out=run, device="cpu")
    assert not lock.held(run)


def test_a_dead_holders_lock_is_not_in_the_way(toy_zoo, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / lock.LOCK).write_text("")  # left by a process that was killed: no OS lock on it
    (run / lock.OWNER).write_text(json.dumps({"pid": 1, "host": "gone", "since": "long ago"}))
    train_model("toy", out=run, device="cpu")
    assert not (run / lock.OWNER).exists()  # released at the end
