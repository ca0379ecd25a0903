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
