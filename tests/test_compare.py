"""zoo compare: curves of several runs in one figure, their final and best metrics in a table."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from zoo_core.cli import cli
from zoo_core.serve.compare import compare_runs
from zoo_core.training.loop import train_model


def test_two_optimizer_runs_are_labelled_by_what_differs(tmp_path):
    train_model("regression", device="cpu", steps=20, sets=["eval_every=5"], out=tmp_path / "sgd")
    train_model(
        "regression",
        device="cpu",
        steps=20,
        optimizer="adam",
        lr=0.02,
        sets=["eval_every=5"],
        out=tmp_path / "adam",
    )
    report = compare_runs([tmp_path / "sgd", tmp_path / "adam"])
    assert report["metric"] == "eval_loss" and report["differs"] == ["loop.lr", "optimizer"]
    labels = [r["label"] for r in report["runs"]]
    assert labels == ["lr=0.2 optimizer=sgd", "lr=0.02 optimizer=adam"]
    for entry in report["runs"]:
        evals = [v for _, v in entry["curves"]["eval_loss"]]
        assert len(evals) == 4 and entry["best_metric"] == min(evals) and entry["final_metric"] == evals[-1]
    result = CliRunner().invoke(
        cli, ["compare", str(tmp_path / "sgd"), str(tmp_path / "adam"), "--out", str(tmp_path / "c.png")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")
    assert "lr=0.02 optimizer=adam" in result.output and "BEST eval_loss" in result.output


def test_runs_of_different_models_compare_on_shared_metrics_and_name_missing_ones(tmp_path):
    train_model("regression", device="cpu", steps=5, out=tmp_path / "reg")
    train_model("classification", device="cpu", steps=5, out=tmp_path / "cls")
    both = compare_runs([tmp_path / "reg", tmp_path / "cls"])
    assert both["metric"] == "eval_loss" and "model" in both["differs"] and not both["missing"]
    result = CliRunner().invoke(
        cli, ["compare", str(tmp_path / "reg"), str(tmp_path / "cls"), "--metric", "accuracy", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["missing"] == [f"{tmp_path / 'reg'} has no 'accuracy'"]
    assert "best_metric" in report["runs"][1] and "best_metric" not in report["runs"][0]


def test_compare_needs_two_run_folders(tmp_path):
    train_model("regression", device="cpu", steps=5, out=tmp_path / "reg")
    one = CliRunner().invoke(cli, ["compare", str(tmp_path / "reg")])
    assert one.exit_code == 2 and "needs two runs or more" in one.output
    (tmp_path / "empty").mkdir()
    nowhere = CliRunner().invoke(cli, ["compare", str(tmp_path / "reg"), str(tmp_path / "empty")])
    assert nowhere.exit_code == 2 and "no run found" in nowhere.output


def _damage(run, how):
    if how == "started":
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps({**summary, "started": "yesterday"}))
    elif how == "deep":
        (run / "summary.json").write_text("[" * 100000 + "]" * 100000)
    elif how == "big-cell":
        with open(run / "metrics.csv", "a") as fh:
            fh.write("99," + "1" * 131100 + "\n")
    elif how == "latin-1":
        (run / "metrics.csv").write_bytes((run / "metrics.csv").read_bytes() + "é,1\n".encode("latin-1"))


@pytest.mark.parametrize("how", ["started", "deep", "big-cell", "latin-1"])
def test_one_damaged_run_never_breaks_runs_or_compare_for_the_others(toy_zoo, tmp_path, how):
    runs = [train_model("toy", steps=5, out=tmp_path / name, device="cpu").run_dir for name in ("ok", "bad")]
    _damage(runs[1], how)
    listed = CliRunner().invoke(cli, ["runs", "--json"])
    assert listed.exit_code == 0, listed.output
    shown = {r["run"]: r["status"] for r in json.loads(listed.output)}
    assert shown == {str(runs[0]): "finished", str(runs[1]): "damaged" if how == "deep" else "finished"}
    assert CliRunner().invoke(cli, ["runs"]).exit_code == 0
    compared = CliRunner().invoke(cli, ["compare", *map(str, runs), "--out", str(tmp_path / "c.png")])
    assert compared.exit_code == 0, compared.output
    assert (tmp_path / "c.png").is_file()


def test_compare_to_a_missing_folder_is_one_line_before_the_table(toy_zoo, tmp_path):
    runs = [str(train_model("toy", steps=5, out=tmp_path / n, device="cpu").run_dir) for n in "ab"]
    result = CliRunner().invoke(cli, ["compare", *runs, "--out", str(tmp_path / "missing" / "x.png")])
    assert result.exit_code == 2, result.output
    assert (
        result.output
        == f"zoo: error: --out {tmp_path / 'missing' / 'x.png'}: the folder {tmp_path / 'missing'} does not exist or is not writable\n"
    )


@pytest.mark.filterwarnings("error")  # matplotlib's "No artists with labels" would leak to stderr
def test_a_metric_no_run_has_is_a_note_and_no_warning(toy_zoo, tmp_path):
    runs = [str(train_model("toy", steps=5, out=tmp_path / n, device="cpu").run_dir) for n in "ab"]
    result = CliRunner().invoke(
        cli, ["compare", *runs, "--metric", "nothing", "--out", str(tmp_path / "c.png")]
    )
    assert result.exit_code == 0, result.output
    assert f"note: {runs[0]} has no 'nothing'" in result.output and (tmp_path / "c.png").is_file()


def test_labels_name_only_what_matters_and_where_a_run_departs(tmp_path):
    common = {"device": "cpu", "steps": 6}
    train_model("regression", out=tmp_path / "a", lr=0.1, sets=["eval_every=2"], **common)
    train_model("regression", out=tmp_path / "b", lr=0.1, sets=["eval_every=3", "n_hidden=32"], **common)
    train_model("regression", out=tmp_path / "c", lr=0.05, accumulate=2, sets=["eval_every=3"], **common)
    report = compare_runs([tmp_path / "a", tmp_path / "b", tmp_path / "c"])
    assert report["differs"] == ["loop.accumulate", "loop.lr", "model_params.n_hidden"]  # not eval_every
    # lr 0.1, accumulate 1 and n_hidden 10 are what most runs have: each label names where its run departs
    assert [r["label"] for r in report["runs"]] == ["a", "n_hidden=32", "accumulate=2 lr=0.05"]
    named = compare_runs([tmp_path / "a", tmp_path / "b"], labels={str(tmp_path / "b"): "wide"})
    assert [r["label"] for r in named["runs"]] == ["n_hidden=10", "wide"]
    result = CliRunner().invoke(cli, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--label", "x=y"])
    assert result.exit_code == 2 and "--label x=y: x is not one of the compared runs" in result.output


def test_the_table_keeps_training_loss_and_metric_apart(tmp_path):
    from zoo_core.serve.compare import as_rows

    train_model("regression", device="cpu", steps=4, out=tmp_path / "reg")
    train_model("classification", device="cpu", steps=4, out=tmp_path / "cls")
    report = compare_runs([tmp_path / "reg", tmp_path / "cls"], "accuracy")
    rows, header = as_rows(report)
    assert header[3] == "FINAL loss" and report["runs"][0]["losses"] == ["loss"]  # never eval_loss
    history = json.loads((tmp_path / "reg" / "summary.json").read_text())["metrics"]
    assert rows[0][3] == f"{history['loss']:.4g}"
    train_model("gan", device="cpu", steps=2, out=tmp_path / "gan")
    apart = compare_runs([tmp_path / "reg", tmp_path / "gan"])
    rows, header = as_rows(apart)
    assert apart["metric"] is None and header == ["RUN", "LABEL", "STATUS", "FINAL LOSS"]  # no "FINAL -"
    assert rows[1][3].endswith("(d_loss)") and [r["label"] for r in apart["runs"]] == [
        "model=regression",
        "model=gan",
    ]
    assert apart["missing"] == ["no evaluation metric is in every run; --metric NAME compares one"]


def test_the_figure_keeps_legend_and_title_off_the_plots(tmp_path, monkeypatch):
    from zoo_core.plugin import figures
    from zoo_core.serve.compare import draw

    for name, lr in (("a", 0.1), ("b", 0.05)):
        train_model("regression", device="cpu", steps=4, lr=lr, sets=["eval_every=2"], out=tmp_path / name)
    drawn = {}
    monkeypatch.setattr(figures, "save_figure", lambda fig, path: drawn.setdefault("fig", fig) and path)
    draw(compare_runs([tmp_path / "a", tmp_path / "b"]), tmp_path / "c.png")
    fig = drawn["fig"]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (legend,) = fig.legends
    assert all(ax.get_legend() is None for ax in fig.axes)
    bottom = min(ax.get_tightbbox(renderer).y0 for ax in fig.axes)
    assert legend.get_window_extent(renderer).y1 <= bottom  # below the plots, covering none
    title = fig._suptitle.get_window_extent(renderer)
    assert title.x0 >= 0 and title.x1 <= fig.bbox.width  # inside the figure
