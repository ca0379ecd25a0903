"""Data-parallel training on torch.distributed: CPU workers over gloo, on loopback only.

The 2-worker runs go through ``zoo train --nproc 2`` (torch.distributed.run in this process, its
workers as subprocesses); the world-of-1 checks join a gloo group in this process.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from zoo_core import Trainer, hookimpl
from zoo_core.cli import cli
from zoo_core.plugin.discovery import PluginInfo, set_zoo
from zoo_core.store import checkpoint
from zoo_core.training.loop import train_model
from zoo_core.training.parallel import worker as distributed

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="this torch has no gloo backend",
)

STEPS = 30  # regression runs: full-batch SGD steps


# -- helpers ------------------------------------------------------------------------------------
def zoo(*args: str):
    """``zoo ARGS`` in this process; the workers it starts write to the real stdout/stderr."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def max_diff(a: dict, b: dict) -> float:
    assert sorted(a) == sorted(b)
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def metrics_rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_mnist_writer():
    """The real-format MNIST writer of the lesson tests (tests/plugins/conftest.py)."""
    spec = importlib.util.spec_from_file_location(
        "zoo_tests_mnist_files", Path(__file__).parent / "plugins" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_mnist


# A plugin installed the way pip would (a dist-info with a 'zoo' entry point) on PYTHONPATH, so
# that the worker processes find it too. Its trainer kills worker 1 at a chosen step.
PROBE_HOOKS = """
from zoo_core import hookimpl


@hookimpl
def register_trainers(registry):
    registry.add(
        "dies",
        factory="zoo_dist_probe.steps:DiesOnWorker1",
        summary="lesson 301's trainer; worker 1 exits at step $ZOO_TEST_DIE_AT",
        defaults={"loss": "mse", "eval_batch_size": 1000},
    )
    registry.add(
        "hangs",
        factory="zoo_dist_probe.steps:HangsOnWorker1",
        summary="lesson 301's trainer; worker 1 stops answering at step $ZOO_TEST_DIE_AT",
        defaults={"loss": "mse", "eval_batch_size": 1000},
    )
"""
PROBE_STEPS = """
import os
import time

from zoo_plugins.standard.fits import RegressionTrainer


class DiesOnWorker1(RegressionTrainer):
    steps = 0

    def step(self, model, batch, optimizers):
        self.steps += 1
        if os.environ.get("RANK") == "1" and str(self.steps) == os.environ.get("ZOO_TEST_DIE_AT"):
            os._exit(13)
        return super().step(model, batch, optimizers)


class HangsOnWorker1(RegressionTrainer):
    steps = 0

    def step(self, model, batch, optimizers):
        self.steps += 1
        if os.environ.get("RANK") == "1" and str(self.steps) == os.environ.get("ZOO_TEST_DIE_AT"):
            time.sleep(600)  # alive but silent, as a stopped or deadlocked worker is
        return super().step(model, batch, optimizers)
"""


@pytest.fixture(scope="module")
def probe_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    (site / "zoo_dist_probe").mkdir()
    (site / "zoo_dist_probe" / "__init__.py").write_text(PROBE_HOOKS)
    (site / "zoo_dist_probe" / "steps.py").write_text(PROBE_STEPS)
    info = site / "zoo_dist_probe-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zoo-dist-probe\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[zoo]\ndist-probe = zoo_dist_probe\n")
    return site


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory) -> dict:
    """Lesson 301 trained by 2 workers, each writing its copy of the weights for comparison."""
    root = tmp_path_factory.mktemp("two-workers")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(distributed.DEBUG_WEIGHTS_ENV, str(root / "ranks"))
        result = zoo(
            "train", "regression", "--steps", str(STEPS), "--nproc", "2", "--out", str(root / "run"), "-q"
        )
    assert result.exit_code == 0, result.output
    return {"run": root / "run", "ranks": root / "ranks"}


@pytest.fixture
def world_of_one(monkeypatch):
    """This process as the only worker of a torchrun job (gloo on loopback); left afterwards."""
    for key, value in {
        "RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_RANK": "0",
        "LOCAL_WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
    }.items():
        monkeypatch.setenv(key, value)
    yield
    distributed.teardown()


