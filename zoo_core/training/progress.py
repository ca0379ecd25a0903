"""What a run shows while it trains (a bar, periodic lines, or nothing) and how Ctrl-C stops it."""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager
from typing import Any

# The signals that ask a run to stop: Ctrl-C, and what ``kill``, ``timeout``, ``docker stop``,
# Slurm and a closed terminal send. Each is handled as the first Ctrl-C: save, mark, exit 128+N.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextmanager
def stop_on_sigint(terminate: bool = True) -> Any:
    """Turn the first Ctrl-C (or SIGTERM, SIGHUP) into a flag the loop checks between steps, so the
    run saves a resumable state; ``flag["signal"]`` says which. A second one aborts.

    ``terminate=False`` leaves SIGTERM and SIGHUP alone: the workers of a torchrun job, whose agent
    stops them with SIGTERM when a peer fails (the launcher itself saves nothing then)."""
    flag: dict[str, Any] = {"stop": False, "signal": signal.SIGINT}
    if sys.platform == "win32" or not _main_thread():
        yield flag
        return

    def handler(signum: int, frame: Any) -> None:
        if flag["stop"]:
            raise KeyboardInterrupt
        flag["stop"], flag["signal"] = True, signum

    wanted = STOP_SIGNALS if terminate else (signal.SIGINT,)
    previous = {signum: signal.signal(signum, handler) for signum in wanted}
    try:
        yield flag
    finally:
        for signum, was in previous.items():
            signal.signal(signum, was)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


class Progress:
    """A tqdm bar with the live loss on a terminal, plain periodic lines otherwise, or nothing."""

    def __init__(self, total: int, quiet: bool, stream: Any = None) -> None:
        self.total, self.quiet = total, quiet  # total may be set later, before the first update
        self.stream = stream or sys.stdout
        self.bar: Any = None
        self.next_line = 0
        self.evaluation: dict[str, str] = {}  # the latest evaluation and the best so far, shown on

    def evaluated(self, metrics: dict[str, Any], best: float | None, best_step: int | None) -> None:
        """Keep the latest evaluation (and the best so far) in every progress line until the next."""
        self.evaluation = {k: f"{v:.4g}" for k, v in metrics.items() if isinstance(v, (int, float))}
        if best is not None:
            self.evaluation["best"] = f"{best:.4g}@{best_step}"

    def say(self, text: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, file=self.stream, flush=True)

    def update(self, step: int, row: dict[str, Any] | None) -> None:
        if self.quiet:
            return
        if self.bar is None and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total, initial=step - 1, unit="step", dynamic_ncols=True, file=self.stream
            )
        shown = {
            **{k: f"{v:.4g}" for k, v in (row or {}).items() if k not in ("step", "epoch", *self.evaluation)},
            **self.evaluation,
        }
        if self.bar is not None:
            if row:  # set_postfix redraws at most every tqdm's mininterval, like update()
                self.bar.set_postfix(shown, refresh=False)
            self.bar.update(step - self.bar.n)
        elif row is not None and (step >= self.next_line or step == self.total):
            text = " ".join(f"{k}={v}" for k, v in shown.items())
            self.say(f"step {step}/{self.total} epoch {row['epoch']} {text}")
            self.next_line = step + max(1, self.total // 10)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
