"""Run integrity and bad input, in one process: checkpoints commit as one unit, one process per
run folder, untrusted files checked before use, numbers that cannot train refused."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file, save_file

import zoo_core
from zoo_core import ZooError
from zoo_core.plugin import atomic
from zoo_core.serve.evaluation import evaluate_run
from zoo_core.store import checkpoint, lock
from zoo_core.training.loop import train_model


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
        atomic.commit(
            run, {"model.safetensors": weights, "state.safetensors": state_dies}, checkpoint.CHECKPOINT_FILES
        )
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
    resumed = train_model(resume=run, steps=20, device="cpu")  # longer, so the resume has work to do
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
        train_model(resume=a, steps=50, device="cpu")
    assert (a / "state.safetensors").read_bytes() == before


def test_files_are_written_with_the_users_umask(toy_zoo, tmp_path):
    from zoo_core.serve.export import export
    from zoo_core.serve.hub import write_folder

    run = tmp_path / "run"
    train_model("toy", out=run, device="cpu", sets=["eval_every=10"], save_format="both")
    write_folder(run, tmp_path / "hub")
    export(run, "pt2")
    want = 0o666 & ~atomic._UMASK
    written = [
        *(run / name for name in ("model.safetensors", "state.safetensors", "model.pt", "best.safetensors")),
        *(run / name for name in ("config.json", "metrics.csv", "summary.json", "loss.png", "model.pt2")),
        *(tmp_path / "hub" / name for name in ("model.safetensors", "config.json", "README.md")),
    ]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == want, path


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


def test_the_loser_of_a_race_waits_a_moment_for_the_winner_to_sign(tmp_path, monkeypatch):
    import threading

    (tmp_path / "run").mkdir()
    owner = tmp_path / "run" / lock.OWNER
    assert lock.holder(tmp_path / "run") == "another process"  # no wait: not signed yet
    looked = threading.Event()  # set when the loser has looked once and found no signature
    real_sleep = time.sleep

    def sleep(seconds):
        looked.set()
        real_sleep(seconds)

    monkeypatch.setattr(
        lock, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep, strftime=time.strftime)
    )
    winner = threading.Thread(target=lambda: looked.wait(60) and owner.write_text('{"pid": 77}'))
    winner.start()  # the winner signs only once the loser is already waiting
    try:
        assert lock.holder(tmp_path / "run", wait=120.0) == "process 77"
    finally:
        looked.set()
        winner.join()
    assert owner.exists()


def test_resume_takes_the_lock_too(toy_zoo, tmp_path):
    run = tmp_path / "run"
    train_model("toy", out=run, device="cpu", steps=10)
    before = (run / "state.safetensors").read_bytes()
    other = _held_elsewhere(run)
    try:
        with pytest.raises(ZooError, match="in use by process 4242"):
            train_model(resume=run, steps=50, device="cpu")
    finally:
        other.release()
    assert (run / "state.safetensors").read_bytes() == before
    assert not lock.held(run)


def test_a_finished_run_in_the_folder_is_seen_after_taking_the_lock(toy_zoo, tmp_path, monkeypatch):
    # The loser of a race checks "empty" before the winner writes, then gets the lock after it ended.
    from zoo_core.store import runs

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


def test_a_run_whose_process_is_gone_is_listed_as_died_not_running(toy_zoo, tmp_path, monkeypatch):
    from zoo_core.store.runs import list_runs

    monkeypatch.setenv("ZOO_RUNS_DIR", str(tmp_path / "runs"))
    run = tmp_path / "runs" / "toy" / "killed"
    train_model("toy", out=run, device="cpu", steps=5)
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "status": "running"}))  # as kill -9 leaves it
    assert [r["status"] for r in list_runs()] == ["died"]
    assert [r["status"] for r in list_runs(status="died")] == ["died"]
    other = _held_elsewhere(run)  # a live process holds it: it is running
    try:
        assert [r["status"] for r in list_runs()] == ["running"]
    finally:
        other.release()
    (run / lock.LOCK).unlink()
    assert [r["status"] for r in list_runs()] == ["died"]


# -- 3. untrusted metadata never decides allocation or paths ------------------------------------------
def _rewrite_metadata(path, change):
    """The same tensors, with the zoo.config of the metadata changed as an attacker would."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    config = json.loads(meta["zoo.config"])
    change(config)
    meta["zoo.config"] = json.dumps(config)
    save_file(tensors, str(path), metadata=meta)


