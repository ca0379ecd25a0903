"""The command line, through click's runner (throwaway plugin) and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

import zoo_core
from zoo_core.cli import cli


@pytest.fixture
def run(toy_zoo):
    def invoke(*args):
        return CliRunner().invoke(cli, [str(a) for a in args])

    return invoke


def test_list_table_and_json(run):
    result = run("list")
    assert result.exit_code == 0
    header, rule, *rows = result.output.splitlines()
    assert header.split()[:4] == ["NAME", "KIND", "PLUGIN", "LESSON"]
    assert [r.split()[0] for r in rows] == ["toy", "line", "sgd", "mse"]
    data = json.loads(run("list", "--json").output)
    assert {d["kind"] for d in data} == {"model", "dataset", "optimizer", "trainer"}
    model = next(d for d in data if d["kind"] == "model")
    assert model["qualname"] == "toy:toy" and model["dataset"] == "line" and model["defaults"]["hidden"] == 8


def test_list_kind_patterns_and_plugin_filter(run):
    assert [d["name"] for d in json.loads(run("list", "models", "--json").output)] == ["toy"]
    assert [d["name"] for d in json.loads(run("list", "l*", "s*", "--json").output)] == ["line", "sgd"]
    assert json.loads(run("list", "--plugin", "toy", "--json").output)
    result = run("list", "--plugin", "nope")
    assert result.exit_code == 2 and "no plugin named 'nope'" in result.output


def test_info_shows_defaults_recipe_and_parameter_count(run):
    result = run("info", "toy")
    assert result.exit_code == 0
    assert "parameters: 25" in result.output  # 1*8+8 + 8*1+1
    assert "setting     hidden = 8" in result.output and "recipe      lr = 0.1" in result.output
    data = json.loads(run("info", "toy", "--json").output)
    assert data["parameters"] == 25 and data["trainer"] == "mse"


def valued_net(width: int = 3):
    """Reads a tensor's value while it is built: impossible on the meta device, so counted on the CPU."""
    import torch

    hidden = int(torch.tensor(width).item())
    return torch.nn.Sequential(torch.nn.Linear(1, hidden), torch.nn.Linear(hidden, 1, bias=False))


class Counted:
    @zoo_core.hookimpl
    def register_models(self, registry):
        registry.add("valued", factory=valued_net, summary="s", tags=["t"], defaults={"width": 3})


def test_info_counts_parameters_without_allocating_them_and_falls_back_to_the_cpu(make_zoo):
    from zoo_core.cli.catalog import parameter_count

    zoo = make_zoo(Counted())
    assert parameter_count(zoo.models.get("valued")) == 3 + 3 + 3
    assert parameter_count(zoo.models.get("valued"), width=5) == 5 + 5 + 5
    result = CliRunner().invoke(cli, ["info", "valued"])
    assert result.exit_code == 0 and "parameters: 9" in result.output


def test_info_unknown_name_suggests(run):
    result = run("info", "tyo")
    assert result.exit_code == 2
    assert "nothing is registered as 'tyo'; did you mean 'toy'?" in result.output


def test_plugins_json(run):
    (toy,) = json.loads(run("plugins", "--json").output)
    assert (toy["name"], toy["status"], toy["error"]) == ("toy", "loaded", "")
    assert toy["registered"] == {
        "models": ["toy"],
        "datasets": ["line"],
        "optimizers": ["sgd"],
        "trainers": ["mse"],
    }
    assert toy["commands"] == [] and toy["warnings"] == []


def test_train_json_summary_then_eval_and_runs(run, tmp_path):
    result = run("train", "toy", "--device", "cpu", "--out", tmp_path / "r", "--json", "--steps", "12")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["step"] == 12 and summary["device"] == "cpu" and "eval_mse" in summary["metrics"]
    evaluated = json.loads(run("eval", tmp_path / "r", "--device", "cpu", "--json").output)
    assert evaluated["metrics"]["eval_mse"] == pytest.approx(summary["metrics"]["eval_mse"], abs=1e-7)
    listed = run("runs")
    assert listed.exit_code == 0 and str(tmp_path / "r") in listed.output  # --out runs are indexed too
    assert run("train", "toy", "--device", "cpu", "-q").exit_code == 0
    assert json.loads(run("runs", "toy:toy", "--json").output)[0]["status"] == "finished"
    latest = json.loads(run("runs", "toy", "--json").output)[-1]
    assert latest["model"] == "toy:toy" and "/runs/toy/" in latest["run"]
    by_name = json.loads(run("eval", "toy", "--device", "cpu", "--json").output)  # the model's latest run
    assert by_name["source"] == latest["run"] + "/model.safetensors"


