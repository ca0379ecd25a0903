"""Faults from outside, as real processes meet them: kill -9 at random moments, two runs racing for
one folder, a full disk. Each test is bounded in time; the kills are few and seeded."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from zoo_core.store import checkpoint

ZOO = [sys.executable, "-m", "zoo_core"]
# The regression lesson, long enough to be cut, with a checkpoint after every few steps.
STEPS = 300
TRAIN = [
    "train",
    "regression",
    "--steps",
    str(STEPS),
    "--set",
    "checkpoint_every=3",
    "--set",
    "log_every=3",
    "-q",
]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    env["OMP_NUM_THREADS"] = "1"
    env["ZOO_LOAD_PLUGINS"] = (
        "standard,regression"  # the lesson and the standard parts it uses: a quick start
    )
    return env


def _zoo(*args: str, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*ZOO, *args], capture_output=True, text=True, env=_env(), cwd=cwd, timeout=timeout)


def _start(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [*ZOO, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=cwd
    )


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


# ``zoo``, whose checkpoint of the last step, once committed, waits until the test creates the file
# ``open`` in the gate folder: however busy the machine, a run cannot end before the test has cut it.
GATED = """
import sys, time
from pathlib import Path
from zoo_core.store import checkpoint
from zoo_core.cli import main

gate, last, real = Path(sys.argv[1]), int(sys.argv[2]), checkpoint.save_checkpoint

def save_checkpoint(*args, **kwargs):
    files = real(*args, **kwargs)
    while kwargs["metadata"]["zoo.step"] >= last and not (gate / "open").exists():
        time.sleep(0.01)
    return files

checkpoint.save_checkpoint = save_checkpoint
sys.argv = ["zoo", *sys.argv[3:]]
main()
"""


def _start_gated(gate: Path, state: Path, *args: str, cwd: Path) -> tuple[int | None, subprocess.Popen]:
    """When ``state`` was last written before the gated run started, and the run."""
    before = _mtime(state)
    return before, subprocess.Popen(
        [sys.executable, "-c", GATED, str(gate), str(STEPS), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=cwd,
    )


def _kill_when(
    proc: subprocess.Popen, state: Path, before: int | None, delay: float, limit: float = 300
) -> None:
    """SIGKILL ``proc`` ``delay`` seconds after it wrote a checkpoint (it waits at its last one)."""
    deadline = time.monotonic() + limit  # generous: only a run that never checkpoints meets it
    while _mtime(state) == before:
        assert proc.poll() is None, f"the run ended before its gate: {proc.communicate()[1]}"
        assert time.monotonic() < deadline, "the run never wrote a checkpoint"
        time.sleep(0.005)
    time.sleep(delay)
    assert proc.poll() is None, f"the run ended before its gate: {proc.communicate()[1]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def _same_weights(a: Path, b: Path) -> bool:
    x, y = load_file(str(a / checkpoint.WEIGHTS)), load_file(str(b / checkpoint.WEIGHTS))
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume_gives_the_uninterrupted_weights(tmp_path):
    rng = random.Random(14)
    whole = _zoo(*TRAIN, "--out", str(tmp_path / "whole"), cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    run, gate = tmp_path / "cut", tmp_path / "gate"
    gate.mkdir()
    before, proc = _start_gated(gate, run / checkpoint.STATE, *TRAIN, "--out", str(run), cwd=tmp_path)
    steps = []
    for _ in range(5):  # a handful of kills, each at a random moment while checkpoints are written
        _kill_when(proc, run / checkpoint.STATE, before, delay=rng.uniform(0.0, 0.05))
        steps.append(checkpoint.read_metadata(run)["zoo.step"])  # readable: one whole checkpoint
        before, proc = _start_gated(
            gate, run / checkpoint.STATE, "train", "--resume", str(run), "-q", cwd=tmp_path
        )
    (gate / "open").touch()  # the last one trains to the end
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    print(f"kills after the checkpoints of steps {steps}")
    assert _same_weights(run, tmp_path / "whole")
    assert not [p.name for p in run.iterdir() if p.name.endswith((".tmp", ".next", ".commit"))]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["step"] == STEPS


@pytest.mark.slow
def test_two_runs_racing_for_one_out_never_mix(tmp_path):
    out = tmp_path / "race"
    a = _start(*TRAIN, "--seed", "1", "--out", str(out), cwd=tmp_path)
    b = _start(*TRAIN, "--seed", "2", "--out", str(out), cwd=tmp_path)
    results = [(p, *p.communicate(timeout=180)) for p in (a, b)]
    codes = sorted(p.returncode for p, _, _ in results)
    assert codes == [0, 2], [e for _, _, e in results]
    loser_err = next(e for p, _, e in results if p.returncode == 2)
    print(loser_err.strip())
    assert loser_err.count("\n") == 1 and str(out) in loser_err
    assert "in use by process" in loser_err or "already exists and is not empty" in loser_err
    winner_seed = 1 if a.returncode == 0 else 2
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["loop"]["seed"] == winner_seed
    assert checkpoint.read_metadata(out)["zoo.config"]["loop"]["seed"] == winner_seed
    state_meta, _ = checkpoint.read_header(out / checkpoint.STATE)
    assert state_meta["zoo.commit"] == checkpoint.read_metadata(out)["zoo.commit"]


def _after_a_checkpoint(proc: subprocess.Popen, state: Path, limit: float = 90) -> None:
    """Return once ``proc`` has written a checkpoint (a new ``state``), with a generous deadline."""
    deadline, before = time.monotonic() + limit, _mtime(state)
    while _mtime(state) == before:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the run never wrote a checkpoint"
        time.sleep(0.01)


@pytest.mark.slow
def test_sigterm_and_sighup_save_a_resumable_state_and_kill_9_is_shown_as_died(tmp_path):
    import re

    run = tmp_path / "t"
    endless = [*TRAIN, "--steps", "1000000", "--out", str(run)]  # the last --steps counts
    steps = []
    for signum, args in [(signal.SIGTERM, endless), (signal.SIGHUP, ["train", "--resume", str(run), "-q"])]:
        proc = _start(*args, cwd=tmp_path)
        _after_a_checkpoint(proc, run / checkpoint.STATE)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
        print(err.strip())
        assert proc.returncode == 128 + signum, err
        assert err.count("\n") == 1 and f"interrupted by {signal.Signals(signum).name} at step" in err
        assert f"--resume {run}" in err
        steps.append(int(re.search(r"at step (\d+)/", err).group(1)))
        assert checkpoint.read_metadata(run)["zoo.step"] == steps[-1]
        assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    assert steps[1] > steps[0]  # the resume went on from the saved state
    proc = _start("train", "--resume", str(run), "-q", cwd=tmp_path)
    _after_a_checkpoint(proc, run / checkpoint.STATE)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    listed = _zoo("runs", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [r["status"] for r in json.loads(listed.stdout)] == ["died"]


def _mount_tmpfs(path: Path, size: str, options: str = "") -> str | None:
    """Mount a small tmpfs at ``path``; the reason it cannot be done, or None."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return "mounting a small tmpfs needs root on Linux"
    path.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}{options}", "tmpfs", str(path)], capture_output=True
    )
    if proc.returncode != 0:
        return f"cannot mount a tmpfs here ({proc.stderr.decode().strip() or proc.returncode})"
    return None


