"""``zoo export`` keeps nothing it could not verify: a program that differs from PyTorch is refused."""

from __future__ import annotations

import torch
from click.testing import CliRunner

from zoo_core import Splits, hookimpl
from zoo_core.cli import cli
from zoo_core.training.loop import train_model


class Noisy(torch.nn.Module):
    """Adds fresh noise on every call: an exported program can never repeat its outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)

    def forward(self, x):
        return self.linear(x) + torch.randn_like(x)


def points(seed: int = 0) -> Splits:
    x = torch.linspace(-1, 1, 16).unsqueeze(1)
    return Splits(train=torch.utils.data.TensorDataset(x, 2 * x))


class NoisyPlugin:
    @hookimpl
    def register_models(registry):
        registry.add(
            "noisy", factory=Noisy, summary="s", dataset="points", optimizer="sgd", trainer="supervised"
        )

    @hookimpl
    def register_datasets(registry):
        registry.add("points", factory=points, summary="s")


def test_a_program_that_differs_from_pytorch_is_refused(zoo_plugin_zoo, tmp_path):
    zoo_plugin_zoo(NoisyPlugin)  # with zoo's own plugins: the supervised trainer, sgd
    run = train_model("noisy", steps=2, out=tmp_path / "run", device="cpu", quiet=True).run_dir
    result = CliRunner().invoke(cli, ["export", str(run), "--format", "pt2"])
    assert result.exit_code == 2, result.output
    assert "the exported program differs from PyTorch by up to " in result.output
    assert "on a batch of 8 (tolerance 1e-05 + 0.0001 * |y|); nothing was written" in result.output
    assert not (run / "model.pt2").exists()
    from zoo_core.store import lock

    leftovers = [p.name for p in run.iterdir() if p.name.startswith(".") and p.name not in lock.NAMES]
    assert leftovers == []  # no temporary file left (the run folder's lock files are its own)


def test_export_never_replaces_a_runs_files_and_other_files_only_with_force(toy_zoo, tmp_path):
    run = train_model("toy", steps=2, out=tmp_path / "run", device="cpu", quiet=True).run_dir
    own = {name: (run / name).read_bytes() for name in ("model.safetensors", "config.json", "summary.json")}
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    for target in [*(run / name for name in own), notes]:
        result = CliRunner().invoke(cli, ["export", str(run), "--format", "pt2", "--out", str(target)])
        assert result.exit_code == 2, result.output
        assert len(result.output.strip().splitlines()) == 1
    for target in (run / name for name in own):  # --force does not make a run's file fair game
        result = CliRunner().invoke(
            cli, ["export", str(run), "--format", "pt2", "--out", str(target), "--force"]
        )
        assert result.exit_code == 2 and "never replaces it" in result.output, result.output
    assert {name: (run / name).read_bytes() for name in own} == own
    assert notes.read_text() == "mine\n"
    assert (
        "pass --force"
        in CliRunner().invoke(cli, ["export", str(run), "--format", "pt2", "--out", str(notes)]).output
    )
    for _ in range(2):  # the default path is the export's own: a second export replaces the first
        result = CliRunner().invoke(cli, ["export", str(run), "--format", "pt2"])
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["export", str(run), "--format", "pt2", "--out", str(notes), "--force"])
    assert result.exit_code == 0, result.output
    assert notes.read_bytes()[:2] == b"PK"  # a .pt2 (a zip archive) now
