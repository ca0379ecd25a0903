"""Qualified names: two plugins may register the same name; ``plugin:name`` reaches each one in every
command, and the bare name's error says which names to use."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import zoo_core
from zoo_core import Splits, Trainer, hookimpl
from zoo_core.cli import cli


def line_data(slope: float, n: int = 64, seed: int = 0) -> Splits:
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 2 - 1
    return Splits(train=torch.utils.data.TensorDataset(x, slope * x))


def net(hidden: int = 4):
    import torch

    return torch.nn.Sequential(torch.nn.Linear(1, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))


class MSE(Trainer):
    def loss(self, model, batch):
        x, y = batch
        return {"loss": ((model(x) - y) ** 2).mean()}

    def evaluate(self, model, data, device):
        import torch

        x, y = data.evaluation.tensors
        with torch.no_grad():
            return {"eval_loss": float(((model(x.to(device)) - y.to(device)) ** 2).mean())}


def sgd(params, lr):
    import torch

    return torch.optim.SGD(params, lr=lr)


def plugin(slope: float, hidden: int):
    """A plugin registering model 'net', dataset 'points', optimizer 'sgd' and trainer 'fit'."""

    class Plugin:
        @hookimpl
        def register_models(self, registry):
            registry.add(
                "net",
                factory=net,
                summary=f"a 1-{hidden}-1 net",
                tags=["test"],
                defaults={"hidden": hidden},
                dataset="points",
                optimizer="sgd",
                trainer="fit",
                recipe={"lr": 0.1, "steps": 20},
            )

        @hookimpl
        def register_datasets(self, registry):
            registry.add(
                "points",
                factory=line_data,
                summary=f"y = {slope} x",
                tags=["test"],
                defaults={"slope": slope},
            )

        @hookimpl
        def register_optimizers(self, registry):
            registry.add("sgd", factory=sgd, summary="plain SGD", tags=["test"])

        @hookimpl
        def register_trainers(self, registry):
            registry.add("fit", factory=MSE, summary="MSE step", tags=["test"])

    return Plugin


@pytest.fixture
def two(make_zoo):
    """Plugins 'alpha' and 'beta', registering the very same names."""
    alpha = type("Alpha", (plugin(2.0, 4),), {})()
    beta = type("Beta", (plugin(-3.0, 6),), {})()
    zoo = make_zoo(alpha, beta)
    assert {n: p.status for n, p in zoo.plugins.items()} == {"alpha": "loaded", "beta": "loaded"}
    return zoo


def zoo_cmd(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="zoo")


def test_both_are_listed(two):
    result = zoo_cmd("list", "models")
    assert result.exit_code == 0
    rows = [line.split()[:3] for line in result.output.splitlines()[2:]]
    assert rows == [["net", "model", "alpha"], ["net", "model", "beta"]]


def test_bare_name_error_names_the_qualified_names(two):
    for command in (["train", "net"], ["info", "net"], ["check", "net"]):
        result = zoo_cmd(*command)
        assert result.exit_code == 2, command
        assert result.output.strip().splitlines() == [
            "zoo: error: model name 'net' is ambiguous: plugins 'alpha', 'beta' all register it; "
            "use 'alpha:net', 'beta:net'"
        ], command
    with pytest.raises(zoo_core.ZooError, match="ambiguous"):
        zoo_core.get_model("net")


def test_info_by_qualified_name(two):
    result = zoo_cmd("info", "beta:net", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["qualname"], data["plugin"], data["defaults"]) == ("beta:net", "beta", {"hidden": 6})
    assert data["parameters"] == 6 + 6 + 6 + 1
    result = zoo_cmd("info", "alpha:points")
    assert result.exit_code == 0 and "qualified:  alpha:points" in result.output


@pytest.mark.parametrize(("name", "slope"), [("alpha", 2.0), ("beta", -3.0)])
def test_train_and_eval_by_qualified_name(two, tmp_path, name, slope):
    run = tmp_path / name
    result = zoo_cmd("train", f"{name}:net", "--steps", "5", "--device", "cpu", "--out", str(run), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["model"] == f"{name}:net"
    config = json.loads((run / "config.json").read_text())["config"]
    # the model's bare defaults mean its own plugin's entries, though both plugins have them
    assert (config["dataset"], config["optimizer"], config["trainer"]) == (
        f"{name}:points",
        f"{name}:sgd",
        f"{name}:fit",
    )
    assert config["dataset_params"] == {"slope": slope}
    result = zoo_cmd("eval", str(run), "--device", "cpu", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["model"] == f"{name}:net" and "eval_loss" in data["metrics"]


def test_explicit_parts_take_qualified_names(two, tmp_path):
    def dataset_of(run):
        return json.loads((run / "config.json").read_text())["config"]["dataset"]

    # a bare name the model's own plugin registers means that plugin's entry
    result = zoo_cmd(
        "train", "alpha:net", "--dataset", "points", "--steps", "2", "--out", str(tmp_path / "a")
    )
    assert result.exit_code == 0, result.output
    assert dataset_of(tmp_path / "a") == "alpha:points"
    result = zoo_cmd(
        "train", "alpha:net", "--dataset", "beta:points", "--steps", "2", "--out", str(tmp_path / "b")
    )
    assert result.exit_code == 0, result.output
    assert dataset_of(tmp_path / "b") == "beta:points"


def test_check_by_qualified_name(two):
    result = CliRunner().invoke(cli, ["check", "beta:net", "--steps", "8"])
    assert result.exit_code == 0, result.output
    assert "PASS  model beta:net  trains: 8 CPU steps move the weights and lower the loss" in result.output
    assert "alpha" not in result.output


def test_python_api_takes_qualified_names(two):
    assert zoo_core.get_model("alpha:net").defaults == {"hidden": 4}
    assert zoo_core.create_dataset("beta:points").train.tensors[1][0] / zoo_core.create_dataset(
        "beta:points"
    ).train.tensors[0][0] == pytest.approx(-3.0)
    assert [e.qualname for e in zoo_core.list_models("net")] == ["alpha:net", "beta:net"]
    assert [e.qualname for e in zoo_core.list_models("beta:*")] == ["beta:net"]