# -- two workers --------------------------------------------------------------------------------
@pytest.mark.numerics
def test_two_workers_match_one_process_on_regression(two_workers, tmp_path):
    run = two_workers["run"]
    # both workers ended with the very same weights
    rank0, rank1 = (weights(two_workers["ranks"] / f"rank{r}.safetensors") for r in (0, 1))
    assert max_diff(rank0, rank1) == 0.0
    # the checkpoint is the plain model (no 'module.' prefix) and loads in one process
    saved = weights(run / checkpoint.WEIGHTS)
    assert not [k for k in saved if k.startswith("module.")]
    model = checkpoint.load_model(run / checkpoint.WEIGHTS)
    assert max_diff(saved, {k: v for k, v in model.state_dict().items()}) == 0.0
    # one process with the same global batch (the full batch) takes the same steps
    single = train_model("regression", steps=STEPS, out=tmp_path / "single", quiet=True)
    assert max_diff(saved, weights(single.run_dir / checkpoint.WEIGHTS)) < 1e-5
    ddp_rows, one_rows = metrics_rows(run), metrics_rows(single.run_dir)
    assert [r["step"] for r in ddp_rows] == [r["step"] for r in one_rows]
    assert float(ddp_rows[-1]["loss"]) == pytest.approx(float(one_rows[-1]["loss"]), rel=1e-4)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["metrics"]["eval_loss"] == pytest.approx(single.metrics["eval_loss"], rel=1e-4)
    config = json.loads((run / "config.json").read_text())
    assert config["environment"]["distributed"] == {"world": 2, "backend": "gloo"}
    assert sorted(p.name for p in run.iterdir() if p.name.startswith("rank")) == []


@pytest.mark.numerics
def test_two_workers_match_one_process_on_the_cnn(tmp_path, monkeypatch, capfd):
    data = load_mnist_writer()(tmp_path / "data", n_train=200, n_test=50)
    monkeypatch.setenv(distributed.DEBUG_WEIGHTS_ENV, str(tmp_path / "ranks"))
    common = ["--epochs", "1", "--batch-size", "50", "--data-root", str(data), "--set", "channels=4,8"]
    result = zoo("train", "cnn", *common, "--nproc", "2", "--out", str(tmp_path / "ddp"))
    assert result.exit_code == 0, result.output
    out = capfd.readouterr().out
    assert out.count("done: 4 steps") == 1  # worker 0 alone reports
    rank0, rank1 = (weights(tmp_path / "ranks" / f"rank{r}.safetensors") for r in (0, 1))
    assert max_diff(rank0, rank1) == 0.0
    single = train_model(
        "cnn", epochs=1, batch_size=50, data_root=str(data), sets=["channels=4,8"], out=tmp_path / "one"
    )
    assert max_diff(rank0, weights(single.run_dir / checkpoint.WEIGHTS)) < 1e-5
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["metrics"]["accuracy"] == pytest.approx(single.metrics["accuracy"])
    assert summary["metrics"]["eval_loss"] == pytest.approx(single.metrics["eval_loss"], rel=1e-4)
    assert (tmp_path / "ddp" / "predictions.png").exists()


def test_a_dead_worker_stops_the_run_and_it_resumes(two_workers, probe_site, tmp_path, monkeypatch, capfd):
    monkeypatch.syspath_prepend(str(probe_site))
    monkeypatch.setenv("PYTHONPATH", str(probe_site))
    previous = set_zoo(None)  # rediscover the plugins, the probe included
    try:
        run = tmp_path / "run"
        monkeypatch.setenv("ZOO_TEST_DIE_AT", "8")
        args = ["--trainer", "dies", "--set", "checkpoint_every=5", "--nproc", "2", "-q"]
        result = zoo("train", "regression", "--steps", str(STEPS), *args, "--out", str(run))
        assert result.exit_code == 13
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, result.output
        assert lines[0].startswith("zoo: error: worker 1 died (exit code 13); all 2 workers were stopped")
        assert f"the last checkpoint (step 5) in {run} is intact" in lines[0]
        assert f"--resume {run} --nproc 2" in lines[0]
        err = capfd.readouterr().err
        assert "Traceback" not in err and "zoo: internal error" not in err
        # the last checkpoint is whole and loads in a single process
        assert checkpoint.load_state(run / checkpoint.STATE)["step"] == 5
        checkpoint.load_model(run / checkpoint.WEIGHTS)
        assert json.loads((run / "summary.json").read_text())["status"] in (
            "running",
            "failed",
        )  # not finished

        monkeypatch.delenv("ZOO_TEST_DIE_AT")
        result = zoo("train", "--resume", str(run), "--nproc", "2", "-q")
        assert result.exit_code == 0, result.output
    finally:
        set_zoo(previous)
    # the resumed run ends exactly where the uninterrupted one did
    assert (
        max_diff(weights(run / checkpoint.WEIGHTS), weights(two_workers["run"] / checkpoint.WEIGHTS)) == 0.0
    )
    assert json.loads((run / "summary.json").read_text())["step"] == STEPS