def test_metadata_asking_for_a_huge_net_is_refused_before_allocating(toy_zoo, tmp_path, monkeypatch):
    train_model("toy", out=tmp_path / "run", device="cpu")
    path = tmp_path / "run" / "model.safetensors"
    _rewrite_metadata(path, lambda c: c["model_params"].update(hidden=10**11))  # 800 GB of weights
    assert path.stat().st_size < 4000
    devices = []  # where every parameter built on the way was allocated
    real = torch.nn.Module.register_parameter

    def register_parameter(module, name, param):
        if param is not None:
            devices.append(param.device.type)
        return real(module, name, param)

    monkeypatch.setattr(torch.nn.Module, "register_parameter", register_parameter)
    with pytest.raises(ZooError, match=r"weights do not fit the model; shape mismatch"):
        evaluate_run(path, device="cpu")
    assert devices and set(devices) == {"meta"}  # refused from the shell on `meta`: nothing allocated


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["model_params"].update(hidden="8"), "must be a whole number, not '8'"),
        (lambda c: c["model_params"].update(depth=3), "has no setting 'depth'"),
        (lambda c: c["loop"].update(seed=1e30), "seed must be a whole number"),
        (lambda c: c["loop"].update(lr=float("nan")), "lr must be a finite number"),
        (lambda c: c.pop("model"), "'model' must name a registry entry"),
        (lambda c: c.update(dataset_params=[1]), "'dataset_params' must be a mapping"),
    ],
)
def test_metadata_is_validated_like_user_input(toy_zoo, tmp_path, change, message):
    train_model("toy", out=tmp_path / "run", device="cpu")
    path = tmp_path / "run" / "model.safetensors"
    _rewrite_metadata(path, change)
    with pytest.raises(ZooError, match=message):
        evaluate_run(path, device="cpu")


def test_a_path_inside_a_file_is_only_read_from(make_zoo, tmp_path):
    import shutil

    from tests.conftest import Toy, toy_line

    seen = []

    class Rooted:
        @zoo_core.hookimpl
        def register_datasets(registry):
            def rooted(n: int = 64, download: bool = True, data_root=None):
                seen.append((data_root, download))
                return toy_line(n)

            registry.add("rooted", factory=rooted, defaults={"n": 64, "download": True})

    make_zoo(Toy, Rooted)
    data = tmp_path / "data"
    data.mkdir()
    train_model("toy", dataset="rooted", out=tmp_path / "run", device="cpu", data_root=str(data))
    path = tmp_path / "run" / "model.safetensors"
    _rewrite_metadata(path, lambda c: c.update(data_root="/etc"))
    seen.clear()
    result = evaluate_run(path, device="cpu")  # where the run trained (its config.json), downloads off
    assert seen == [(str(data), False)] and result["data_root"] == str(data)
    evaluate_run(path, device="cpu", data_root=str(tmp_path))
    assert seen[-1] == (str(tmp_path), True)  # given by the user: the dataset's own settings
    alone = tmp_path / "alone.safetensors"
    shutil.copy(path, alone)
    evaluate_run(alone, device="cpu")
    assert seen[-1] == (None, True)  # the metadata's path is never used: the default root
    shutil.rmtree(data)
    evaluate_run(path, device="cpu")
    assert seen[-1] == (None, True)  # a recorded folder that is gone is never created
    assert not data.exists()


