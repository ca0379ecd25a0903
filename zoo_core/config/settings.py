"""Typed settings: the shared loop's ``Loop`` record, and the value checks every setting goes through.

A setting arrives as a flag, a ``--set KEY=VALUE``, a recipe, a config file or a saved run; each
path checks it here, so a wrong value gets the same one-line message wherever it came from.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import attrs

from zoo_core.plugin.errors import ZooError

FLOAT_MAX = 3.4028234663852886e38  # float32's largest: beyond it torch cannot use the number
SEED_MAX = 2**32 - 1
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")
MODES = ("auto", "min", "max")
LOGGERS = ("csv", "tensorboard")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
SAVE_FORMATS = ("safetensors", "pickle", "both")  # --save-format: pickle adds model.pt
_LIKE = {int: 0, float: 0.0, bool: False, str: ""}  # a value of each kind, to check others against


def finite(value: float) -> bool:
    """A float that torch can use: not NaN, not infinite, within float32's range."""
    return math.isfinite(value) and abs(value) <= FLOAT_MAX


def fits(value: Any, like: Any) -> bool:
    """Whether ``value`` has the type of the setting's default ``like`` (a finite number for floats)."""
    if isinstance(value, float) and not finite(value):
        return False
    if like is None:
        return not isinstance(value, Mapping)
    if isinstance(like, bool):
        return isinstance(value, bool)
    if isinstance(like, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(like, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(like, (list, tuple)):
        return isinstance(value, (list, tuple)) and all(not like or fits(v, like[0]) for v in value)
    return isinstance(value, type(like))


def kind_of(like: Any) -> str:
    """The words for a setting's type in an error message."""
    if isinstance(like, bool):
        return "true or false"
    return {int: "a whole number", float: "a finite number (at most 3.4e38)", str: "a string"}.get(
        type(like), type(like).__name__
    )


def is_none(value: Any) -> bool:
    """None in a file or on the command line: JSON's null, or the word "none" (TOML has no null)."""
    return value is None or (isinstance(value, str) and value.strip().lower() == "none")


def typed(value: Any, like: Any, where: str) -> Any:
    """``value`` as a setting whose default is ``like`` takes it (whole numbers become floats for a
    float, lists tuples for a tuple), or the one error for a value of the wrong kind, naming ``where``."""
    if like is None and is_none(value):
        return None
    if not fits(value, like):
        raise ZooError(f"{where} must be {kind_of(like)}, not {value!r}")
    if isinstance(like, float):
        return float(value)
    return type(like)(value) if isinstance(like, tuple) else value


def parse_value(text: str, like: Any, what: str) -> Any:
    """Parse ``text`` to the type of ``like`` (the setting's default); errors name the setting."""
    try:
        if isinstance(like, bool):
            low = text.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(like, int):
            return int(text)
        if isinstance(like, float):
            value = float(text)
            if not finite(value):
                raise ValueError
            return value
        if isinstance(like, (list, tuple)):
            inner = like[0] if like else ""
            body = text.strip()
            if body[:1] + body[-1:] in ("[]", "()"):  # 0.9,0.99 or [0.9, 0.99] or (0.9, 0.99)
                body = body[1:-1]
            items = [parse_value(p.strip(), inner, what) for p in body.split(",") if p.strip()]
            return type(like)(items)
        if isinstance(like, str):
            return text
        if like is None:
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return text
    except (ValueError, ZooError):
        pass
    raise ZooError(f"--set {what}={text}: expected {kind_of(like)}")


# -- the loop's settings -------------------------------------------------------------------------


def _as_float(value: Any) -> Any:
    """A whole number given for a float setting (``lr = 1`` in a file) becomes that float."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _check(loop: Any, field: attrs.Attribute, value: Any) -> None:
    """One setting's type and range, from the field's metadata; the message names the setting."""
    meta, name = field.metadata, field.name
    if (value is None and meta["optional"]) or value in meta["words"]:
        return
    typed(value, _LIKE[meta["kind"]], name)
    low, high = meta["at_least"], meta["at_most"]
    if high is not None and not low <= value <= high:
        raise ZooError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    if low is not None and value < low:
        limit = "a positive whole number" if low == 1 else "0 or more"
        raise ZooError(f"{name} must be {limit}, got {value!r}")
    if meta["positive"] and not value > 0:
        raise ZooError(f"{name} must be a positive number, got {value!r}")
    if meta["choices"] and value not in meta["choices"]:
        raise ZooError(f"{name} {value!r}: choose one of {', '.join(meta['choices'])}")


def _setting(
    default: Any,
    kind: type,
    doc: str,
    *,
    optional: bool = False,
    at_least: int | None = None,
    at_most: int | None = None,
    positive: bool = False,
    choices: tuple[str, ...] = (),
    words: tuple[str, ...] = (),
) -> Any:
    """A loop field: its default, kind and limits in one place, checked whenever a Loop is made."""
    return attrs.field(
        default=default,
        converter=_as_float if kind is float else None,
        validator=_check,
        metadata={
            "kind": kind,
            "doc": doc,
            "optional": optional,
            "at_least": at_least,
            "at_most": at_most,
            "positive": positive,
            "choices": choices,
            "words": words,  # values a number setting also takes by name (eval_every = "epoch")
        },
    )


@attrs.frozen(kw_only=True)
class Loop:
    """The shared loop's settings for one run: typed, checked when made, never changed in place.

    A recipe, a config file, the flags and ``--set`` all land here; ``replace`` makes a changed copy
    (checked again). Saved in ``config.json`` as the ``loop`` mapping.
    """

    lr: float = _setting(0.01, float, "learning rate", positive=True)
    epochs: int | None = _setting(None, int, "passes over the training data", optional=True, at_least=1)
    steps: int | None = _setting(None, int, "optimizer steps, instead of epochs", optional=True, at_least=1)
    batch_size: int | None = _setting(
        None, int, "samples per step; none: the whole training set", optional=True, at_least=1
    )
    shuffle: bool = _setting(True, bool, "reshuffle the training set every epoch")
    drop_last: bool = _setting(False, bool, "drop a last, smaller batch")
    workers: int = _setting(0, int, "DataLoader worker processes", at_least=0)
    seed: int = _setting(
        0, int, "one seed for torch, numpy, random and the loaders", at_least=0, at_most=SEED_MAX
    )
    eval_every: int | str | None = _setting(
        None,
        int,
        "steps between evaluations, or epoch; 0: at the end only; none: every epoch of an epochs run",
        optional=True,
        at_least=0,
        words=("epoch",),
    )
    log_every: int = _setting(0, int, "steps between metric rows; 0: about 200 rows per run", at_least=0)
    checkpoint_every: int = _setting(
        0, int, "steps between resumable checkpoints; 0: at the end (and on Ctrl-C)", at_least=0
    )
    cuda_graphs: bool = _setting(True, bool, "on CUDA, replay a capturable trainer's step as a graph")
    precision: str = _setting("32-true", str, "autocast (and a GradScaler for fp16)", choices=PRECISIONS)
    grad_clip: float | None = _setting(
        None,
        float,
        "clip the gradients' total norm to this, per optimizer step",
        optional=True,
        positive=True,
    )
    accumulate: int = _setting(1, int, "micro-batches of batch_size per optimizer step", at_least=1)
    compile: bool = _setting(False, bool, "torch.compile the model (or the trainer's named modules)")
    compile_mode: str = _setting("default", str, "torch.compile's mode", choices=COMPILE_MODES)
    monitor: str | None = _setting(
        None, str, "the evaluation metric that picks best.safetensors; none: the trainer's", optional=True
    )
    mode: str = _setting(
        "auto", str, "min or max for the monitored metric; auto: max for scores", choices=MODES
    )
    patience: int = _setting(
        0, int, "stop after this many evaluations without improvement; 0: never", at_least=0
    )
    logger: str = _setting("csv", str, "metrics.csv always; tensorboard adds event files", choices=LOGGERS)
    stop_on_nan: bool = _setting(True, bool, "a NaN or infinite loss stops the run; false: a warning")

    def __attrs_post_init__(self) -> None:
        if self.epochs is None and self.steps is None:
            raise ZooError("give the run a length: epochs or steps")
        if (self.patience or self.monitor) and not self.evaluates:
            flag = "--patience" if self.patience else "--monitor"
            raise ZooError(f"{flag} needs evaluations during the run: add --eval-every N (steps) or epoch")

    @property
    def evaluates(self) -> bool:
        """Whether the run evaluates as it goes (and so keeps its best weights)."""
        return bool(self.eval_every) or (self.eval_every is None and self.steps is None)

    def eval_steps(self, steps_per_epoch: int) -> int:
        """Optimizer steps between evaluations (0: at the end only); an epoch is ``steps_per_epoch``."""
        if self.eval_every == "epoch" or (self.eval_every is None and self.steps is None):
            return max(1, steps_per_epoch)
        return self.eval_every or 0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str = "") -> Loop:
        """A Loop from settings by name (a recipe, a file, a saved run); errors name ``source``."""
        where = f"{source}: " if source else ""
        unknown = [k for k in values if k not in NAMES]
        if unknown:
            raise ZooError(f"{where}unknown loop setting {unknown[0]!r}; valid: {', '.join(NAMES)}")
        try:
            return cls(**values)
        except ZooError as exc:
            raise ZooError(f"{where}{exc}") from None

    def replace(self, **changes: Any) -> Loop:
        """A copy with ``changes``, checked like any new Loop."""
        return attrs.evolve(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    def __getitem__(self, name: str) -> Any:
        """Refuse ``loop["lr"]`` (plugin code from before the Loop record) with the line that fixes it."""
        raise ZooError(
            f"config.loop[{name!r}]: the loop's settings are attributes now; read config.loop.{name}"
        )


FIELDS: dict[str, attrs.Attribute] = {f.name: f for f in attrs.fields(Loop)}
NAMES = tuple(FIELDS)


def defaults() -> dict[str, Any]:
    """Every loop setting's default, by name (a fresh dict: callers may change it)."""
    return {name: field.default for name, field in FIELDS.items()}


def docs() -> dict[str, str]:
    """What each loop setting does, in a few words (``zoo train NAME --help`` shows them)."""
    return {name: field.metadata["doc"] for name, field in FIELDS.items()}


def like(name: str) -> Any:
    """A value of the loop setting's kind, to check and parse others against."""
    return _LIKE[FIELDS[name].metadata["kind"]]


def optional(name: str) -> bool:
    """Whether the loop setting may be None (``none`` on the command line or in a file)."""
    return FIELDS[name].metadata["optional"]


def words(name: str) -> tuple[str, ...]:
    """The values a number setting also takes by name (``eval_every``: ``epoch``)."""
    return FIELDS[name].metadata["words"]


def parse_loop_value(name: str, text: str) -> Any:
    """A loop setting from ``--set NAME=TEXT``: ``none`` (or full, off) for the optional ones."""
    if text.lower() in ("none", "null", "full", "off") and optional(name):
        return None
    if text.strip().lower() in words(name):
        return text.strip().lower()
    return parse_value(text, like(name), name)