def test_a_silent_worker_ends_the_job_after_the_timeout(probe_site, tmp_path, monkeypatch, capfd):
    monkeypatch.syspath_prepend(str(probe_site))
    monkeypatch.setenv("PYTHONPATH", str(probe_site))
    previous = set_zoo(None)
    try:
        run = tmp_path / "run"
        monkeypatch.setenv("ZOO_TEST_DIE_AT", "8")
        args = ["--trainer", "hangs", "--set", "checkpoint_every=5", "--nproc", "2", "--timeout", "5", "-q"]
        result = zoo("train", "regression", "--steps", str(STEPS), *args, "--out", str(run))
    finally:
        set_zoo(previous)
    assert result.exit_code == distributed.TIMED_OUT, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("zoo: error: worker 1 stopped answering: no reply within the 5 s --timeout")
    assert f"the last checkpoint (step 5) in {run} is intact" in line and f"--resume {run} --nproc 2" in line
    err = capfd.readouterr().err
    assert "Traceback" not in err and "zoo: internal error" not in err


# -- refused before any worker starts --------------------------------------------------------
def test_a_trainer_that_cannot_run_data_parallel_is_refused(tmp_path):
    result = zoo("train", "optimizers", "--nproc", "2", "--out", str(tmp_path / "run"))
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert re.fullmatch(
        r"zoo: error: trainer 'optimizers:[\w-]+' cannot run data-parallel \(\w+\.data_parallel is False\); "
        r"train it in one process, without --nproc or torchrun",
        line,
    ), line
    assert not (tmp_path / "run").exists()


def test_the_global_batch_must_split_evenly(tmp_path):
    result = zoo("train", "regression", "--batch-size", "25", "--nproc", "2", "--out", str(tmp_path / "run"))
    assert result.exit_code == 2
    assert "--batch-size 25 is the global batch and must split evenly over the 2 workers" in result.output


MPS_REFUSED = "zoo: error: --device mps: data-parallel training runs on CPUs (gloo) or CUDA GPUs (nccl)"


def test_mps_is_refused_before_any_worker_starts(tmp_path):
    result = zoo("train", "regression", "--nproc", "2", "--device", "mps", "--out", str(tmp_path / "run"))
    assert (result.exit_code, result.output.strip()) == (2, MPS_REFUSED)
    assert not (tmp_path / "run").exists()


def test_a_worker_refuses_mps_too(world_of_one, tmp_path):
    result = zoo("train", "regression", "--device", "mps", "--out", str(tmp_path / "run"))
    assert (result.exit_code, result.output.strip()) == (2, MPS_REFUSED)
    assert not (tmp_path / "run").exists()


def test_nproc_inside_a_worker_is_refused(world_of_one):
    result = zoo("train", "regression", "--nproc", "2")
    assert result.exit_code == 2
    assert "already a worker of a torchrun job" in result.output


def test_the_workers_run_the_typed_command_without_nproc():
    from pathlib import Path

    from zoo_core.training.parallel.launcher import worker_args

    typed = ["gan", "--steps", "3", "--set", "a=1", "--nproc", "2", "-q", "--out", "x", "--no-cuda-graphs"]
    assert worker_args(typed, Path("/runs/r")) == [
        "gan", "--steps", "3", "--set", "a=1", "-q", "--no-cuda-graphs", "--out", "/runs/r",
    ]  # fmt: skip
    resumed = ["--resume", "runs/r", "--nproc=2", "--steps", "9", "--config", "c.toml"]
    assert worker_args(resumed, None) == ["--resume", "runs/r", "--steps", "9", "--config", "c.toml"]


