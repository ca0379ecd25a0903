"""The search space as ``--search`` spells it: ``KEY=LO..HI[:log][:int]`` or ``KEY=a,b,c``."""

from __future__ import annotations

import math
from typing import Any

import attrs

from zoo_core import ZooError

_FLAGS = ("log", "int")


@attrs.frozen
class Param:
    """One searched setting: a range of numbers (``low``..``high``) or a choice of words."""

    key: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[str, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """The value Optuna's ``trial`` picks for this setting."""
        if self.choices:
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, log=self.log)

    def describe(self) -> str:
        """How ``--search`` spells it back."""
        if self.choices:
            return f"{self.key}={','.join(self.choices)}"
        low, high = (int(self.low), int(self.high)) if self.integer else (self.low, self.high)
        flags = "".join(f":{f}" for f, on in (("log", self.log), ("int", self.integer)) if on)
        return f"{self.key}={low!r}..{high!r}{flags}"


def _bad(spec: str, why: str) -> ZooError:
    return ZooError(
        f"--search {spec!r}: {why}; write KEY=LO..HI (add :log for a log scale, :int for whole numbers) "
        "or KEY=a,b,c for a choice"
    )


def _number(spec: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _bad(spec, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise _bad(spec, f"{text!r} is not a finite number")
    return value


def parse(spec: str) -> Param:
    """One ``--search`` value as a ``Param``; bad syntax is one line saying how to write it."""
    key, eq, rest = spec.partition("=")
    key = key.strip()
    if not eq or not key or not rest.strip():
        raise _bad(spec, "expected KEY=RANGE")
    if any(c.isspace() for c in key) or key.startswith("-"):
        raise _bad(spec, f"{key!r} is not a setting's name")
    if ".." not in rest:
        choices = tuple(c.strip() for c in rest.split(","))
        if ":" in rest and len(choices) == 1:
            raise _bad(spec, ":log and :int go with a range LO..HI")
        if any(not c for c in choices):
            raise _bad(spec, "a choice is empty")
        if len(set(choices)) != len(choices):
            raise _bad(spec, "a choice is given twice")
        return Param(key, choices=choices)
    span, *flags = rest.split(":")
    unknown = [f for f in flags if f.strip() not in _FLAGS]
    if unknown:
        raise _bad(spec, f"unknown flag :{unknown[0].strip()}")
    lo_text, _, hi_text = span.partition("..")
    low, high = _number(spec, lo_text.strip()), _number(spec, hi_text.strip())
    log, integer = "log" in [f.strip() for f in flags], "int" in [f.strip() for f in flags]
    if low >= high:
        raise _bad(spec, f"the low end {low:g} is not below the high end {high:g}")
    if log and low <= 0:
        raise _bad(spec, f"a :log range must be above 0, not from {low:g}")
    if integer and (low != int(low) or high != int(high)):
        raise _bad(spec, ":int needs whole-number ends")
    return Param(key, low, high, log=log, integer=integer)


def parse_all(specs: tuple[str, ...] | list[str]) -> list[Param]:
    """Every ``--search``; none, or a setting searched twice, is refused."""
    if not specs:
        raise ZooError("zoo sweep needs at least one --search KEY=LO..HI or KEY=a,b,c")
    params = [parse(s) for s in specs]
    keys = [p.key for p in params]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ZooError(f"--search {twice[0]} is given twice; search each setting once")
    return params
