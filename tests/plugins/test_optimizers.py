"""Lesson 306: the optimizer registry, the shared comparison trainer and the optimizer race."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import zoo_core
from zoo_core import ZooError
from zoo_core.cli import cli
from zoo_plugins.optimizers.lesson import Race, RaceNets
from zoo_plugins.standard.compare import Compare

PNG = b"\x89PNG\r\n\x1a\n"


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(1, 20), nn.ReLU(), nn.Linear(20, 1))


def _train(opt: torch.optim.Optimizer, net: nn.Module, steps: int = 30) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.rand(32, 1, generator=gen) * 2 - 1
        loss = (net(x) - x.pow(2)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()])


REFERENCE = {  # the tutorial's optimizers, as torch's plain for-loop implementation
    "sgd": (torch.optim.SGD, {}),
    "momentum": (torch.optim.SGD, {"momentum": 0.8}),
    "rmsprop": (torch.optim.RMSprop, {"alpha": 0.9}),
    "adam": (torch.optim.Adam, {}),
    "adagrad": (torch.optim.Adagrad, {}),
}


@pytest.mark.numerics
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_registry_optimizers_are_torchs_own_with_the_lessons_settings(name):
    """The same computation as torch's default optimizer, so bit-equal on any CPU."""
    cls, settings = REFERENCE[name]
    net = _net()
    opt = zoo_core.create_optimizer(name, net.parameters(), lr=0.01)
    assert type(opt) is cls
    for key, value in settings.items():
        assert opt.defaults[key] == value
    assert not opt.defaults.get("fused") and opt.defaults["foreach"] is None  # torch's own choice
    reference_net = _net()
    reference = cls(reference_net.parameters(), lr=0.01, **settings)
    assert torch.equal(_train(opt, net), _train(reference, reference_net))


@pytest.mark.numerics
@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "adagrad"])
def test_fused_is_an_opt_in_that_stays_close_to_the_for_loop(name):
    """A different kernel rounds differently (by instruction set): close, not equal, is the promise."""
    cls, settings = REFERENCE[name]
    net, reference_net = _net(), _net()
    opt = zoo_core.create_optimizer(name, net.parameters(), lr=0.01, fused=True)
    assert opt.defaults["fused"] is True
    reference = cls(reference_net.parameters(), lr=0.01, foreach=False, **settings)
    # float32 weights of order 0.1-1 after 30 steps: each step may differ by an ulp or two
    # (about 1e-7), and the differences may add up, so 1e-5 absolute leaves a wide margin
    # while any real difference in the update rule moves weights by far more.
    torch.testing.assert_close(_train(opt, net), _train(reference, reference_net), rtol=0, atol=1e-5)


def test_optimizer_settings():
    assert zoo_core.get_optimizer("momentum").defaults["momentum"] == 0.8
    assert zoo_core.get_optimizer("rmsprop").defaults["alpha"] == 0.9
    assert zoo_core.get_optimizer("adam").defaults["betas"] == (0.9, 0.999)  # torch's, for every lesson
    opt = zoo_core.create_optimizer("adam", _net().parameters(), lr=0.1, betas=[0.8, 0.9])
    assert opt.defaults["betas"] == (0.8, 0.9)
    with pytest.raises(ZooError, match="valid settings"):
        zoo_core.create_optimizer("sgd", _net().parameters(), lr=0.1, alpha=0.3)


def test_race_model_follows_its_optimizers_setting():
    model = zoo_core.create_model("optimizers")
    assert isinstance(model, nn.ModuleDict)
    assert list(model) == ["sgd", "momentum", "rmsprop", "adam"]
    shapes = {k: [tuple(p.shape) for p in net.parameters()] for k, net in model.items()}
    assert all(s == [(20, 1), (20,), (1, 20), (1,)] for s in shapes.values())
    weights = [net[0].weight for net in model.values()]
    assert not torch.equal(weights[0], weights[1])  # each net its own initial weights
    two = RaceNets(optimizers=("sgd", "adam"))
    assert list(two) == ["sgd", "adam"]
    with pytest.raises(ZooError):
        RaceNets(optimizers=("adam", "adam"))
    with pytest.raises(ZooError):
        RaceNets(optimizers=())


def test_race_routes_the_tutorials_settings():
    trainer = zoo_core.create_trainer("optimizer-race", momentum=0.5, betas=(0.8, 0.9))
    model = RaceNets()
    made = {}

    def make_optimizer(params, name=None, lr=None, **overrides):
        made[name] = overrides
        return zoo_core.create_optimizer(name, params, lr=0.01, **overrides)

    opts = trainer.configure_optimizers(model, make_optimizer)
    assert made == {
        "sgd": {},
        "momentum": {"momentum": 0.5},
        "rmsprop": {"alpha": 0.9},
        "adam": {"betas": (0.8, 0.9)},
    }
    assert opts["momentum"].defaults["momentum"] == 0.5 and opts["sgd"].defaults["momentum"] == 0
    assert opts["adam"].defaults["betas"] == (0.8, 0.9)
    assert Race.data_parallel is False and Compare.data_parallel is False


