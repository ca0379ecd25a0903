"""CUDA graphs for the shared loop: the plumbing, checked on the CPU against the eager loop.

``ReplayBackend`` stands in for a CUDA graph (its "replay" re-runs the recorded step on the static
buffers), so warm-up counting, copy-in, cloned losses, odd batches and the fallback all run here;
the real capture is exercised by the CUDA-only test at the end (and by benchmarks/gpu.sh).
"""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from zoo_core import Trainer
from zoo_core.cli import cli
from zoo_core.training import graphs
from zoo_core.training.graphs import GraphedStep, ReplayBackend, make_capturable, wrap_step
from zoo_core.training.loop import train_model

pytestmark = pytest.mark.numerics  # every test here trains and compares what training computed


class Regress(Trainer):
    """MSE step with Adam: static shapes, no host syncs."""

    capturable = True

    def step(self, model, batch, optimizers):
        x, y = batch
        loss = ((model(x) - y) ** 2).mean()
        optimizers["main"].zero_grad(set_to_none=True)
        loss.backward()
        optimizers["main"].step()
        return {"loss": loss.detach()}


class TwoPlayers(Trainer):
    """A GAN-shaped step: noise drawn inside, two optimizers, the first backward reaching both nets."""

    capturable = True

    def configure_optimizers(self, model, make_optimizer):
        return {
            "g": torch.optim.Adam(model[0].parameters(), lr=0.01),
            "d": torch.optim.SGD(model[1].parameters(), lr=0.05, momentum=0.5),
        }

    def step(self, model, batch, optimizers):
        (real,) = batch
        g, d = model[0], model[1]
        z = torch.randn(real.shape[0], 2)
        fake = g(z)
        g_loss = -d(fake).mean()
        optimizers["g"].zero_grad(set_to_none=True)
        g_loss.backward()  # also leaves gradients on d, dropped below
        optimizers["g"].step()
        d_loss = (d(fake.detach()) - d(real)).mean()
        optimizers["d"].zero_grad(set_to_none=True)
        d_loss.backward()
        optimizers["d"].step()
        return {"g_loss": g_loss.detach(), "d_loss": d_loss.detach()}


def _regress_setup():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    return model, {"main": torch.optim.Adam(model.parameters(), lr=0.01)}


def _two_players_setup():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)))
    return model, TwoPlayers().configure_optimizers(model, None)


def _regress_batches(steps, size=16, last=None):
    gen = torch.Generator().manual_seed(1)
    sizes = [size] * steps if last is None else [size] * (steps - 1) + [last]
    out = []
    for n in sizes:
        x = torch.randn(n, 3, generator=gen)
        out.append((x, x.sum(1, keepdim=True).sin()))
    return out


def _real_batches(steps, size=8):
    gen = torch.Generator().manual_seed(2)
    return [(torch.randn(size, 4, generator=gen) + 1,) for _ in range(steps)]


def _train(run_step, setup, batches):
    """Train from ``setup()`` through ``run_step``: the losses as returned (kept) and the weights."""
    model, optimizers = setup()
    torch.manual_seed(5)  # noise drawn inside steps comes from here
    kept = [run_step(model, batch, optimizers) for batch in batches]
    return kept, {k: v.clone() for k, v in model.state_dict().items()}


def _values(kept):
    return [{k: v.item() for k, v in losses.items()} for losses in kept]


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "weights differ from the eager loop"


@pytest.mark.parametrize(
    ("trainer", "setup", "batches"),
    [
        (Regress(), _regress_setup, _regress_batches(12)),
        (TwoPlayers(), _two_players_setup, _real_batches(12)),
    ],
    ids=["adam", "two-optimizers-with-noise"],
)
def test_graphed_step_matches_the_eager_loop_bit_for_bit(trainer, setup, batches):
    eager, eager_weights = _train(trainer.step, setup, batches)
    backend = ReplayBackend()
    said = []
    graphed = GraphedStep(trainer.step, backend, warmup=3, say=said.append)
    kept, weights = _train(graphed, setup, batches)
    # the losses kept from every step are their own tensors (a graph's outputs are overwritten)
    assert _values(kept) == _values(eager)
    _assert_same_weights(weights, eager_weights)
    # three eager warm-up steps, one capture, then replays for the other nine (the first included)
    assert (backend.prepared, backend.warm_calls, backend.captures, backend.replays) == (1, 3, 1, 9)
    assert (graphed.status, graphed.warmed, graphed.replays, graphed.eager_steps) == ("captured", 3, 9, 0)
    assert said == [
        "cuda graphs: step captured after 3 warm-up steps and replayed from now on "
        "(--set cuda_graphs=false turns this off)"
    ]


