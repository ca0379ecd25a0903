"""An optimizer's own lr, a model's expected results, tuple settings, and build errors at build time."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.conftest import Toy, toy_net
from zoo_core import PluginError, hookimpl
from zoo_core.cli import cli
from zoo_core.config.resolver import resolve
from zoo_core.plugin.registry import Registry


def lion(params, lr, betas=(0.9, 0.99)):
    """A stand-in for Lion: its lr is 10-100x smaller than Adam's, so it declares its own."""
    import torch

    return torch.optim.Adam(params, lr=lr, betas=betas)


def state_dict_net(**kwargs):
    """The mistake: a factory that returns a state dict, not the module."""
    import torch

    return torch.nn.Linear(1, 1).state_dict()


class Extras:
    @hookimpl
    def register_optimizers(registry):
        registry.add(
            "lion",
            factory=lion,
            summary="sign momentum",
            tags=["t"],
            defaults={"betas": (0.9, 0.99)},
            lr=1e-4,
        )

    @hookimpl
    def register_models(registry):
        # its own optimizer declares an lr and the recipe names none: the optimizer's lr
        registry.add("lion-toy", factory=toy_net, summary="s", tags=["t"],
                     dataset="line", optimizer="lion", trainer="mse", recipe={"steps": 3},
                     expects={"eval_mse": ("<=", 0.5)})  # fmt: skip
        registry.add("broken", factory=state_dict_net, summary="s", tags=["t"], dataset="line",
                     optimizer="sgd", trainer="mse")  # fmt: skip


@pytest.fixture
def zoo(make_zoo):
    return make_zoo(Toy, Extras)


def test_optimizer_lr_is_used_when_a_run_switches_to_it(zoo):
    assert resolve("toy").loop.lr == 0.1  # the recipe's lr, for the recipe's own optimizer
    assert resolve("toy", optimizer="lion").loop.lr == 1e-4  # switched: the optimizer's own
    assert resolve("toy", optimizer="extras:lion", loop={"lr": 0.003}).loop.lr == 0.003  # --lr wins
    assert resolve("toy", optimizer="lion", sets=["lr=0.002"]).loop.lr == 0.002  # so does --set
    assert resolve("lion-toy").loop.lr == 1e-4  # the recipe names no lr
    assert resolve("lion-toy", optimizer="sgd").loop.lr == 0.01  # sgd declares none: the loop's


def test_optimizer_lr_is_refused_among_defaults_and_on_other_kinds():
    optimizers = Registry("optimizer")
    with pytest.raises(
        PluginError, match=r"'lr' among its defaults; declare it as registry.add\(..., lr=0.1\)"
    ):
        optimizers.add("o", factory=lion, defaults={"lr": 0.1})
    with pytest.raises(PluginError, match="lr of optimizer 'o' must be a positive number, got -1"):
        optimizers.add("o", factory=lion, lr=-1)
    with pytest.raises(PluginError, match="lr only applies to optimizers, not to model 'm'"):
        Registry("model").add("m", factory=dict, lr=0.1)


def test_expects_is_checked_at_registration():
    models = Registry("model")
    entry = models.add("m", factory=dict, expects={"accuracy": [">=", 0.9]})
    assert entry.expects == {"accuracy": (">=", 0.9)}
    with pytest.raises(PluginError, match=r"expects\['accuracy'\] of model 'n' is \('=>', 0.9\); write"):
        models.add("n", factory=dict, expects={"accuracy": ("=>", 0.9)})
    with pytest.raises(PluginError, match="expects only apply to models"):
        Registry("dataset").add("d", factory=dict, expects={"accuracy": (">=", 0.9)})


def test_info_and_list_show_the_optimizer_lr_and_the_expected_results(zoo):
    runner = CliRunner()
    info = runner.invoke(cli, ["info", "lion"])
    assert (
        info.exit_code == 0 and "  lr:         0.0001 (when a run switches to it without --lr)" in info.output
    )
    model = runner.invoke(cli, ["info", "lion-toy"])
    assert "  expects:    eval_mse <= 0.5 (zoo check --train measures it)" in model.output
    listed = json.loads(runner.invoke(cli, ["list", "--json"]).output)
    by_name = {d["name"]: d for d in listed}
    assert by_name["lion-toy"]["expects"] == {"eval_mse": ["<=", 0.5]}
    assert by_name["lion"]["lr"] == 1e-4 and by_name["toy"]["expects"] == {}


def test_train_help_lists_the_chosen_optimizers_settings(zoo):
    result = CliRunner().invoke(cli, ["train", "toy", "--optimizer", "lion", "--help"])
    assert result.exit_code == 0
    assert "Settings of toy:toy: optimizer extras:lion" in result.output
    assert "betas" in result.output and "momentum" not in result.output  # lion's, not sgd's
    assert "lr                0.0001" in result.output
    default = CliRunner().invoke(cli, ["train", "--optimizer=lion", "toy", "--help"])
    assert "Settings of toy:toy: optimizer extras:lion" in default.output


@pytest.mark.parametrize("text", ["0.95,0.98", "[0.95, 0.98]", "(0.95, 0.98)"])
def test_tuple_settings_take_both_forms(zoo, text):
    config = resolve("toy", optimizer="lion", sets=[f"betas={text}"])
    assert config.optimizer_params["betas"] == (0.95, 0.98)


def settings_only(params, lr):
    """The mistake: an optimizer factory that returns its settings, not the optimizer."""
    return {"lr": lr}


class Misbuilt:
    @hookimpl
    def register_optimizers(registry):
        registry.add("settings-only", factory=settings_only, summary="s", tags=["t"])

    @hookimpl
    def register_trainers(registry):
        registry.add("no-trainer", factory=dict, summary="s", tags=["t"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["info", "broken"],
            "model 'extras:broken': the factory returned OrderedDict, not a torch.nn.Module",
        ),
        (
            ["train", "broken"],
            "model 'extras:broken': the factory returned OrderedDict, not a torch.nn.Module",
        ),
        (
            ["train", "toy", "--optimizer", "settings-only"],
            "optimizer 'misbuilt:settings-only': the factory returned dict, not a torch.optim.Optimizer",
        ),
        (
            ["train", "toy", "--trainer", "no-trainer"],
            "trainer 'misbuilt:no-trainer': the factory returned dict, not a zoo_core.Trainer",
        ),
    ],
)
def test_a_factory_returning_the_wrong_thing_is_one_line(make_zoo, tmp_path, args, message):
    make_zoo(Toy, Extras, Misbuilt)
    if args[0] == "train":
        args = [*args, "--device", "cpu", "--out", str(tmp_path / "r")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert result.output == f"zoo: error: {message}\n"
