"""``zoo sweep``: the search syntax, trials as run folders, pruned and failed trials, two workers on
one study, and the one line without Optuna."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zoo_core
from tests.doc_blocks import ROOT, blocks, run_zoo_commands
from zoo_core import Interrupted, ZooError
from zoo_core.testing import invoke
from zoo_plugins.sweep.space import Param, parse, parse_all
from zoo_plugins.sweep.study import Sweep

#: the search syntax, the study's folders and its workers: no check reads a trained number's digits
SAME_ON_EVERY_KERNEL = True

PNG = b"\x89PNG\r\n\x1a\n"


# -- the search syntax --------------------------------------------------------------------------


def test_search_syntax_reads_ranges_log_scales_whole_numbers_and_choices():
    assert parse("lr=1e-4..1e-1:log") == Param("lr", 1e-4, 1e-1, log=True)
    assert parse("n_hidden=4..64:int") == Param("n_hidden", 4, 64, integer=True)
    assert parse("n_hidden=4..64:int:log") == Param("n_hidden", 4, 64, log=True, integer=True)
    assert parse("model.x=-1..1") == Param("model.x", -1.0, 1.0)
    assert parse("optimizer=sgd, adam") == Param("optimizer", choices=("sgd", "adam"))


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("lr", "expected KEY=RANGE"),
        ("=1..2", "expected KEY=RANGE"),
        ("lr=", "expected KEY=RANGE"),
        ("lr=a..1", "'a' is not a number"),
        ("lr=1..nan", "not a finite number"),
        ("lr=1..1", "not below the high end"),
        ("lr=0..1:log", "must be above 0"),
        ("n=1.5..4:int", "whole-number ends"),
        ("lr=1..2:cube", "unknown flag :cube"),
        ("optimizer=sgd,,adam", "a choice is empty"),
        ("optimizer=sgd,sgd", "given twice"),
        ("optimizer=sgd:log", ":log and :int go with a range"),
    ],
)
def test_bad_search_syntax_is_one_line_that_says_how_to_write_it(spec, why):
    with pytest.raises(ZooError) as caught:
        parse(spec)
    message = str(caught.value)
    assert why in message and "KEY=LO..HI" in message and "\n" not in message


def test_a_sweep_needs_a_search_and_each_setting_once():
    with pytest.raises(ZooError, match="at least one --search"):
        parse_all([])
    with pytest.raises(ZooError, match="lr is given twice"):
        parse_all(["lr=0.1..1", "lr=1,2"])


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(low=finite, width=st.floats(min_value=1e-3, max_value=1e6), log=st.booleans(), integer=st.booleans())
def test_every_range_reads_back_as_it_is_spelled(low, width, log, integer):
    if integer:
        low, width = float(round(low)), float(max(1, round(width)))
    if log:
        low = abs(low) + 1e-3 if not integer else abs(low) + 1
    param = Param("k", low, low + width, log=log, integer=integer)
    again = parse(param.describe())
    assert (again.key, again.log, again.integer) == ("k", log, integer)
    assert again.low == pytest.approx(param.low, rel=1e-5) and again.high == pytest.approx(
        param.high, rel=1e-5
    )


@given(
    st.lists(
        st.from_regex(r"[a-z0-9_]{1,8}(\.[a-z0-9_]{1,3})?", fullmatch=True),
        min_size=1,
        max_size=5,
        unique=True,
    )
)
def test_every_choice_reads_back(words):
    assert parse("k=" + ",".join(words)).choices == tuple(words)


# -- a sweep on the regression lesson -------------------------------------------------------------

SPACE = ("--search", "lr=0.01..0.5:log", "--search", "n_hidden=4..16:int", "--search", "optimizer=sgd,adam")


def sweep_again(out, trials):
    """The same small sweep into ``out``, asking for ``trials`` in all."""
    fixed = ("--steps", 10, "--seed", 0, "--device", "cpu")
    return invoke("sweep", "regression", "--trials", trials, *SPACE, *fixed, "--out", out)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "reg"
    result = sweep_again(out, 3)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_every_trial_is_a_run_folder_with_the_settings_it_was_given(swept, monkeypatch):
    out, _ = swept
    summary = json.loads((out / "sweep.json").read_text())
    assert [t["trial"] for t in summary["trials"]] == [0, 1, 2]
    for trial in summary["trials"]:
        run = out / f"trial-{trial['trial']:04d}"
        assert trial["run"] == str(run) and trial["status"] == "finished"
        config = json.loads((run / "config.json").read_text())["config"]
        assert config["loop"]["lr"] == pytest.approx(trial["params"]["lr"])
        assert config["model_params"]["n_hidden"] == trial["params"]["n_hidden"]
        assert config["optimizer"].endswith(trial["params"]["optimizer"])
        assert config["loop"]["steps"] == 10 and config["loop"]["seed"] == 0  # the fixed flags
        run_summary = json.loads((run / "summary.json").read_text())
        assert run_summary["status"] == "finished"
        assert trial["value"] == pytest.approx(run_summary["best"]["value"])  # the best eval_loss
    monkeypatch.setenv("ZOO_RUNS_DIR", str(out))  # zoo runs finds them at any depth
    listed = {r["run"]: r["status"] for r in json.loads(invoke("runs", "--json").output)}
    assert all(listed.get(t["run"]) == "finished" for t in summary["trials"]), listed
    assert invoke("eval", out / "trial-0001").exit_code == 0


def test_the_sweep_folder_has_the_table_the_best_trial_and_the_figures(swept):
    out, output = swept
    summary = json.loads((out / "sweep.json").read_text())
    values = {t["trial"]: t["value"] for t in summary["trials"]}
    assert summary["metric"] == "eval_loss" and summary["direction"] == "min"
    assert summary["best"]["value"] == min(values.values())
    assert f"-> {summary['best']['run']}" in output
    with open(out / "trials.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [int(r["trial"]) for r in table] == [0, 1, 2]
    assert {"status", "eval_loss", "lr", "n_hidden", "optimizer", "seconds", "run"} <= set(table[0])
    assert re.search(r"TRIAL\s+STATUS\s+EVAL_LOSS", output)
    for name in ("history.png", "importance.png", "slice.png"):
        assert (out / name).read_bytes().startswith(PNG)


def test_the_same_sweep_again_continues_its_study(swept):
    out, _ = swept
    result = sweep_again(out, 4)
    assert result.exit_code == 0, result.output
    assert "1 more trials" in result.output and "trial 3 finished" in result.output
    assert [t["trial"] for t in json.loads((out / "sweep.json").read_text())["trials"]] == [0, 1, 2, 3]
    again = invoke("sweep", "regression", "--trials", 4, *SPACE, "--steps", 10, "--out", out)
    assert "has 4 trials already" in again.output


def test_a_pruned_trial_stops_and_its_run_says_pruned(tmp_path):
    out = tmp_path / "pruned"
    sweep = Sweep(
        "regression",
        parse_all(["lr=0.05..0.2"]),
        out,
        trials=2,
        options={"steps": 20, "device": "cpu", "seed": 0},
        pruner=optuna.pruners.ThresholdPruner(upper=0.0),  # every loss is above 0: pruned at once
        say=lambda line: None,
    )
    summary = sweep.run()
    assert [t["status"] for t in summary["trials"]] == ["pruned", "pruned"]
    assert summary["best"] is None
    run = json.loads((out / "trial-0000" / "summary.json").read_text())
    assert run["status"] == "pruned" and run["step"] == 2 and "pruned at step 2" in run["reason"]
    listed = json.loads(invoke("runs", "--status", "pruned", "--json").output)
    assert {str(out / "trial-0000"), str(out / "trial-0001")} <= {r["run"] for r in listed}


def test_a_crashed_trial_is_marked_failed_and_the_sweep_goes_on(tmp_path):
    out = tmp_path / "failed"
    lines: list[str] = []
    summary = Sweep(
        "regression",
        parse_all(["lr=1e6,1e7"]),  # the loss diverges at once
        out,
        trials=2,
        options={"steps": 10, "device": "cpu"},
        say=lines.append,
    ).run()
    assert [t["status"] for t in summary["trials"]] == ["failed", "failed"]
    assert all("not finite" in t["error"] or "diverged" in t["error"] for t in summary["trials"])
    for number in (0, 1):
        run = json.loads((out / f"trial-{number:04d}" / "summary.json").read_text())
        assert run["status"] == "failed"
    assert any(line.startswith("trial 1 failed") for line in lines)
    assert (
        optuna.load_study(study_name="regression", storage=f"sqlite:///{out / 'study.db'}")
        .trials[0]
        .state.name
        == "FAIL"
    )


class CtrlC(optuna.pruners.BasePruner):
    """Presses Ctrl-C at a trial's first evaluation, as a user would in the middle of a sweep."""

    def prune(self, study, trial):
        os.kill(os.getpid(), signal.SIGINT)
        return False


