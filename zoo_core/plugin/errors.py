"""The one exception type that reaches users as a one-line message instead of a traceback."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any


class ZooError(Exception):
    """A problem the user can fix: printed as one line on stderr, exit code 2, no traceback."""

    exit_code = 2


class RunFailed(ZooError):
    """Training began and cannot go on (a diverged loss, a full disk): the run folder is marked failed."""


class RunStopped(ZooError):
    """Raised by a training callback (``on_step``, ``on_evaluate``) to end a run on purpose: its
    folder keeps ``status`` (one of ``store.runs.STATUSES``, e.g. ``pruned`` by a sweep) and
    ``fields`` in summary.json."""

    def __init__(self, message: str, status: str, **fields: Any) -> None:
        super().__init__(message)
        self.status, self.fields = status, fields


class Interrupted(ZooError):
    """Ctrl-C, SIGTERM or SIGHUP: the state was saved; the message says how to resume.

    The exit code is the shell's for a stopped process, 128 + the signal's number (130 for Ctrl-C)."""

    exit_code = 130

    def __init__(self, message: str, signum: int = 2) -> None:
        super().__init__(message)
        self.exit_code = 128 + int(signum)


class AmbiguousName(ZooError):
    """A bare name that several plugins register: the message lists the ``plugin:name`` forms."""


class PluginError(ZooError):
    """A plugin broke the contract (bad registration, duplicate name, failing hook)."""


def switch(name: str) -> bool:
    """An on/off environment variable: on for 1, true, yes or on; off when unset, empty or else."""
    import os

    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def debugging() -> bool:
    """Whether full tracebacks are wanted (``zoo --debug`` or ``ZOO_DEBUG=1``) instead of one line."""
    return switch("ZOO_DEBUG")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (or its type): a library's error, fit for one line."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def printable(text: str) -> str:
    """``text`` fit for one line on any terminal: characters that are not UTF-8 (a file name's raw
    bytes) as escapes, line breaks as ``\\n``."""
    shown = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return shown.replace("\r", "\\r").replace("\n", "\\n")


def raised_in(exc: BaseException, packages: Collection[str]) -> tuple[Any, str] | None:
    """Where plugin code (modules of ``packages``) raised ``exc``: the ``self`` and the name of its
    frame nearest the error, preferring ``forward``, ``loss`` and ``step``; None when it was not."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    ours = [f for f in reversed(frames) if str(f.f_globals.get("__name__", "")).split(".")[0] in packages]
    if not ours:
        return None
    frame = next((f for f in ours if f.f_code.co_name in ("forward", "loss", "step")), ours[0])
    return frame.f_locals.get("self"), frame.f_code.co_name
