"""Lesson 305: the batches of x = 1..10, exactly as the shared loop draws them."""

from __future__ import annotations

import torch
from click.testing import CliRunner
from torch import nn

import zoo_core
import zoo_plugins.mini_batch
from zoo_core import hookimpl
from zoo_core.cli import cli
from zoo_plugins.mini_batch.lesson import batches, linspace_pairs

ALL = list(range(1, 11))


def _xs(drawn):
    return [[int(v) for v in batch[0].tolist()] for _, _, batch in drawn]


def test_dataset():
    x, y = zoo_core.create_dataset("linspace-pairs").train.tensors
    assert x.tolist() == [float(v) for v in ALL]
    assert y.tolist() == [float(v) for v in reversed(ALL)]


def test_default_batches_cover_every_sample_each_epoch():
    drawn = batches(linspace_pairs().train)  # batch 5, shuffled, 3 epochs, seed 0
    assert [(e, s) for e, s, _ in drawn] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    xs = _xs(drawn)
    assert all(len(b) == 5 for b in xs)
    for epoch in range(3):
        assert sorted(xs[2 * epoch] + xs[2 * epoch + 1]) == ALL
    orders = [xs[2 * e] + xs[2 * e + 1] for e in range(3)]
    assert len({tuple(o) for o in orders}) == 3 and ALL not in orders  # shuffled, newly each epoch
    for _, _, (bx, by) in drawn:  # pairs stay pairs
        assert torch.equal(bx + by, torch.full_like(bx, 11.0))
    assert _xs(batches(linspace_pairs().train)) == xs  # the seed fixes the order
    assert _xs(batches(linspace_pairs().train, seed=1)) != xs


def test_batch_8_leaves_2_and_drop_last_drops_them():
    xs = _xs(batches(linspace_pairs().train, batch_size=8))
    assert [len(b) for b in xs] == [8, 2] * 3
    xs = _xs(batches(linspace_pairs().train, batch_size=8, drop_last=True))
    assert [len(b) for b in xs] == [8] * 3
    xs = _xs(batches(linspace_pairs().train, batch_size=8, shuffle=False, epochs=1))
    assert xs == [ALL[:8], ALL[8:]]


class _Recorder:
    """A test plugin: a one-weight model and a trainer that records the x of every batch it gets."""

    seen: list[list[int]] = []

    class Step(zoo_core.Trainer):
        def loss(self, model, batch):
            x, y = batch
            _Recorder.seen.append([int(v) for v in x.tolist()])
            return {"loss": (model(x.unsqueeze(1)).squeeze(1) - y).pow(2).mean()}

    @hookimpl
    def register_models(self, registry):
        registry.add(
            "line",
            factory=lambda: nn.Linear(1, 1),
            dataset="linspace-pairs",
            optimizer="plain",
            trainer="record",
            recipe={"lr": 0.001, "batch_size": 5, "epochs": 3},
        )

    @hookimpl
    def register_optimizers(self, registry):
        registry.add("plain", factory=lambda params, lr: torch.optim.SGD(params, lr=lr))

    @hookimpl
    def register_trainers(self, registry):
        registry.add("record", factory=_Recorder.Step)


def test_shared_loop_draws_the_same_batches(make_zoo, tmp_path):
    make_zoo(zoo_plugins.mini_batch, _Recorder())
    for settings, sets in [
        ({}, []),
        ({"batch_size": 8, "seed": 4}, ["shuffle=false"]),
        ({"batch_size": 8, "seed": 7}, ["drop_last=true"]),
    ]:
        _Recorder.seen = []
        zoo_core.train(
            "line",
            sets=sets,
            out=tmp_path / f"run{len(sets)}{settings.get('seed', 0)}",
            device="cpu",
            quiet=True,
            **settings,
        )
        shown = batches(
            linspace_pairs().train,
            batch_size=settings.get("batch_size", 5),
            epochs=3,
            shuffle="shuffle=false" not in sets,
            drop_last="drop_last=true" in sets,
            seed=settings.get("seed", 0),
        )
        assert _Recorder.seen == _xs(shown)


def test_command_prints_batches():
    runner = CliRunner()
    result = runner.invoke(cli, ["mini-batch"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Epoch:")]
    assert len(lines) == 6 and lines[0].startswith("Epoch: 0 | Step: 0 | batch x: [")
    assert all(len(line.split("batch x: [")[1].split("]")[0].split()) == 5 for line in lines)

    result = runner.invoke(cli, ["mini-batch", "--batch-size", "8", "--epochs", "1", "--no-shuffle"])
    assert result.exit_code == 0, result.output
    assert "Epoch: 0 | Step: 0 | batch x: [1 2 3 4 5 6 7 8] | batch y: [10 9 8 7 6 5 4 3]" in result.output
    assert "Epoch: 0 | Step: 1 | batch x: [9 10] | batch y: [2 1]" in result.output

    result = runner.invoke(cli, ["mini-batch", "--batch-size", "8", "--drop-last", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.count("Epoch:") == 3 and "Step: 1" not in result.output