# -- 4. numbers that cannot train ---------------------------------------------------------------------
@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr": float("nan")}, "lr must be a finite number"),
        ({"lr": float("inf")}, "lr must be a finite number"),
        ({"sets": ["lr=nan"]}, "--set lr=nan: expected a finite number"),
        ({"sets": ["loop.lr=-inf"]}, "expected a finite number"),
        ({"sets": ["epochs=1", "steps=5"]}, "give either --epochs or --steps"),
        ({"epochs": 1, "sets": ["steps=5"]}, "give either --epochs or --steps"),
        ({"seed": 10**30}, "seed must be a whole number from 0 to 4294967295"),
        ({"sets": ["seed=-1"]}, "seed must be a whole number"),
        ({"sets": ["hidden=0"]}, r"model 'toy:toy' built with hidden=0.*has an empty weight 0.weight"),
        ({"sets": ["hidden=-5"]}, r"model 'toy:toy' could not be built with hidden=-5.*: .*negative"),
        ({"sets": ["optimizer.momentum=-1"]}, r"optimizer 'toy:sgd' could not be built with .*momentum=-1.0"),
    ],
)
def test_numbers_that_cannot_train_are_one_line_and_leave_nothing(toy_zoo, tmp_path, kwargs, message):
    with pytest.raises(ZooError, match=message) as err:
        train_model("toy", out=tmp_path / "run", device="cpu", **kwargs)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()


def test_one_length_given_by_set_replaces_the_recipes_other_one(toy_zoo, tmp_path):
    result = train_model("toy", out=tmp_path / "run", device="cpu", sets=["epochs=2"])
    assert result.config.loop.steps is None and result.step == 8  # 64 samples, batches of 16


class Diverges:
    """A trainer whose loss becomes NaN (and its weights with it) from step ``at`` on."""

    @zoo_core.hookimpl
    def register_trainers(registry):
        from tests.conftest import ToyStep

        class Poisoned(ToyStep):
            def __init__(self, at: int = 12) -> None:
                super().__init__()
                self.at, self.count = at, 0

            def step(self, model, batch, optimizers):
                losses = super().step(model, batch, optimizers)
                self.count += 1
                if self.count >= self.at:
                    with torch.no_grad():
                        model[0].weight.fill_(float("nan"))
                    return {"loss": torch.tensor(float("nan"))}
                return losses

        registry.add("poisoned", factory=Poisoned, defaults={"at": 12})


def test_a_loss_that_turns_nan_stops_the_run_and_keeps_the_last_good_checkpoint(make_zoo, tmp_path):
    from tests.conftest import Toy

    make_zoo(Toy, Diverges)
    run = tmp_path / "run"
    sets = ["checkpoint_every=5", "log_every=3"]  # NaN at 12, logged at 12; checkpoints at 5 and 10
    with pytest.raises(
        ZooError, match=r"training diverged: loss=nan at step 12; the last good checkpoint in .* is kept"
    ):
        train_model("toy", trainer="poisoned", out=run, device="cpu", sets=sets)
    assert checkpoint.read_metadata(run)["zoo.step"] == 10
    assert all(torch.isfinite(t).all() for t in _weights(run).values())
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"
    # a checkpoint between two logged rows is not saved with NaN weights either
    with pytest.raises(ZooError, match=r"non-finite weights in 0.weight at step 12"):
        train_model(
            "toy",
            trainer="poisoned",
            out=tmp_path / "b",
            device="cpu",
            sets=["checkpoint_every=4", "log_every=5"],
        )
    assert checkpoint.read_metadata(tmp_path / "b")["zoo.step"] == 8


def test_stop_on_nan_false_only_warns(make_zoo, tmp_path, capsys):
    from tests.conftest import Toy

    make_zoo(Toy, Diverges)
    result = train_model(
        "toy", trainer="poisoned", out=tmp_path / "run", device="cpu", sets=["stop_on_nan=false"], quiet=False
    )
    assert result.step == 30
    assert "warning: loss=nan at step" in capsys.readouterr().out

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    summary = json.loads((tmp_path / "run" / "summary.json").read_text(), parse_constant=refuse)
    assert summary["metrics"]["loss"] is None and summary["not_finite"]["metrics.loss"] == "nan"
    from click.testing import CliRunner

    from zoo_core.cli import cli

    for args in (["runs", "--json"], ["eval", str(tmp_path / "run"), "--json"]):
        listed = CliRunner().invoke(cli, args)
        assert listed.exit_code == 0, listed.output
        json.loads(listed.output, parse_constant=refuse)


