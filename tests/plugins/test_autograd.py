"""Lesson 202: ``zoo autograd`` computes mean(v*v) = 7.5 and the gradient v/2."""

from __future__ import annotations

import subprocess
import sys

import torch
from click.testing import CliRunner

from zoo_core.cli import cli
from zoo_plugins.autograd.lesson import demo


def test_demo_values():
    r = demo()
    assert r["v_out"].item() == 7.5
    assert r["t_out"].item() == 7.5
    assert r["grad_fn"] == "MeanBackward0"
    assert torch.equal(r["grad"], torch.tensor([[0.5, 1.0], [1.5, 2.0]]))
    assert torch.equal(r["grad"], r["v"].detach() / 2)
    assert not r["t_out"].requires_grad


def test_command_prints_lesson():
    result = CliRunner().invoke(cli, ["autograd"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "out = 7.5" in out
    assert "[[0.5000, 1.0000]," in out and "[1.5000, 2.0000]]" in out
    assert "equal to v / 2: True" in out
    assert ".grad" in out and ".detach()" in out and ".detach().numpy()" in out


def test_lesson_plugins_import_without_torch():
    """The hook modules of these lessons stay light: listing the zoo must not import torch."""
    code = (
        "import sys\n"
        "import zoo_plugins.autograd, zoo_plugins.activations, zoo_plugins.regression\n"
        "import zoo_plugins.classification, zoo_plugins.quick_build, zoo_plugins.mini_batch\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