def test_the_launcher_resolves_what_the_workers_will_and_refuses_it_once(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "regression"\n[loop]\nspeed = 1\n')
    result = zoo("train", "--config", str(bad), "--nproc", "2", "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "unknown key 'loop.speed'" in result.output
    assert not (tmp_path / "run").exists()


# -- one worker in this process ---------------------------------------------------------------
class PartsStep(Trainer):
    """A step that calls the model's layers one by one instead of the model."""

    data_parallel = True

    def __init__(self, weight: float = 1.0):
        pass

    def configure_optimizers(self, model, make_optimizer):
        return {"main": make_optimizer(model.parameters())}

    def loss(self, model, batch):
        x, y = batch
        return {"loss": ((model[2](torch.tanh(model[0](x))) - y) ** 2).mean()}


class NotParallel(PartsStep):
    data_parallel = False


class Probes:
    @hookimpl
    def register_trainers(registry):
        registry.add("parts", factory=PartsStep, summary="calls layers", defaults={"weight": 1.0})
        registry.add("alone", factory=NotParallel, summary="one process only", defaults={"weight": 1.0})


@pytest.mark.numerics
def test_a_worker_of_one_trains_like_a_single_process(toy_zoo, world_of_one, tmp_path):
    ddp = train_model("toy", device="cpu", out=tmp_path / "ddp")
    assert ddp.device_reason == "worker 0 of 1, gloo"
    distributed.teardown()
    one = train_model("toy", device="cpu", out=tmp_path / "one")
    assert (
        max_diff(weights(ddp.run_dir / checkpoint.WEIGHTS), weights(one.run_dir / checkpoint.WEIGHTS)) == 0.0
    )
    assert ddp.metrics == pytest.approx(one.metrics)


def test_a_worker_refuses_steps_that_bypass_the_wrapper(toy_zoo, world_of_one, tmp_path):
    toy_zoo.add_plugin(Probes, PluginInfo(name="probes", module=__name__))
    with pytest.raises(distributed.ZooError, match="its step calls parts of the model"):
        train_model("toy", trainer="parts", device="cpu", out=tmp_path / "parts")
    with pytest.raises(distributed.ZooError, match=r"cannot run data-parallel \(NotParallel"):
        train_model("toy", trainer="alone", device="cpu", out=tmp_path / "alone")


# -- several machines, as docs/distributed.md starts them -------------------------------------
@pytest.mark.slow
def test_two_nodes_with_torchrun(tmp_path):
    """Two torchrun agents of one worker each (node ranks 0 and 1), meeting on loopback.

    The port is free when chosen, but another test's connection may take it before node 0 binds
    it; node 1 would then wait for a store that never comes. That, and only that, is tried again.
    """

    def node(rank: int, port: int, out: Path) -> subprocess.Popen:
        command = [
            sys.executable, "-m", "torch.distributed.run",
            "--nnodes", "2", "--nproc-per-node", "1", "--node-rank", str(rank),
            "--master-addr", "127.0.0.1", "--master-port", str(port),
            "-m", "zoo_core", "train", "regression", "--steps", "5", "--out", str(out), "-q",
        ]  # fmt: skip
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    for attempt in range(3):
        out = tmp_path / f"run{attempt}"
        port = free_port()
        nodes = [node(0, port, out), node(1, port, out)]
        outputs = []
        for p in nodes:
            if outputs and nodes[0].returncode != 0:
                p.kill()  # node 0 and its store are gone: node 1 would wait for them
            try:
                outputs.append(p.communicate(timeout=240)[0])
            except subprocess.TimeoutExpired:
                p.kill()
                outputs.append(p.communicate()[0])
        if [p.returncode for p in nodes] == [0, 0] or "address already in use" not in outputs[0].lower():
            break
    assert [p.returncode for p in nodes] == [0, 0], outputs
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == 5 and summary["device_reason"] == "worker 0 of 2, gloo"


def test_python_m_zoo_core_is_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "zoo_core", "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.startswith("zoo, version")
    assert result.stderr == ""


@pytest.mark.numerics
def test_a_manual_trainer_trains_data_parallel_with_averaged_gradients(tmp_path, monkeypatch):
    """The GAN steps its two optimizers itself: each averages its player's gradients over the workers."""
    monkeypatch.setenv(distributed.DEBUG_WEIGHTS_ENV, str(tmp_path / "ranks"))
    result = zoo(
        "train",
        "gan",
        "--steps",
        "30",
        "--batch-size",
        "32",
        "--nproc",
        "2",
        "--out",
        str(tmp_path / "run"),
        "-q",
    )
    assert result.exit_code == 0, result.output
    rank0, rank1 = (weights(tmp_path / "ranks" / f"rank{r}.safetensors") for r in (0, 1))
    assert rank0.keys() == rank1.keys() and max_diff(rank0, rank1) == 0.0  # one job: the same steps
    start = weights_of_untrained_gan()
    assert max_diff(rank0, start) > 0  # and they moved
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["step"] == 30 and 0 < summary["metrics"]["d_real"] < 1


def weights_of_untrained_gan():
    import torch

    import zoo_core

    torch.manual_seed(0)
    return {k: v.detach().clone() for k, v in zoo_core.create_model("gan").state_dict().items()}