# -- 9. hand-edited files are one line, never an internal error -------------------------------------
def _edit_state(path, change_skeleton=None, drop_tensor=None, change_tensors=None):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    skeleton = json.loads(meta["zoo.state"])
    if change_skeleton:
        change_skeleton(skeleton)
    if drop_tensor:
        tensors.pop(drop_tensor)
    if change_tensors:
        change_tensors(tensors)
    meta["zoo.state"] = json.dumps(skeleton)
    save_file(tensors, str(path), metadata=meta)


def _set(skeleton, key, value):
    for pair in skeleton["__dict__"]:
        if pair[0] == key:
            pair[1] = value


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"drop_tensor": "t0"}, "its contents do not match its description"),
        ({"change_skeleton": lambda s: _set(s, "step", 3.5)}, "'step' must be a whole number >= 0, not 3.5"),
        ({"change_skeleton": lambda s: _set(s, "step", -1)}, "'step' must be a whole number"),
        ({"change_skeleton": lambda s: _set(s, "rng", {"__dict__": []})}, "'rng' must hold"),
        (
            {
                "change_skeleton": lambda s: _set(
                    s, "rng", {"__dict__": [["python", 1], ["numpy", 2], ["torch", 3]]}
                )
            },
            "cannot restore the training state",
        ),
        (
            {"change_skeleton": lambda s: _set(s, "history", [{"__dict__": [["epoch", 1]]}])},
            "no whole-number 'step'",
        ),
        ({"change_skeleton": lambda s: _set(s, "optimizers", [])}, "'optimizers' must map names"),
        ({"change_skeleton": lambda s: s.clear()}, "cannot restore|not a mapping|'step'"),
    ],
)
def test_a_hand_edited_state_is_one_line_and_changes_nothing(toy_zoo, tmp_path, edit, message):
    run = tmp_path / "run"
    train_model("toy", out=run, device="cpu", steps=10)
    _edit_state(run / "state.safetensors", **edit)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    with pytest.raises(ZooError, match=message) as err:
        train_model(resume=run, steps=50, device="cpu")
    assert "\n" not in str(err.value)
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert after == before


def test_an_optimizer_state_of_the_wrong_shape_is_refused_before_training(make_zoo, tmp_path):
    from tests.conftest import Toy

    make_zoo(Toy)
    run = tmp_path / "run"
    train_model("toy", out=run, device="cpu", steps=10, sets=["momentum=0.9"])

    def widen(tensors):  # momentum buffers are the float tensors shaped like the weights
        key = next(k for k, t in tensors.items() if t.dim() == 2)
        tensors[key] = torch.zeros(3, 3)

    _edit_state(run / "state.safetensors", change_tensors=widen)
    with pytest.raises(ZooError, match=r"momentum_buffer of parameter \d has shape \(3, 3\)"):
        train_model(resume=run, steps=50, device="cpu")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c.pop("config"), "no resumable state"),
        (lambda c: c["config"].update(loop="fast"), "'loop' must be a mapping"),
        (lambda c: c["config"]["loop"].update(seed=1e30), "seed must be a whole number"),
        (lambda c: c["config"]["loop"].update(steps="ten"), "steps must be a whole number"),
        (lambda c: c["config"].update(save_format="zip"), "save_format 'zip' is not one of"),
        (lambda c: c["config"].update(model=7), "'model' must name a registry entry"),
    ],
)
def test_a_hand_edited_config_is_one_line(toy_zoo, tmp_path, edit, message):
    run = tmp_path / "run"
    train_model("toy", out=run, device="cpu", steps=10)
    config = json.loads((run / "config.json").read_text())
    edit(config)
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(ZooError, match=message):
        train_model(resume=run, steps=50, device="cpu")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_weights_file_says_permission_denied(toy_zoo, tmp_path):
    run = tmp_path / "run"
    train_model("toy", out=run, device="cpu", steps=5)
    (run / "model.safetensors").chmod(0)
    try:
        with pytest.raises(ZooError, match=r"model.safetensors: cannot read it \(Permission denied\)"):
            evaluate_run(run, device="cpu")
    finally:
        (run / "model.safetensors").chmod(0o644)
