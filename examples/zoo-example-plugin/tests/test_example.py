"""The example plugin's own tests, written with the fixtures of zoo's pytest plugin."""

import torch

import zoo_core
from zoo_core.testing import invoke


def test_contract(zoo_check):
    """Everything 'zoo check example' checks."""
    assert zoo_check("example").ok


def test_spiral_has_one_class_per_arm(zoo_plugin_zoo):
    zoo_plugin_zoo("example")
    data = zoo_core.create_dataset("example:spiral", arms=4, n=10)
    x, y = data.train.tensors
    assert x.shape == (40, 2)
    assert torch.bincount(y).tolist() == [10, 10, 10, 10]
    assert len(data.eval) == 40


def test_residual_blocks_start_as_corrections(zoo_plugin_zoo):
    zoo_plugin_zoo("example")
    model = zoo_core.create_model("example:resmlp", blocks=1)
    block = model.blocks[0]
    torch.nn.init.zeros_(block.inner[2].weight)
    torch.nn.init.zeros_(block.inner[2].bias)
    x = torch.randn(5, 32)
    assert torch.equal(block(x), x)


def test_learns_the_spiral(zoo_plugin_zoo, tmp_path):
    zoo_plugin_zoo("example")
    result = zoo_core.train("example:resmlp", steps=300, device="cpu", out=tmp_path / "run")
    assert result.metrics["accuracy"] > 0.9


def test_spiral_command(zoo_plugin_zoo):
    zoo_plugin_zoo("example")
    result = invoke("spiral", "--arms", "2", "--n", "30")
    assert result.exit_code == 0, result.output
    assert "2 arms, 30 training points each (60 in all)" in result.output
    assert {"0", "1"} <= set(result.output)