def test_batches_are_copied_into_static_buffers_and_losses_are_clones():
    backend = ReplayBackend()
    graphed = GraphedStep(Regress().step, backend, warmup=1)
    model, optimizers = _regress_setup()
    batches = _regress_batches(4)
    first_replayed = None
    for i, batch in enumerate(batches):
        out = graphed(model, batch, optimizers)
        if i == 1:
            first_replayed = out["loss"]
        if i >= 1:
            static = graphed._static_batch
            assert static[0] is not batch[0] and torch.equal(static[0], batch[0])
            assert out["loss"].data_ptr() != backend.outputs["loss"].data_ptr()
    # the loss handed out at the first replay was not overwritten by later replays
    assert first_replayed.item() != backend.outputs["loss"].item()


def test_a_differently_shaped_batch_runs_eagerly_and_is_said_once():
    batches = _regress_batches(9, size=16, last=5) + _regress_batches(9, size=16, last=5)
    eager, eager_weights = _train(Regress().step, _regress_setup, batches)
    said = []
    graphed = GraphedStep(Regress().step, ReplayBackend(), warmup=2, say=said.append)
    kept, weights = _train(graphed, _regress_setup, batches)
    assert _values(kept) == _values(eager)
    _assert_same_weights(weights, eager_weights)
    assert graphed.status == "captured" and graphed.eager_steps == 2  # both size-5 batches
    odd = [s for s in said if "differs" in s]
    assert odd == [
        "cuda graphs: a batch shaped 5x3, 5x1 differs from the captured 16x3, 16x1; such batches run eagerly"
    ]


def test_a_failed_capture_falls_back_to_eager_with_one_line():
    batches = _real_batches(8)
    eager, eager_weights = _train(TwoPlayers().step, _two_players_setup, batches)
    backend = ReplayBackend(
        fail=RuntimeError("operation not permitted when stream is capturing\nmore detail")
    )
    said = []
    graphed = GraphedStep(TwoPlayers().step, backend, warmup=3, say=said.append)
    kept, weights = _train(graphed, _two_players_setup, batches)
    assert _values(kept) == _values(eager)
    _assert_same_weights(weights, eager_weights)
    assert said == [
        "cuda graphs: off, the step runs eagerly: capture failed "
        "(RuntimeError: operation not permitted when stream is capturing)"
    ]
    assert graphed.status == "eager" and backend.captures == 1  # never retried
    assert graphed.eager_steps == 5 and graphed.replays == 0


def test_a_step_returning_numbers_is_not_kept_as_a_graph():
    class Numbers(Regress):
        def step(self, model, batch, optimizers):
            return {"loss": float(super().step(model, batch, optimizers)["loss"])}

    batches = _regress_batches(6)
    eager, eager_weights = _train(Numbers().step, _regress_setup, batches)
    said = []
    graphed = GraphedStep(Numbers().step, ReplayBackend(), warmup=2, say=said.append)
    kept, weights = _train(graphed, _regress_setup, batches)
    assert [k["loss"] for k in kept] == [k["loss"] for k in eager]
    _assert_same_weights(weights, eager_weights)
    assert graphed.status == "eager"
    assert said == [
        "cuda graphs: off, the step runs eagerly: the step returned non-tensor values for ['loss']"
    ]


# -- when fit uses it -------------------------------------------------------------------------------
class NotCapturable(Regress):
    capturable = False


@pytest.mark.parametrize(
    ("trainer", "loop", "preloaded", "backend", "expect", "notice"),
    [
        (Regress(), {}, True, None, "plain", None),  # the CPU: no graphs, nothing said
        (Regress(), {"cuda_graphs": False}, True, ReplayBackend(), "plain", None),
        (NotCapturable(), {}, True, ReplayBackend(), "plain", "trainer NotCapturable does not declare"),
        (Regress(), {}, False, ReplayBackend(), "plain", "not in-memory tensors"),
        (Regress(), {"cuda_graphs": True}, True, ReplayBackend(), "graphed", None),
    ],
    ids=["cpu", "switched-off", "not-capturable", "dataloader", "capturable"],
)
def test_wrap_step_decides_when_to_capture(trainer, loop, preloaded, backend, expect, notice):
    said = []
    step = wrap_step(
        trainer,
        torch.device("cpu"),
        enabled=loop.get("cuda_graphs", True),
        preloaded=preloaded,
        say=said.append,
        backend=backend,
    )
    assert isinstance(step, GraphedStep) if expect == "graphed" else step == trainer.step
    if notice:
        assert len(said) == 1 and said[0].startswith("cuda graphs: off") and notice in said[0]
    else:
        assert said == []


