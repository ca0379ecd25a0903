"""Lesson 303: Sequential-built nets compute what the class-built ones compute, weights mapped."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo_core
from zoo_plugins.quick_build.lesson import class_to_sequential, mlp, sequential_to_class

PAIRS = [("regression", "regression-seq", 1), ("classification", "classification-seq", 2)]


@pytest.mark.parametrize(("class_name", "seq_name", "n_in"), PAIRS)
def test_same_function_given_the_same_weights(class_name, seq_name, n_in):
    torch.manual_seed(1)
    net_class = zoo_core.create_model(class_name)
    torch.manual_seed(2)  # different weights to start with
    net_seq = zoo_core.create_model(seq_name)
    assert isinstance(net_seq, nn.Sequential)
    assert sorted(net_class.state_dict()) == [
        "hidden.bias",
        "hidden.weight",
        "predict.bias",
        "predict.weight",
    ]
    assert sorted(net_seq.state_dict()) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    x = torch.randn(64, n_in)
    with torch.no_grad():
        assert not torch.allclose(net_class(x), net_seq(x))
        net_seq.load_state_dict(class_to_sequential(net_class.state_dict()), strict=True)
        assert torch.equal(net_class(x), net_seq(x))
        # and back: Sequential weights into the class
        torch.manual_seed(3)
        other = zoo_core.create_model(class_name)
        other.load_state_dict(sequential_to_class(net_seq.state_dict()), strict=True)
        assert torch.equal(other(x), net_seq(x))


def test_key_map_round_trip_and_errors():
    state = zoo_core.create_model("regression").state_dict()
    mapped = class_to_sequential(state)
    assert set(mapped) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert mapped["0.weight"] is state["hidden.weight"]
    assert sequential_to_class(mapped).keys() == state.keys()
    with pytest.raises(zoo_core.ZooError, match="no counterpart"):
        class_to_sequential({"output.weight": torch.zeros(1)})


def test_mlp_layers():
    net = mlp([3, 8, 8, 2], activation="tanh")
    kinds = [type(m) for m in net]
    assert kinds == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    assert net(torch.zeros(5, 3)).shape == (5, 2)
    # the default mlp is lesson 301's net: same keys as regression-seq, so the same key map works
    assert mlp().state_dict().keys() == zoo_core.create_model("regression-seq").state_dict().keys()
    with pytest.raises(zoo_core.ZooError, match="sizes"):
        mlp([4])


def test_sequential_and_class_train_the_same(tmp_path):
    """Same seed, same initial weights (layers are created in the same order): same training."""
    a = zoo_core.train("regression", out=tmp_path / "a", device="cpu", quiet=True)
    b = zoo_core.train("regression-seq", out=tmp_path / "b", device="cpu", quiet=True)
    assert b.metrics["eval_loss"] < 0.013
    assert b.metrics["eval_loss"] == pytest.approx(a.metrics["eval_loss"], rel=1e-5)
    assert (b.run_dir / "regression.png").exists()
    reloaded = zoo_core.load_model(b.run_dir)
    assert isinstance(reloaded, nn.Sequential)


def test_classification_seq_learns(tmp_path):
    result = zoo_core.train("classification-seq", out=tmp_path / "run", device="cpu", quiet=True)
    assert result.metrics["accuracy"] >= 0.99
    assert (result.run_dir / "classification.png").exists()


def test_mlp_sizes_from_the_command_line(tmp_path):
    result = zoo_core.train("mlp", sets=["sizes=1,16,16,1"], out=tmp_path / "r", device="cpu", quiet=True)
    assert result.config.model_params == {"sizes": [1, 16, 16, 1], "activation": "relu"}
    assert result.metrics["eval_loss"] < 0.013
    model = zoo_core.load_model(result.run_dir)
    assert [m.out_features for m in model if isinstance(m, nn.Linear)] == [16, 16, 1]


def test_mlp_as_a_classifier(tmp_path):
    result = zoo_core.train(
        "mlp",
        dataset="two-clusters",
        trainer="classification",
        lr=0.02,
        steps=100,
        sets=["sizes=2,10,2"],
        out=tmp_path / "c",
        device="cpu",
        quiet=True,
    )
    assert result.config.trainer_params["loss"] == "cross_entropy"
    assert result.metrics["accuracy"] >= 0.99
    assert (result.run_dir / "classification.png").exists()
