"""Runs you can repeat and steer: config files, resume rules, best weights, early stopping, the index."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from zoo_core.cli import cli
from zoo_core.plugin.errors import ZooError
from zoo_core.store.checkpoint import read_metadata
from zoo_core.training.loop import Interrupted, train_model


def _zoo(*args: str):
    return CliRunner().invoke(cli, list(args))


def _weights(run):
    return load_file(str(run / "model.safetensors"))


def _same_weights(a, b):
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


# -- config files --------------------------------------------------------------------------------
def test_a_runs_config_json_repeats_it_exactly(tmp_path):
    first = _zoo(
        "train",
        "regression",
        "--steps",
        "30",
        "--lr",
        "0.1",
        "--set",
        "n_hidden=6",
        "--out",
        str(tmp_path / "a"),
        "-q",
    )
    assert first.exit_code == 0, first.output
    again = _zoo("train", "--config", str(tmp_path / "a" / "config.json"), "--out", str(tmp_path / "b"), "-q")
    assert again.exit_code == 0, again.output
    assert _same_weights(tmp_path / "a", tmp_path / "b")
    saved = [json.loads((tmp_path / n / "config.json").read_text())["config"] for n in "ab"]
    assert saved[0] == saved[1]


def test_print_config_is_a_toml_template_that_flags_override(tmp_path):
    printed = _zoo("train", "regression", "--print-config", "--lr", "0.05", "--scheduler", "cosine")
    assert printed.exit_code == 0, printed.output
    assert 'model = "regression:regression"' in printed.output and "lr = 0.05" in printed.output
    assert 'batch_size = "none"' in printed.output  # TOML has no null
    template = tmp_path / "run.toml"
    template.write_text(printed.output)
    result = train_model(
        config_file=template, steps=12, sets=["warmup_steps=3"], device="cpu", out=tmp_path / "r"
    )
    config = result.config
    assert (config.loop.lr, config.loop.steps, config.loop.batch_size) == (0.05, 12, None)
    assert config.scheduler == "standard:cosine" and config.scheduler_params["warmup_steps"] == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('model = "regression"\nspeed = 3\n', "unknown key 'speed'"),
        (
            'model = "regression"\n[loop]\nlr = "fast"\n',
            "'loop.lr' must be a finite number (at most 3.4e38), not 'fast'",
        ),
        ('model = "regression"\n[loop]\nsteps = -4\n', "steps must be a positive whole number"),
        ('model = "regression"\n[loop]\ntempo = 1\n', "unknown key 'loop.tempo'"),
        (
            'model = "regression"\n[model_params]\nn_hidden = 2.5\n',
            "'model_params.n_hidden' must be a whole number",
        ),
        ('model = "regression"\n[model_params]\nwidth = 2\n', "unknown setting 'model_params.width'"),
        ("model = \n", "not valid TOML"),
        ('model = ["regression"]\n', "'model' must be a string"),
        ('model = "regression"\n[loop]\nsteps = 5\nepochs = 2\n', "give either loop.epochs or loop.steps"),
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "not valid TOML"),
    ],
)
def test_config_file_mistakes_are_one_line_naming_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = _zoo("train", "--config", str(path), "--out", str(tmp_path / "never"))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    if "positive" not in message:
        assert str(path) in lines[0]
    assert not (tmp_path / "never").exists()


# -- resume rules ----------------------------------------------------------------------------------
def _cut(tmp_path, **options):
    def press_ctrl_c(step):
        if step == 9:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted):
        train_model(
            "regression", out=tmp_path / "cut", device="cpu", steps=20, on_step=press_ctrl_c, **options
        )
    return tmp_path / "cut"


def test_resume_refuses_flags_that_change_what_was_trained(tmp_path):
    cut = _cut(tmp_path)
    assert json.loads((cut / "summary.json").read_text())["status"] == "interrupted"
    before = (cut / "state.safetensors").read_bytes()
    result = _zoo(
        "train", "regression", "--resume", str(cut), "--steps", "50", "--lr", "5", "--set", "n_hidden=3"
    )
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"zoo: error: --resume {cut}: --set, --lr would change what was trained so far; resume without "
        "them (--steps, --epochs, --device, --data-root and --save-format may change), or start a new run"
    )
    assert (cut / "state.safetensors").read_bytes() == before  # nothing touched


def test_resume_honours_a_new_save_format_and_data_root(tmp_path):
    cut = _cut(tmp_path)
    moved = tmp_path / "moved-data"
    result = _zoo("train", "--resume", str(cut), "--save-format", "pickle", "--data-root", str(moved), "-q")
    assert result.exit_code == 0, result.output
    assert (cut / "model.pt").is_file()  # not silently ignored
    saved = json.loads((cut / "config.json").read_text())
    assert saved["config"]["save_format"] == "pickle" and saved["config"]["data_root"] == str(moved)


def test_resume_with_more_steps_extends_and_records_it(tmp_path):
    cut = _cut(tmp_path)
    train_model(resume=cut, device="cpu")
    assert json.loads((cut / "summary.json").read_text())["status"] == "finished"
    nothing = _zoo("train", "--resume", str(cut))
    assert nothing.exit_code == 2 and "the run already finished (steps=20); nothing changed" in nothing.output
    shorter = _zoo("train", "--resume", str(cut), "--steps", "20")
    assert shorter.exit_code == 2 and "--steps 20 is not more than the run's 20" in shorter.output
    longer = train_model(resume=cut, steps=35, device="cpu")
    assert longer.step == 35 and [r["step"] for r in longer.history][-1] == 35
    assert json.loads((cut / "config.json").read_text())["config"]["loop"]["steps"] == 35
    assert read_metadata(cut)["zoo.step"] == 35


# -- best weights and early stopping ---------------------------------------------------------------
def test_best_weights_are_kept_and_evaluated(tmp_path):
    # lr 1.5 makes the regression oscillate: its best evaluation is not its last
    result = train_model(
        "regression",
        device="cpu",
        steps=60,
        lr=1.5,
        sets=["eval_every=5"],
        out=tmp_path / "r",
        monitor="eval_loss",
    )
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    best = summary["best"]
    evals = [(row["step"], row["eval_loss"]) for row in result.history if "eval_loss" in row]
    assert best["value"] == pytest.approx(min(v for _, v in evals)) and best["mode"] == "min"
    meta = read_metadata(tmp_path / "r" / "best.safetensors")
    assert meta["zoo.best"]["step"] == best["step"] and meta["zoo.model"] == "regression:regression"
    evaluated = _zoo("eval", str(tmp_path / "r"), "--best", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["metrics"]["eval_loss"] == pytest.approx(best["value"], rel=1e-6)
    (tmp_path / "r" / "best.safetensors").unlink()
    missing = _zoo("eval", str(tmp_path / "r"), "--best")
    assert missing.exit_code == 2 and "no best.safetensors" in missing.output


def test_patience_stops_a_run_that_stopped_improving(tmp_path):
    result = _zoo(
        "train",
        "classification",
        "--steps",
        "400",
        "--lr",
        "0.5",
        "--set",
        "eval_every=10",
        "--monitor",
        "accuracy",
        "--patience",
        "3",
        "--out",
        str(tmp_path / "r"),
    )
    assert result.exit_code == 0, result.output
    assert "early stop: accuracy has not improved for 3 evaluations" in result.output
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["step"] < 400 and summary["best"]["mode"] == "max"
    assert summary["stopped_early"].startswith("early stop: accuracy")


def test_monitor_needs_evaluations_and_a_metric_that_exists(tmp_path):
    no_eval = _zoo("train", "regression", "--patience", "2", "--out", str(tmp_path / "a"))
    assert no_eval.exit_code == 2 and "add --eval-every N (steps) or epoch" in no_eval.output
    wrong = _zoo(
        "train", "regression", "--monitor", "accuracy", "--eval-every", "10", "--out", str(tmp_path / "b")
    )
    assert wrong.exit_code == 2 and "--monitor accuracy: the evaluation reports eval_loss" in wrong.output
    assert not (tmp_path / "b").exists()  # refused before the run started: no failed run folder
    assert not (tmp_path / "a").exists()


def test_eval_every_takes_steps_or_epoch_and_epoch_runs_evaluate_every_epoch(toy_zoo, tmp_path):
    from zoo_core.training.loop import configure

    def evaluated_at(run):
        return [row["step"] for row in run.history if "eval_mse" in row]

    # 64 samples in batches of 16: 4 steps an epoch
    by_default = train_model("toy", out=tmp_path / "a", device="cpu", epochs=3)
    assert evaluated_at(by_default) == [4, 8, 12] and (tmp_path / "a" / "best.safetensors").exists()
    by_flag = _zoo(
        "train", "toy", "--steps", "12", "--eval-every", "epoch", "--out", tmp_path / "b", "--json"
    )
    assert by_flag.exit_code == 0, by_flag.output
    assert evaluated_at(train_model("toy", out=tmp_path / "c", device="cpu", steps=12, eval_every=6)) == [
        6,
        12,
    ]
    assert evaluated_at(train_model("toy", out=tmp_path / "d", device="cpu", steps=12)) == [
        12
    ]  # the end only
    assert evaluated_at(train_model("toy", out=tmp_path / "e", device="cpu", epochs=3, eval_every=0)) == [12]
    saved = json.loads((tmp_path / "b" / "config.json").read_text())["config"]["loop"]["eval_every"]
    assert saved == "epoch"
    again, _ = configure(config_file=tmp_path / "b" / "config.json")  # read back from a file
    assert again.loop.eval_every == "epoch"
    bad = _zoo("train", "toy", "--eval-every", "often", "--out", tmp_path / "f")
    assert bad.exit_code == 2 and "give a number of steps (0: at the end only) or epoch" in bad.output


def test_resumed_run_keeps_its_best_and_patience(tmp_path):
    options = {"lr": 1.5, "sets": ["eval_every=3"], "monitor": "eval_loss", "patience": 50}
    cut = _cut(tmp_path, **options)
    resumed = train_model(resume=cut, device="cpu")
    train_model("regression", out=tmp_path / "whole", device="cpu", steps=20, **options)
    ours, theirs = (json.loads((p / "summary.json").read_text())["best"] for p in (cut, tmp_path / "whole"))
    assert ours == theirs and resumed.step == 20


def test_a_deleted_best_file_is_never_rewritten_under_an_old_label(tmp_path):
    options = {"lr": 1.5, "sets": ["eval_every=3"], "monitor": "eval_loss"}
    cut = _cut(tmp_path, **options)
    (cut / "best.safetensors").unlink()
    train_model(resume=cut, device="cpu")
    label = read_metadata(cut / "best.safetensors")["zoo.best"]
    assert label["step"] > 9  # chosen among the evaluations after the resume
    assert json.loads((cut / "summary.json").read_text())["best"] == label
    evaluated = _zoo("eval", str(cut), "--best", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["metrics"]["eval_loss"] == pytest.approx(label["value"], rel=1e-5)


# -- loggers and the runs index ------------------------------------------------------------------
def test_tensorboard_logger_writes_every_scalar(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train_model(
        "regression", device="cpu", steps=10, logger="tensorboard", scheduler="cosine", out=tmp_path / "r"
    )
    events = EventAccumulator(str(tmp_path / "r" / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"loss", "lr", "eval_loss"} <= tags
    assert [e.step for e in events.Scalars("loss")] == list(range(1, 11))


def test_tensorboard_missing_is_one_line(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a)
    )
    result = _zoo("train", "regression", "--logger", "tensorboard", "--out", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert result.output.strip().endswith("pip install 'zoo[tensorboard]'")


def test_a_tensorboard_folder_that_is_a_file_is_one_line_on_resume(tmp_path):
    pytest.importorskip("tensorboard")
    cut = _cut(tmp_path, logger="tensorboard")
    import shutil

    shutil.rmtree(cut / "tensorboard")
    (cut / "tensorboard").write_text("not a folder")
    result = _zoo("train", "--resume", str(cut), "-q")
    assert result.exit_code == 2, result.output
    assert (
        result.output
        == f"zoo: error: --logger tensorboard: cannot write {cut / 'tensorboard'} (it is a file, not a folder)\n"
    )
    assert json.loads((cut / "summary.json").read_text())["status"] == "interrupted"  # still resumable


def test_a_tensorboard_that_fails_to_import_is_one_line(tmp_path, monkeypatch):
    import sys

    pytest.importorskip("tensorboard")
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails with ImportError
    result = _zoo(
        "train", "regression", "--logger", "tensorboard", "--steps", "3", "--out", str(tmp_path / "r")
    )
    assert result.exit_code == 2, result.output
    assert "the tensorboard package fails to import" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


def test_runs_outside_the_root_are_listed_and_deleted_ones_skipped(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    train_model("regression", device="cpu", steps=5, out=elsewhere / "one")
    train_model("regression", device="cpu", steps=5, optimizer="adam", out=elsewhere / "two")
    train_model("classification", device="cpu", steps=5)  # under the runs root
    listed = json.loads(_zoo("runs", "--json").output)
    runs = {os.path.basename(r["run"]): r for r in listed}
    assert {"one", "two"} <= set(runs) and len(listed) == 3
    assert runs["two"]["optimizer"] == "standard:adam" and runs["one"]["status"] == "finished"
    import shutil

    shutil.rmtree(elsewhere / "one")
    listed = json.loads(_zoo("runs", "regression", "--json").output)
    assert [os.path.basename(r["run"]) for r in listed] == ["two"]
    assert json.loads(_zoo("runs", "--status", "failed", "--json").output) == []
    table = _zoo("runs").output
    assert "OPTIMIZER" in table and "adam" in table


def test_an_interrupted_run_keeps_its_progress_and_resumes_saying_where(tmp_path, capsys):
    cut = _cut(tmp_path)
    summary = json.loads((cut / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["step"] == 9
    assert summary["seconds"] > 0 and "loss" in summary["metrics"]
    (listed,) = json.loads(_zoo("runs", "regression", "--json").output)
    assert listed["step"] == 9 and listed["seconds"] > 0 and "loss" in listed["metrics"]
    train_model(resume=cut, device="cpu", quiet=False)
    assert "; resuming at step 9 of 20 -> " in capsys.readouterr().out


def test_ctrl_c_before_the_loop_is_one_line_and_exit_130(tmp_path, monkeypatch):
    from zoo_core.training import loop as training

    def pressed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "assemble", pressed)  # while the model and data are being built
    result = CliRunner().invoke(cli, ["train", "regression", "--out", str(tmp_path / "r")])
    assert result.exit_code == 130 and result.output == "zoo: error: interrupted (Ctrl-C)\n"
    assert not (tmp_path / "r").exists()  # nothing was written: the folder is gone again


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("given", "hidden", "'given' must be a list of model setting names"),
        ("given", [1], "'given' must be a list of model setting names"),
        ("implied", {"width": 3}, "'implied' must be a mapping of the model's own settings"),
        ("implied", ["hidden"], "'implied' must be a mapping of the model's own settings"),
    ],
)
def test_a_damaged_record_of_given_or_implied_settings_is_refused(toy_zoo, tmp_path, field, value, message):
    from zoo_core.config.runconfig import RunConfig

    train_model("toy", out=tmp_path / "run", device="cpu", quiet=True)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert saved["given"] == [] and saved["implied"] == {}
    with pytest.raises(ZooError, match=message):
        RunConfig.from_dict({**saved, field: value}, "config.json")