def test_runs_found_wherever_out_put_them_under_the_root(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZOO_RUNS_DIR", "runs")  # relative, as by default
    for out in ("runs/sgd", "runs/a/b/deep"):
        assert run("train", "toy", "--device", "cpu", "--steps", "2", "--out", out, "-q").exit_code == 0
    (tmp_path / "runs" / "sgd" / "tensorboard").mkdir()  # a run's own folders are not runs
    listed = json.loads(run("runs", "toy", "--status", "finished", "--json").output)
    assert [r["run"] for r in listed] == ["runs/sgd", "runs/a/b/deep"]
    by_name = json.loads(run("eval", "toy", "--device", "cpu", "--json").output)  # latest: the deep one
    assert by_name["source"] == "runs/a/b/deep/model.safetensors"


def test_eval_says_which_data_folder_it_read(run, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "r"
    assert (
        run("train", "toy", "--device", "cpu", "--steps", "2", "--out", out, "--data-root", data).exit_code
        == 0
    )
    result = run("eval", out, "--device", "cpu")
    assert result.exit_code == 0 and f"data from {data} (where the run trained)" in result.output


def test_runs_tell_apart_two_optimizers_of_one_model(run, make_zoo):
    from tests.conftest import Toy
    from tests.test_entry_fields import Extras

    make_zoo(Toy, Extras)
    for optimizer in ("sgd", "lion"):
        assert (
            run("train", "toy", "--optimizer", optimizer, "--steps", "2", "--device", "cpu", "-q").exit_code
            == 0
        )
    header, _, *rows = run("runs", "toy").output.splitlines()
    assert header.split()[:3] == ["RUN", "MODEL", "OPTIMIZER"]
    assert [row.split()[2] for row in rows] == ["sgd", "lion"]
    assert [r["optimizer"] for r in json.loads(run("runs", "--json").output)] == ["toy:sgd", "extras:lion"]


def test_train_help_lists_the_models_settings(run):
    result = run("train", "toy", "--help")
    assert result.exit_code == 0
    assert "Settings of toy:toy: model" in result.output
    assert "hidden" in result.output and "slope" in result.output and "momentum" in result.output


def test_plain_progress_lines_when_not_a_terminal(run, tmp_path):
    result = run("train", "toy", "--device", "cpu", "--out", tmp_path / "r")
    lines = result.output.splitlines()
    assert lines[0].startswith("training toy:toy on cpu (cpu, as asked); 30 steps")
    assert any(line.startswith("step 30/30 epoch 8 loss=") for line in lines)
    assert lines[-1] == f"saved: {tmp_path / 'r'}"


def test_quiet_prints_nothing(run, tmp_path):
    assert run("train", "toy", "--device", "cpu", "--out", tmp_path / "r", "--quiet").output == ""


def test_errors_are_one_line_exit_2_no_traceback(run, tmp_path):
    for args in (
        ["train", "nosuch"],
        ["train", "toy", "--set", "x=1"],
        ["eval", tmp_path / "missing"],
        ["train", "toy", "--steps", "0"],
        ["compare-formats", tmp_path],
        ["train", "toy", "--out", tmp_path / "used\nfolder"],  # a line break in a name: escaped
        ["train", "toy", "--accumulate", "0"],  # click's own usage errors too
        ["runs", "--status", "sleeping"],
        ["no-such-command"],
    ):
        (tmp_path / "used\nfolder").mkdir(exist_ok=True)
        (tmp_path / "used\nfolder" / "notes.txt").write_text("mine")
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.count("\n") == 1 and result.output.startswith("zoo: error: ")
        assert "Traceback" not in result.output


def test_compare_formats_table(run, tmp_path):
    run("train", "toy", "--device", "cpu", "--out", tmp_path / "r", "-q")
    rows = json.loads(run("compare-formats", tmp_path / "r", "--repeat", "2", "--json").output)
    assert [r["format"] for r in rows] == [
        "safetensors",
        "state-dict pickle",
        "whole-model pickle",
        "torch.export",
        "ONNX",
    ]
    assert all(r["identical"] for r in rows[:3]) and all(r["max_difference"] <= 1e-5 for r in rows[3:])
    assert "safe" in rows[0]["requires"] and "trust" in rows[2]["requires"]
    table = run("compare-formats", tmp_path / "r", "--repeat", "1", "--no-exports").output
    assert "LOADING REQUIRES" in table and "whole-model pickle" in table and "ONNX" not in table


def _subprocess(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize(
    "argv", [["--help"], ["list"], ["list", "models", "--json"], ["plugins"], ["--version"]]
)
def test_listing_never_imports_torch(argv):
    code = (
        "import sys\nfrom zoo_core.cli import cli\n"
        f"try:\n    cli.main({argv!r}, prog_name='zoo')\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "heavy = [m for m in ('torch', 'torchvision', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = _subprocess(code)
    assert proc.returncode == 0, proc.stderr


def test_console_script_error_has_no_traceback():
    zoo = os.path.join(os.path.dirname(sys.executable), "zoo")
    proc = subprocess.run([zoo, "train", "no-such-model"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert (
        proc.stderr.startswith("zoo: error: unknown model 'no-such-model'") and "Traceback" not in proc.stderr
    )
    debug = subprocess.run(
        [zoo, "--debug", "train", "no-such-model"], capture_output=True, text=True, timeout=120
    )
    assert "Traceback" in debug.stderr and debug.returncode == 2


def test_shell_completion_offers_registry_names(toy_zoo):
    from zoo_core.cli.app import complete

    assert complete("model")(None, None, "to") == ["toy", "toy:toy"]
    assert complete("dataset")(None, None, "") == ["line", "toy:line"]


def test_bash_completion_through_click(toy_zoo, monkeypatch):
    monkeypatch.setenv("_ZOO_COMPLETE", "bash_complete")
    monkeypatch.setenv("COMP_WORDS", "zoo train t")
    monkeypatch.setenv("COMP_CWORD", "2")
    result = CliRunner().invoke(cli, [], prog_name="zoo")
    assert result.output.splitlines() == ["plain,toy", "plain,toy:toy"]


def test_shell_completion_is_documented_and_works(run):
    import re

    from tests.doc_blocks import ROOT

    readme = (ROOT / "README.md").read_text()
    shells = re.findall(r"_ZOO_COMPLETE=(\w+)_source zoo", readme)
    assert shells == ["bash", "zsh", "fish"]
    for shell in shells:
        script = CliRunner().invoke(cli, [], prog_name="zoo", env={"_ZOO_COMPLETE": f"{shell}_source"})
        assert script.exit_code == 0 and "_ZOO_COMPLETE" in script.output, shell
    names = CliRunner().invoke(
        cli,
        [],
        prog_name="zoo",
        env={"_ZOO_COMPLETE": "bash_complete", "COMP_WORDS": "zoo train t", "COMP_CWORD": "2"},
    )
    assert "plain,toy" in names.output  # the registered model's name


def test_a_short_loop_shows_its_time_and_a_run_that_learned_nothing_says_so(run, make_zoo, tmp_path):
    import re

    from tests.conftest import Toy, ToyStep

    class Waiting(ToyStep):  # learns only later, as a DQN does until its replay memory is full
        def step(self, model, batch, optimizers):
            return {"reward": model(batch[0]).detach().mean()}

    class Patient:
        @zoo_core.hookimpl
        def register_trainers(registry):
            registry.add("waiting", factory=Waiting)

    make_zoo(Toy, Patient)
    quick = run("train", "toy", "--steps", "2", "--device", "cpu", "--out", tmp_path / "a")
    (loop,) = re.findall(r"\((\S+)s in the loop\)", quick.output)
    assert float(loop) > 0  # three figures: never "0.0s" for a loop of milliseconds
    assert "not learned" not in quick.output
    idle = run(
        "train", "toy", "--trainer", "waiting", "--steps", "3", "--device", "cpu", "--out", tmp_path / "b"
    )
    assert idle.exit_code == 0, idle.output
    assert (
        "note: none of the 3 steps reported a loss, so the model has not learned yet; train longer"
        in idle.output
    )


def test_predict_by_model_name_says_which_run_it_used(tmp_path):
    from zoo_core.training.loop import train_model

    result = train_model("regression", steps=2, device="cpu")
    said = CliRunner().invoke(cli, ["predict", "regression", "0.5"])
    assert said.exit_code == 0, said.output
    assert f"using the latest run of regression: {result.run_dir / 'model.safetensors'}" in said.output