def test_compare_needs_a_module_dict():
    with pytest.raises(ZooError, match="ModuleDict"):
        Compare().configure_optimizers(_net(), lambda p, **kw: None)


def test_race_sees_identical_batches(tmp_path, monkeypatch):
    seen: dict[str, list[torch.Tensor]] = {}
    original = Race.step

    def recording_step(self, model, batch, optimizers):
        if not seen:
            for name, net in model.items():
                seen[name] = []
                net.register_forward_pre_hook(
                    lambda m, args, name=name: seen[name].append(args[0].clone()) if m.training else None
                )
        return original(self, model, batch, optimizers)

    monkeypatch.setattr(Race, "step", recording_step)
    result = zoo_core.train("optimizers", epochs=1, out=tmp_path / "run", device="cpu", quiet=True)
    assert result.step == 32  # 1000 points in batches of 32
    batches = list(seen.values())
    assert len(batches) == 4 and all(len(b) == 32 for b in batches)
    for step_inputs in zip(*batches, strict=True):
        assert all(torch.equal(step_inputs[0], other) for other in step_inputs[1:])
    assert sum(len(x) for x in batches[0]) == 1000  # one epoch: every point once
    assert not torch.equal(batches[0][0], torch.linspace(-1, 1, 1000)[:32, None])  # shuffled


def test_race_learns_sgd_slowest_and_reloads(tmp_path):
    """Four of the tutorial's 12 epochs: the adaptive optimizers are near the noise floor, SGD far off."""
    result = zoo_core.train("optimizers", epochs=4, out=tmp_path / "run", device="cpu", quiet=True)
    m = result.metrics
    assert set(m) >= {"mse_sgd", "mse_momentum", "mse_rmsprop", "mse_adam"}
    assert m["mse_rmsprop"] < 0.02 and m["mse_adam"] < 0.02 and m["mse_momentum"] < 0.06
    assert m["mse_sgd"] > 0.07  # the noise floor is 0.01
    assert m["mse_sgd"] > 4 * max(m["mse_rmsprop"], m["mse_adam"]) and m["mse_sgd"] > 1.5 * m["mse_momentum"]
    first = result.history[0]
    assert all(first[f"loss_{k}"] > 3 * m[f"mse_{k}"] for k in ("momentum", "rmsprop", "adam"))
    assert (result.run_dir / "race.png").read_bytes().startswith(PNG)

    model = zoo_core.load_model(result.run_dir)
    x, y = zoo_core.create_dataset("noisy-parabola", seed=0).train.tensors
    with torch.no_grad():
        for name, net in model.items():
            assert torch.nn.functional.mse_loss(net(x), y).item() == pytest.approx(m[f"mse_{name}"], rel=1e-5)


def test_race_setting_on_the_command_line(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli, ["train", "optimizers", "--set", "optimizers=sgd,adam", "--steps", "20", "--out", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    model = zoo_core.load_model(out)
    assert list(model) == ["sgd", "adam"]
    evaluated = CliRunner().invoke(cli, ["eval", str(out)])
    assert (
        evaluated.exit_code == 0 and "mse_sgd" in evaluated.output and "mse_rmsprop" not in evaluated.output
    )


def test_noisy_parabola_is_seeded():
    data = zoo_core.create_dataset("noisy-parabola", seed=0)
    x, y = data.train.tensors
    assert x.shape == (1000, 1) and data.eval is None
    torch.testing.assert_close(x[:, 0], torch.linspace(-1, 1, 1000))
    noise = y - x.pow(2)
    assert abs(noise.mean()) < 0.01 and 0.09 < noise.std() < 0.11
    assert torch.equal(y, zoo_core.create_dataset("noisy-parabola", seed=0).train.tensors[1])


def test_race_step_replays_like_eager():
    """The comparison step is capturable: recorded once and replayed, it trains exactly as eagerly."""
    graphs = pytest.importorskip("zoo_core.training.graphs")
    x, y = zoo_core.create_dataset("noisy-parabola", seed=0).train.tensors
    trained = []
    for graphed in (False, True):
        torch.manual_seed(0)
        model = RaceNets()
        trainer = zoo_core.create_trainer("optimizer-race")
        optimizers = trainer.configure_optimizers(
            model,
            lambda params, name=None, lr=None, **kw: zoo_core.create_optimizer(name, params, 0.01, **kw),
        )
        optimizers = zoo_core.Optimization(optimizers)
        step = graphs.GraphedStep(trainer.step, graphs.ReplayBackend()) if graphed else trainer.step
        for i in range(8):
            step(model, (x[32 * i : 32 * i + 32], y[32 * i : 32 * i + 32]), optimizers)
        trained.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert Race.capturable and step.status == "captured"
    assert torch.equal(trained[0], trained[1])