def test_ctrl_c_ends_the_sweep_and_the_same_command_continues_it(tmp_path):
    out = tmp_path / "cut"
    sweep = Sweep(
        "regression", parse_all(["lr=0.05..0.2"]), out, trials=2, options={"steps": 20, "device": "cpu"}
    )
    sweep.pruner, sweep.say = CtrlC(), lambda line: None
    with pytest.raises(Interrupted, match="trial 0 .* the same zoo sweep command again continues") as caught:
        sweep.run()
    assert caught.value.exit_code == 130
    assert json.loads((out / "trial-0000" / "summary.json").read_text())["status"] == "interrupted"
    sweep.pruner = optuna.pruners.NopPruner()
    summary = sweep.run()
    assert [t["status"] for t in summary["trials"]] == ["failed", "finished"], [
        t["error"] for t in summary["trials"]
    ]


def test_bad_input_is_one_line_before_any_trial(tmp_path):
    for args, why in [
        (["--search", "lr=1..0"], "not below the high end"),
        (["--search", "nope=1..2"], "nope"),
        (["--search", "lr=0.1..1", "--lr", "0.5"], "--search lr and --lr are both given"),
        (["--search", "lr=0.1..1", "--storage", "nosuchdb://x"], "--storage nosuchdb://x"),
    ]:
        result = invoke("sweep", "regression", "--trials", 1, *args, "--out", tmp_path / "bad")
        assert result.exit_code == 2, result.output
        assert why in result.output and len(result.output.strip().splitlines()) == 1
        assert not list((tmp_path / "bad").glob("trial-*"))


