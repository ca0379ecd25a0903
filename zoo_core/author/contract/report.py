"""What ``zoo check`` reports: one ``Outcome`` a check, the ``--train`` rows, and the ``Report``.

Checks add to it through ``emit``: a FAIL or SKIP that later checks depend on raises ``Stop``,
which ends that subject's checks; an unexpected error becomes the FAIL line of its check.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import attrs

from zoo_core.plugin.errors import ZooError, debugging

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"

#: ``emit(status, check, detail)``: adds one line to the current subject's outcomes
Emit = Callable[[str, str, str], None]


@attrs.define
class Outcome:
    """One line of a report: a check on one subject (``model plugin:name`` or ``plugin name``)."""

    status: str
    subject: str
    check: str
    detail: str = ""

    def line(self, width: int = 0) -> str:
        return f"{self.status}  {self.subject.ljust(width)}  {self.check}: {self.detail}".rstrip()


@attrs.define
class Trained:
    """One row of ``zoo check --train``: a model's full recipe against its declared ``expects``."""

    status: str
    model: str
    expected: str
    measured: str = ""
    seconds: float | None = None

    def row(self) -> list[str]:
        took = "-" if self.seconds is None else f"{self.seconds:.1f}s"
        return [self.model, self.expected, self.measured or "-", took, self.status]


@attrs.define
class Report:
    """Every outcome of a ``zoo check`` run; ``ok`` when nothing failed."""

    outcomes: list[Outcome] = attrs.field(factory=list)
    trained: list[Trained] = attrs.field(factory=list)  # with --train: one row per model

    @property
    def ok(self) -> bool:
        return not any(o.status == FAIL for o in self.outcomes)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def summary(self) -> str:
        return f"{self.count(PASS)} passed, {self.count(FAIL)} failed, {self.count(SKIP)} skipped"

    def text(self) -> str:
        width = max((len(o.subject) for o in self.outcomes), default=0)
        table = [self.table()] if self.trained else []
        return "\n".join([o.line(width) for o in self.outcomes] + table + [self.summary()])

    def table(self) -> str:
        """The ``--train`` rows: model, expected, measured, time, PASS/FAIL/SKIP."""
        from zoo_core.plugin.text import table

        return table([t.row() for t in self.trained], ["MODEL", "EXPECTED", "MEASURED", "TIME", "RESULT"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "passed": self.count(PASS),
            "failed": self.count(FAIL),
            "skipped": self.count(SKIP),
            "outcomes": [attrs.asdict(o) for o in self.outcomes],
            "trained": [attrs.asdict(t) for t in self.trained],
        }


class Stop(Exception):
    """Ends one subject's checks after a FAIL or SKIP that the later checks depend on."""


def fail(emit: Emit, check: str, detail: str) -> NoReturn:
    """A FAIL that the later checks of the subject depend on: emit it and stop."""
    emit(FAIL, check, detail)
    raise Stop


def error_text(exc: BaseException) -> str:
    """An error as one line: a ``ZooError``'s message as it is, any other with its type."""
    text = str(exc).strip()
    if isinstance(exc, ZooError) and text:
        return text.splitlines()[0]
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


@contextmanager
def stage(emit: Emit, check: str) -> Iterator[None]:
    """Turn an unexpected error inside one check into that check's FAIL line."""
    try:
        yield
    except Stop:
        raise
    except Exception as exc:
        if debugging():
            traceback.print_exc()
        emit(FAIL, check, error_text(exc))
        raise Stop from exc


def outcomes(
    subject: str, checks: Callable[[Emit], None], shown: Callable[[Outcome], None] | None = None
) -> list[Outcome]:
    """Run one subject's checks; an unexpected error is a FAIL line, never a crash of ``zoo check``.

    ``shown`` sees each line as it is decided: a large model's checks take minutes, line by line.
    """
    out: list[Outcome] = []

    def emit(status: str, check: str, detail: str) -> None:
        out.append(Outcome(status, subject, check, detail))
        if shown is not None:
            shown(out[-1])

    try:
        checks(emit)
    except Stop:
        pass
    except Exception as exc:  # a broken plugin is reported, never a crash of 'zoo check'
        if debugging():
            traceback.print_exc()
        emit(FAIL, "checks", error_text(exc))
    return out
