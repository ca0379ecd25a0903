"""The built-in learning-rate schedulers: each builds, steps and saves a plain state."""

from __future__ import annotations

import pytest
import torch

import zoo_core
from zoo_core import ZooError
from zoo_core.store.state import flatten
from zoo_plugins.standard import schedulers as factories

#: learning-rate factors are Python arithmetic; no kernel computes them
SAME_ON_EVERY_KERNEL = True


@pytest.mark.parametrize("name", ["constant", "step", "exponential", "cosine", "onecycle", "linear-warmup"])
def test_every_builtin_scheduler_builds_and_saves_plain_state(name):
    net = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    scheduler = zoo_core.create_scheduler(name, optimizer, total_steps=100)
    if name == "constant":
        assert scheduler is None
        return
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    flatten(scheduler.state_dict(), {})  # no callables or objects: safetensors state holds it


def test_scheduler_settings_are_checked():
    with pytest.raises(ZooError, match=r"min_factor=2.0 must be between 0.0 and 1.0"):
        factories.cosine(torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1), 10, min_factor=2.0)


@pytest.mark.parametrize(
    ("scheduler", "sets", "message"),
    [
        ("onecycle", ["max_factor=0"], "max_factor=0.0 must be more than 0.0"),
        ("exponential", ["gamma=0"], "gamma=0.0 must be more than 0.0"),
        ("step", ["gamma=0"], "gamma=0.0 must be more than 0.0"),
        ("cosine", ["warmup_steps=50"], "warmup_steps=50 is longer than the run (20 optimizer steps)"),
        ("linear-warmup", ["warmup_steps=21"], "warmup_steps=21 is longer than the run (20 optimizer steps)"),
    ],
)
def test_schedules_that_cannot_train_are_refused_like_lr_0(scheduler, sets, message, tmp_path):
    with pytest.raises(ZooError, match=message.replace("(", r"\(").replace(")", r"\)")):
        zoo_core.train(
            "regression", steps=20, scheduler=scheduler, sets=sets, out=tmp_path / "r", device="cpu"
        )
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_cosine_factor_warms_up_then_falls_to_its_floor():
    factor = factories.CosineFactor(total_steps=20, warmup_steps=4, min_factor=0.1)
    assert [factor(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert factor(4) == pytest.approx(1.0) and factor(12) == pytest.approx(0.55)
    assert factor(20) == pytest.approx(0.1) and factor(30) == pytest.approx(0.1)


def test_linear_warmup_reaches_the_learning_rate():
    factor = factories.WarmupFactor(warmup_steps=4, start_factor=0.2)
    assert [factor(s) for s in range(6)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])