@pytest.mark.slow
def test_a_full_disk_is_one_line_keeps_the_checkpoint_and_resumes_once_freed(tmp_path):
    disk = tmp_path / "disk"
    why = _mount_tmpfs(disk, "56k")  # a few checkpoints fit, the whole run with its figures does not
    if why:
        pytest.skip(why)
    try:
        run = disk / "run"
        full = _zoo(*TRAIN, "--out", str(run), cwd=tmp_path)
        assert full.returncode == 2, full.stderr
        print(full.stderr.strip())
        assert full.stderr.count("\n") == 1 and "Traceback" not in full.stderr
        assert f"cannot write {run}/" in full.stderr and "No space left on device" in full.stderr
        assert f"--resume {run}" in full.stderr
        assert json.loads((run / "summary.json").read_text())["status"] == "failed"
        assert not [p.name for p in run.iterdir() if p.name.endswith((".tmp", ".next"))]
        if not (run / checkpoint.STATE).exists():
            assert "no checkpoint was saved" in full.stderr
            return
        assert "the last good checkpoint" in full.stderr
        step = checkpoint.read_metadata(run)["zoo.step"]
        subprocess.run(["mount", "-o", "remount,size=2m", str(disk)], check=True)
        resumed = _zoo("train", "--resume", str(run), "-q", cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == "finished" and summary["step"] == STEPS >= step
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


@pytest.mark.slow
def test_a_read_only_folder_is_one_line_for_every_writer(tmp_path):
    disk = tmp_path / "ro"
    why = _mount_tmpfs(disk, "1m", ",ro")  # read-only for root too (chmod is not)
    if why:
        pytest.skip(why)
    try:
        run = tmp_path / "run"
        assert (
            _zoo("train", "regression", "--steps", "3", "--out", str(run), "-q", cwd=tmp_path).returncode == 0
        )
        for args in [
            ["export", str(run), "--format", "pt2", "--out", str(disk / "m.pt2")],
            ["export", str(run), "--format", "hub", "--out", str(disk / "hub")],
            ["train", "regression", "--steps", "3", "--out", str(disk / "run"), "-q"],
            ["compare", str(run), str(run), "--out", str(disk / "c.png")],
        ]:
            proc = _zoo(*args, cwd=tmp_path)
            print(proc.stderr.strip())
            assert proc.returncode == 2, (args, proc.stderr)
            assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("zoo: error: "), (
                args,
                proc.stderr,
            )
            assert "Read-only file system" in proc.stderr or "not writable" in proc.stderr, proc.stderr
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
