"""What a run shows while it trains, and how the first Ctrl-C becomes a clean stop."""

from __future__ import annotations

import io
import os
import signal

from zoo_core.training.progress import Progress, stop_on_sigint


def test_progress_is_a_live_bar_on_a_terminal_and_lines_elsewhere():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    bar = Progress(total=4, quiet=False, stream=term)
    for step in range(1, 5):
        bar.update(step, {"step": step, "epoch": 1, "loss": 1.0 / step})
    bar.close()
    assert "4/4" in term.getvalue() and "loss=0.25" in term.getvalue()

    pipe = io.StringIO()
    lines = Progress(total=4, quiet=False, stream=pipe)
    for step in range(1, 5):
        lines.update(step, {"step": step, "epoch": 1, "loss": 1.0 / step})
    assert pipe.getvalue().splitlines()[-1] == "step 4/4 epoch 1 loss=0.25"
    assert "\r" not in pipe.getvalue()


def test_the_first_ctrl_c_is_a_flag_and_the_second_one_stops_at_once():
    before = signal.getsignal(signal.SIGINT)
    with stop_on_sigint() as interrupt:
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupt["stop"] is True  # the loop finishes its step and saves
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            pass
        else:
            raise AssertionError("a second Ctrl-C must raise KeyboardInterrupt")
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back


def test_the_latest_evaluation_and_the_best_stay_in_the_progress(toy_zoo, tmp_path, capsys):
    from zoo_core.training.loop import train_model

    train_model("toy", out=tmp_path / "r", device="cpu", steps=30, sets=["eval_every=10"], quiet=False)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step ")]
    before, after = lines[:3], lines[3:]  # lines every 3 steps: 3, 6, 9 come before the first evaluation
    assert not any("eval_mse" in line for line in before)
    assert all("eval_mse=" in line and " best=" in line for line in after), after
    assert "@20" in after[-1] or "@10" in after[-1]  # the best so far says where it was

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    bar = Progress(total=4, quiet=False, stream=term)
    bar.update(1, {"step": 1, "epoch": 1, "loss": 1.0})
    bar.evaluated({"accuracy": 0.5}, 0.5, 1)
    bar.update(2, {"step": 2, "epoch": 1, "loss": 0.5})
    bar.close()
    assert "accuracy=0.5" in term.getvalue() and "best=0.5@1" in term.getvalue()


def test_loss_curve_marks_evaluation_points_even_a_single_one(monkeypatch, tmp_path):
    from zoo_core.plugin import figures

    drawn = {}
    monkeypatch.setattr(figures, "save_figure", lambda fig, path: drawn.setdefault("fig", fig) and path)
    history = [{"step": s, "loss": 1.0 / s} for s in range(1, 6)]
    history[-1]["eval_loss"] = 0.3  # the final evaluation alone
    figures.loss_curve(history, tmp_path / "loss.png")
    lines = {line.get_label(): line for line in drawn["fig"].axes[0].get_lines()}
    assert lines["eval_loss"].get_marker() == "o" and len(lines["eval_loss"].get_xdata()) == 1
    assert lines["loss"].get_marker() in ("None", None, "")