def test_without_optuna_the_command_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    result = invoke("sweep", "regression", "--trials", 1, "--search", "lr=0.1..1", "--out", tmp_path / "s")
    assert result.exit_code == 2
    assert result.output.strip() == "zoo: error: zoo sweep needs Optuna: pip install 'zoo[sweep]'"
    assert invoke("list").exit_code == 0 and "sweep" in invoke("plugins").output


# -- two workers on one study ---------------------------------------------------------------------


def test_two_workers_on_one_sqlite_study_finish_it_without_running_a_trial_twice(tmp_path):
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    out, trials = tmp_path / "shared", 6
    zoo = Path(sys.executable).with_name("zoo")
    command = [
        str(zoo), "sweep", "regression", "--trials", str(trials), "--search", "lr=0.01..0.5:log",
        "--steps", "5", "--device", "cpu", "--storage", db, "--study", "two", "--out", str(out),
        "--pruner", "none",  # every trial runs to its end: the median pruner could stop the sixth
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=600)[0] for w in workers]  # a deadline, not a measurement
    assert [w.returncode for w in workers] == [0, 0], outputs
    ran = [set(map(int, re.findall(r"^trial (\d+) \w+:", text, re.M))) for text in outputs]
    assert not ran[0] & ran[1]  # no trial run by both
    study = optuna.load_study(study_name="two", storage=db)
    numbers = sorted(t.number for t in study.trials)
    # both may start the last one at the same moment: at most one trial more than asked
    assert trials <= len(numbers) <= trials + 1 and numbers == list(range(len(numbers)))
    assert ran[0] | ran[1] == set(numbers)
    assert all(t.state.name == "COMPLETE" for t in study.trials), [
        (t.number, t.state.name) for t in study.trials
    ]
    folders = sorted(p.name for p in out.glob("trial-*"))
    assert folders == [f"trial-{n:04d}" for n in numbers]
    for trial in study.trials:
        config = json.loads((out / f"trial-{trial.number:04d}" / "config.json").read_text())["config"]
        assert config["loop"]["lr"] == pytest.approx(trial.params["lr"])


def test_n_jobs_runs_trials_in_threads_each_into_its_own_folder(tmp_path):
    out = tmp_path / "jobs"
    result = invoke(
        "sweep", "regression", "--trials", 3, "--search", "optimizer=sgd,adam", "--steps", 5,
        "--device", "cpu", "--n-jobs", 2, "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    trials = json.loads((out / "sweep.json").read_text())["trials"]
    assert sorted(t["trial"] for t in trials) == [0, 1, 2] and {t["status"] for t in trials} == {"finished"}
    for t in trials:
        config = json.loads((out / f"trial-{t['trial']:04d}" / "config.json").read_text())["config"]
        assert config["optimizer"].endswith(t["params"]["optimizer"])


def test_the_readme_sweep_runs_as_shown(tmp_path, monkeypatch):
    (console,) = [b for b in blocks(ROOT / "README.md") if b.section == "Sweeps" and b.mode == "console"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZOO_RUNS_DIR")  # the default ./runs, as a user has it: it indexes the trials
    assert run_zoo_commands(console) == ["sweep", "runs"]
    assert (ROOT / "docs" / "sweep-history.png").stat().st_size < 100_000


def test_the_loop_reports_each_evaluation_to_on_evaluate(tmp_path):
    seen = []
    zoo_core.train(
        "regression",
        steps=6,
        eval_every=2,
        device="cpu",
        out=tmp_path / "r",
        on_evaluate=lambda s, m: seen.append((s, m)),
    )
    assert [s for s, _ in seen] == [2, 4]  # the last step's evaluation is the final one, after the loop
    assert all(isinstance(m["eval_loss"], float) for _, m in seen)
