"""The loop owns optimization: precision, accumulation, clipping, schedulers, compile; a step of plugin API 1 is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

import zoo_core
from tests.conftest import Toy
from zoo_core import Optimization, Trainer, ZooError, hookimpl
from zoo_core.cli import cli
from zoo_core.training.loop import Interrupted, train_model
from zoo_plugins import standard as builtin_schedulers

pytestmark = pytest.mark.numerics


def _weights(run_dir):
    from safetensors.torch import load_file

    return load_file(str(run_dir / "model.safetensors"))


class AutoStep(Trainer):
    """The API-2 form of the toy's MSE step: it returns the loss, the loop optimizes it."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def loss(self, model, batch):
        x, y = batch
        return {"loss": self.weight * ((model(x) - y) ** 2).mean()}


class Auto:
    @hookimpl
    def register_trainers(registry):
        registry.add("auto", factory=AutoStep, defaults={"weight": 1.0})


class Halving:
    """A third-party scheduler: halve the learning rate every optimizer step."""

    @hookimpl
    def register_schedulers(registry):
        registry.add(
            "halve",
            factory=lambda optimizer, total_steps, factor=0.5: torch.optim.lr_scheduler.ExponentialLR(
                optimizer, gamma=factor
            ),
            summary="x0.5 per step",
            defaults={"factor": 0.5},
        )


# -- accumulation, clipping, precision ------------------------------------------------------------
def test_accumulating_four_quarter_batches_is_one_full_batch():
    """Regression lesson: 4 x 25 accumulated equals the full batch of 100 (same sum, other order)."""
    whole = train_model("regression", device="cpu", steps=60)
    parts = train_model("regression", device="cpu", steps=60, batch_size=25, accumulate=4)
    assert parts.step == whole.step == 60
    assert len(parts.history) == len(whole.history)
    # The gradients differ only by the order of float32 additions (a few ulps per step); after 60
    # SGD steps the weights measured 3e-7 apart here, so 1e-5 leaves room for any CPU while a
    # wrong scale (no 1/4) or a step per micro-batch moves them by 1e-2 or more.
    for key, value in whole.model.state_dict().items():
        torch.testing.assert_close(parts.model.state_dict()[key], value, rtol=0, atol=1e-5)
    one_step_each = train_model("regression", device="cpu", steps=15, batch_size=25)
    assert one_step_each.step == 15  # without --accumulate every micro-batch is a step


def test_gradient_clipping_limits_the_update(make_zoo):
    make_zoo(Toy, Auto)
    optimizer_steps = []
    for clip in (None, 1e-3):
        result = train_model("toy", trainer="auto", device="cpu", steps=1, batch_size=64, grad_clip=clip)
        optimizer_steps.append(result.model)
    torch.manual_seed(0)  # the run's seed: the weights both runs started from
    start = zoo_core.create_model("toy")
    moved = [
        float(
            torch.cat(
                [(p - q).detach().flatten() for p, q in zip(m.parameters(), start.parameters(), strict=True)]
            ).norm()
        )
        for m in optimizer_steps
    ]
    assert moved[1] == pytest.approx(0.1 * 1e-3, rel=1e-3)  # lr 0.1 x a gradient of norm 1e-3
    assert moved[0] > 100 * moved[1]


def test_optimization_scales_backward_and_steps_at_the_end_of_a_window():
    net = torch.nn.Linear(2, 1)
    opt = Optimization({"main": torch.optim.SGD(net.parameters(), lr=1.0)}, accumulate=2)
    before = net.weight.detach().clone()
    x = torch.ones(1, 2)
    opt.backward(net(x).sum())
    opt.step()
    assert torch.equal(net.weight, before) and not opt.end_micro_batch()  # kept, not stepped
    opt.backward(net(x).sum())
    opt.step()
    assert opt.end_micro_batch()
    torch.testing.assert_close(net.weight.detach(), before - 1.0)  # the mean of two gradients of 1
    assert net.weight.grad is None  # zeroed after the step


def test_bf16_mixed_trains_and_keeps_float32_weights(tmp_path):
    result = train_model("classification", device="cpu", steps=20, precision="bf16-mixed", out=tmp_path / "r")
    assert all(v.dtype == torch.float32 for v in _weights(tmp_path / "r").values())
    assert result.metrics["accuracy"] > 0.9
    saved = json.loads((tmp_path / "r" / "config.json").read_text())["config"]["loop"]
    assert saved["precision"] == "bf16-mixed"