def test_make_capturable_switches_adam_but_checkpoints_keep_its_setting():
    model = nn.Linear(2, 1)
    adam = torch.optim.Adam(model.parameters(), lr=0.1)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.ones(3, 2)).sum().backward()
    adam.step()  # state exists, its step counter on the CPU (as after a resume)
    assert make_capturable({"adam": adam, "sgd": sgd}) == ["adam"]
    assert make_capturable({"adam": adam}) == []  # already switched: nothing to do
    assert all(g["capturable"] for g in adam.param_groups)
    for state in adam.state.values():
        assert state["step"].dtype == torch.float32 and state["step"].device == model.weight.device
    saved = adam.state_dict()
    assert [g["capturable"] for g in saved["param_groups"]] == [False]  # what the user asked for
    fresh = torch.optim.Adam(nn.Linear(2, 1).parameters(), lr=0.1)
    fresh.load_state_dict(saved)  # resumes as a plain Adam anywhere, the CPU included
    assert fresh.param_groups[0]["capturable"] is False
    assert len(adam._optimizer_state_dict_post_hooks) == 1


def test_backend_is_cuda_only():
    assert graphs._backend_for(torch.device("cpu")) is None


# -- through the shared loop ------------------------------------------------------------------------
def _weights(run_dir):
    from safetensors.torch import load_file

    return load_file(str(run_dir / "model.safetensors"))


def test_fit_replays_the_step_and_trains_exactly_as_eagerly(toy_zoo, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(graphs, "_backend_for", lambda device: ReplayBackend())  # "CUDA" on the CPU
    graphed = train_model("toy", out=tmp_path / "graphed", device="cpu", seed=4, quiet=False)
    out = capsys.readouterr().out
    assert "cuda graphs: step captured after 3 warm-up steps" in out
    eager = train_model(
        "toy", out=tmp_path / "eager", device="cpu", seed=4, sets=["cuda_graphs=false"], quiet=False
    )
    assert "cuda graphs" not in capsys.readouterr().out
    assert [r["loss"] for r in graphed.history] == [r["loss"] for r in eager.history]
    a, b = _weights(tmp_path / "graphed"), _weights(tmp_path / "eager")
    assert all(torch.equal(a[k], b[k]) for k in a)
    saved = json.loads((tmp_path / "eager" / "config.json").read_text())["config"]["loop"]
    assert saved["cuda_graphs"] is False
    assert graphed.config.loop.cuda_graphs is True


def test_no_cuda_graphs_flag_sets_the_loop_setting(toy_zoo, tmp_path):
    result = CliRunner().invoke(
        cli, ["train", "toy", "--device", "cpu", "--no-cuda-graphs", "--out", str(tmp_path / "r"), "-q"]
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "r" / "config.json").read_text())["config"]["loop"]
    assert saved["cuda_graphs"] is False


# -- the real thing ---------------------------------------------------------------------------------
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_graph_capture_matches_eager_within_rounding():
    device = torch.device("cuda")

    def setup():
        model, _ = _regress_setup()
        model = model.to(device)
        return model, {"main": torch.optim.Adam(model.parameters(), lr=0.01)}

    batches = [tuple(t.to(device) for t in b) for b in _regress_batches(40)]
    eager, eager_weights = _train(Regress().step, setup, batches)
    said = []
    graphed = GraphedStep(Regress().step, graphs.CudaBackend(device), say=said.append)
    kept, weights = _train(graphed, setup, batches)
    assert graphed.status == "captured", said
    assert graphed.replays == 37
    for a, b in zip(_values(kept), _values(eager), strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4, abs=1e-6)
    for key in weights:
        torch.testing.assert_close(weights[key], eager_weights[key], rtol=1e-4, atol=1e-5)