def test_16_mixed_on_the_cpu_is_one_line():
    result = CliRunner().invoke(cli, ["train", "regression", "--device", "cpu", "--precision", "16-mixed"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "zoo: error: --precision 16-mixed needs a CUDA device (it scales the loss with a GradScaler); "
        "on cpu use --precision bf16-mixed or 32-true"
    ]


def test_bad_loop_values_are_refused(tmp_path):
    for sets, message in (
        (["grad_clip=-1"], "grad_clip must be a positive number"),
        (["accumulate=0"], "accumulate must be a positive whole number"),
        (["precision=fp8"], "precision 'fp8': choose one of"),
        (["compile_mode=fast"], "compile_mode 'fast': choose one of"),
    ):
        with pytest.raises(ZooError, match=message):
            train_model("regression", device="cpu", sets=sets, out=tmp_path / "never")
    assert not (tmp_path / "never").exists()


# -- schedulers ----------------------------------------------------------------------------------
def test_cosine_runs_to_zero_and_the_lr_is_logged(tmp_path):
    result = train_model("regression", device="cpu", steps=40, scheduler="cosine", sets=["warmup_steps=10"])
    lrs = [row["lr"] for row in result.history]
    assert lrs[4] == pytest.approx(0.2 * 6 / 10)  # warm-up: after step 5 the factor for step 6
    assert max(lrs) == pytest.approx(0.2) and lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert "lr" not in result.metrics
    header = (result.run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "lr" in header


def test_resume_with_a_scheduler_is_bit_identical(tmp_path):
    def press_ctrl_c(step):
        if step == 17:
            os.kill(os.getpid(), signal.SIGINT)

    options = {"device": "cpu", "steps": 40, "scheduler": "onecycle", "batch_size": 25, "accumulate": 2}
    with pytest.raises(Interrupted):
        train_model("regression", out=tmp_path / "cut", on_step=press_ctrl_c, **options)
    resumed = train_model(resume=tmp_path / "cut", device="cpu")
    train_model("regression", out=tmp_path / "whole", **options)
    cut, whole = _weights(tmp_path / "cut"), _weights(tmp_path / "whole")
    assert all(torch.equal(cut[k], whole[k]) for k in whole)
    assert [r["lr"] for r in resumed.history] == [
        r["lr"] for r in csv_rows(tmp_path / "whole" / "metrics.csv")
    ]


def csv_rows(path):
    import csv

    with open(path) as fh:
        return [{k: float(v) for k, v in row.items() if v} for row in csv.DictReader(fh)]


def test_a_third_party_scheduler_is_listed_and_used(make_zoo):
    make_zoo(Toy, Auto, Halving, builtin_schedulers)
    assert [e.name for e in zoo_core.get_zoo().schedulers.list("h*")] == ["halve"]
    result = train_model(
        "toy", trainer="auto", scheduler="halve", device="cpu", steps=4, sets=["factor=0.25", "log_every=1"]
    )
    assert [row["lr"] for row in result.history] == pytest.approx([0.1 * 0.25**k for k in range(1, 5)])
    listed = CliRunner().invoke(cli, ["list", "schedulers", "--json"])
    assert {e["name"] for e in json.loads(listed.output)} >= {"halve", "cosine", "constant"}


# -- plugin API 1 is refused ----------------------------------------------------------------------
class OwnSteps(Trainer):
    """A step of plugin API 1: it steps the optimizer itself, without ``manual = True``."""

    def step(self, model, batch, optimizers):
        x, y = batch
        loss = ((model(x) - y) ** 2).mean()
        optimizers["main"].zero_grad()
        loss.backward()
        optimizers["main"].step()
        return {"loss": loss.detach()}


class ApiOne:
    @hookimpl
    def register_trainers(registry):
        registry.add("own-steps", factory=OwnSteps)


def test_a_version_1_trainer_is_refused_in_one_line_before_the_run(make_zoo, tmp_path):
    make_zoo(Toy, ApiOne)
    result = CliRunner().invoke(
        cli, ["train", "toy", "--trainer", "own-steps", "--device", "cpu", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 2
    assert result.output.strip() == (
        "zoo: error: trainer 'apione:own-steps' overrides step() without manual = True (plugin API 1, no "
        "longer run): implement loss(model, batch) instead, or set manual = True and step through "
        "opt.backward(loss) and opt.step()"
    )
    assert not (tmp_path / "r" / "model.safetensors").exists()


# -- compile ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_compile_that_cannot_work_is_one_line(tmp_path):
    """Without a C++ compiler torch.compile cannot build its CPU kernels: one line, how to go on."""
    env = {**os.environ, "CXX": str(tmp_path / "no-such-compiler")}
    done = subprocess.run(
        [sys.executable, "-m", "zoo_core", "train", "regression", "--steps", "2", "--compile", "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: error: --compile failed: ")
    assert lines[0].endswith("; train without --compile")
