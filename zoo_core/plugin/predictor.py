"""The ``Predictor`` base class: how a model reads the user's inputs and shows its outputs.

A model entry may name one (``registry.add(..., predictor="module:Class")``); the base class is the
fallback for any model: tensors from ``.npy``, ``.safetensors`` or JSON files in, the outputs as JSON out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from zoo_core.plugin.errors import ZooError, first_line

if TYPE_CHECKING:
    import torch


TENSOR_SUFFIXES = (".npy", ".safetensors", ".json")
FLOAT32_MAX = 3.4028234663852886e38  # the models take float32: a larger number would become inf


@attrs.frozen
class PredictOptions:
    """What ``zoo predict`` passes on to a predictor besides the inputs."""

    top_k: int = 3
    out: Path = Path(".")
    device: str = "cpu"
    #: the predictor's own options (its ``options``), typed, each one given or its default
    values: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Option:
    """One option a predictor declares: ``zoo predict RUN --NAME VALUE``, typed by its default."""

    default: int | float | str | bool
    help: str
    min: float | None = None  # the smallest value allowed, when there is one
    max: float | None = None

    def parse(self, name: str, value: Any) -> Any:
        """``value`` (text from the command line, or a value from Python) as this option's type."""
        flag = "--" + name.replace("_", "-")
        kind = type(self.default)
        if kind is bool:
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                value = value.lower() in ("true", "1", "yes")
            if not isinstance(value, bool):
                raise ZooError(f"{flag}: expected true or false, got {value!r}")
            return value
        try:
            typed = kind(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            typed = None
        if typed is None or (kind is int and isinstance(value, float) and value != int(value)):
            raise ZooError(
                f"{flag}: expected {'a whole number' if kind is int else kind.__name__}, got {value!r}"
            )
        if kind is float and not math.isfinite(typed):
            raise ZooError(f"{flag}: expected a finite number, got {value!r}")
        if (self.min is not None and typed < self.min) or (self.max is not None and typed > self.max):
            limits = [f"at least {self.min:g}"] if self.min is not None else []
            limits += [f"at most {self.max:g}"] if self.max is not None else []
            raise ZooError(f"{flag}: must be {' and '.join(limits)}, got {value!r}")
        return typed


class Predictor:
    """How a model reads the user's inputs and shows its outputs, and what ``zoo export`` exports.

    This base class reads tensor files (``.npy``, ``.safetensors`` or a JSON nested list; several
    files are joined along the batch dimension) and shows the raw outputs; subclasses override
    what differs. A subclass is made with no arguments, once per command.
    """

    #: What INPUT means for this model, for ``zoo predict --help`` and error messages.
    inputs: ClassVar[str] = "tensor files: .npy, .safetensors (one tensor) or .json (a nested list)"
    #: Non-empty: ``zoo predict`` refuses with this line (say what to use instead; ``{name}`` is the model).
    cannot_predict: ClassVar[str] = ""
    #: Non-empty: ``zoo export`` refuses with this line (say why).
    cannot_export: ClassVar[str] = ""
    #: What ``export_module`` returns, when it is not the whole model (``zoo export`` says so).
    exports: ClassVar[str] = ""
    #: The predictor's own options, ``{name: Option(default, help)}``: ``zoo predict RUN --name VALUE``
    #: (listed by ``zoo predict RUN --help``); their values reach it as ``options.values``.
    options: ClassVar[Mapping[str, Option]] = {}
    #: True: each INPUT is read, run and shown on its own (inputs that cannot share a batch).
    one_at_a_time: ClassVar[bool] = False
    #: Example INPUTs (``("0.5", "-1")``): ``zoo check`` predicts with them on a briefly trained run.
    sample: ClassVar[tuple[str, ...]] = ()

    def start(self, model: torch.nn.Module, options: PredictOptions) -> None:
        """Called once before the first ``read``, with the model (on ``options.device``) and the options."""
        self.model, self.settings = model, options

    def read(self, model: torch.nn.Module, args: Sequence[str]) -> tuple[torch.Tensor, ...]:
        """The positional inputs of ``model(...)`` from the command-line arguments."""
        if not args:
            raise ZooError(f"give one or more inputs: {self.inputs}")
        return (join_batches([read_tensor(a) for a in args]),)

    def run(self, model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> Any:
        """The model's outputs for ``batch``; an input it cannot take is one line, not a traceback."""
        import torch

        try:
            with torch.no_grad():
                return model(*batch)
        except (RuntimeError, ValueError, IndexError, TypeError) as exc:
            shapes = ", ".join(f"{tuple(t.shape)} {str(t.dtype).replace('torch.', '')}" for t in batch)
            raise ZooError(f"the model cannot take an input of shape {shapes} ({first_line(exc)})") from exc

    def show(
        self, args: Sequence[str], batch: tuple[torch.Tensor, ...], outputs: Any, options: PredictOptions
    ) -> list[dict[str, Any]]:
        """JSON-ready records of the outputs (``zoo predict --json`` prints them as they are)."""
        return [{"output": to_json(outputs)}]

    def text(self, records: list[dict[str, Any]]) -> str:
        """What ``zoo predict`` prints without ``--json``."""
        return "\n".join(json.dumps(r) for r in records)

    def example(self, model: torch.nn.Module) -> tuple[torch.Tensor, ...] | None:
        """A small example batch for ``zoo export`` (batch dimension first); None: the run's own data."""
        return None

    def export_module(self, model: torch.nn.Module) -> torch.nn.Module:
        """The part of the model ``zoo export`` exports (the whole model by default)."""
        return model


# -- readers that predictors share ---------------------------------------------------------------
def read_tensor(arg: str) -> torch.Tensor:
    """One tensor from a ``.npy`` (no pickle), ``.safetensors`` (one tensor) or ``.json`` file."""
    import numpy as np
    import torch

    path = Path(arg)
    if path.suffix not in TENSOR_SUFFIXES:
        raise ZooError(f"{arg}: expected a tensor file ({', '.join(TENSOR_SUFFIXES)})")
    if not path.is_file():
        raise ZooError(f"{arg}: no such file")
    if path.suffix == ".npy":
        tensor = torch.from_numpy(np.ascontiguousarray(read_npy(path, arg)))
    elif path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise ZooError(f"{arg}: not a readable safetensors file ({exc})") from exc
        if len(tensors) != 1:
            raise ZooError(
                f"{arg}: expected exactly one tensor, found {len(tensors)} ({', '.join(sorted(tensors))})"
            )
        (tensor,) = tensors.values()
    else:
        try:
            data = json.loads(path.read_text())
        except (ValueError, RecursionError) as exc:  # also UnicodeDecodeError; nesting too deep
            raise ZooError(f"{arg}: not valid JSON ({first_line(exc)})") from exc
        try:
            tensor = torch.tensor(data, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError, RecursionError) as exc:
            raise ZooError(f"{arg}: expected a nested list of numbers with equal lengths ({exc})") from exc
    if tensor.is_complex():
        raise ZooError(f"{arg}: holds complex numbers ({tensor.dtype}); give real numbers")
    if tensor.numel() == 0:
        raise ZooError(f"{arg}: holds no values (shape {tuple(tensor.shape)}); give at least one input")
    if tensor.is_floating_point():
        tensor = tensor.float()
        if not bool(torch.isfinite(tensor).all()):
            raise ZooError(f"{arg}: holds NaN or infinite values")
    elif tensor.dtype == torch.bool:
        tensor = tensor.float()
    else:
        tensor = tensor.long()
    return tensor


MAX_INPUT_BYTES = 2**30  # one input file's array: far more than any lesson's batch, far less than RAM


def read_npy(path: Path, arg: str) -> Any:
    """A ``.npy`` array of numbers (never a pickle): its header's dtype and shape are checked against
    the file's length and ``MAX_INPUT_BYTES`` before anything is allocated (the header is untrusted)."""
    import numpy as np
    from numpy.lib import format as npy

    try:
        with path.open("rb") as fh:
            version = npy.read_magic(fh)
            read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran, dtype = read_header(fh)
            if dtype.kind not in "biuf" or dtype.hasobject:
                raise ZooError(f"{arg}: expected an array of numbers, got dtype {dtype}")
            need = math.prod(shape) * dtype.itemsize
            have = path.stat().st_size - fh.tell()
            if need > MAX_INPUT_BYTES or need > have:
                raise ZooError(
                    f"{arg}: its header claims shape {shape} of {dtype} ({need:,} bytes) but the file "
                    f"holds {max(have, 0):,} bytes of data (at most {MAX_INPUT_BYTES:,} are read); "
                    "the file is damaged or not a .npy array"
                )
            fh.seek(0)
            return np.load(fh, allow_pickle=False)
    except ZooError:
        raise
    except (ValueError, OSError, EOFError, TypeError) as exc:  # a .npz or garbage: numpy's own words
        raise ZooError(f"{arg}: not a readable .npy array of numbers ({first_line(exc)})") from exc


def join_batches(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Several inputs' tensors as one batch along dimension 0; their other dimensions must agree."""
    import torch

    if len(tensors) == 1:
        return tensors[0]
    shapes = {tuple(t.shape[1:]) for t in tensors}
    if len(shapes) != 1 or any(t.dim() == 0 for t in tensors):
        raise ZooError(
            "the inputs do not stack into one batch: shapes "
            + ", ".join(str(tuple(t.shape)) for t in tensors)
        )
    return torch.cat(tensors)


def parse_numbers(arg: str, count: int, what: str) -> list[float]:
    """``count`` comma-separated finite numbers from one argument, e.g. ``"0.5"`` or ``"1,-2"``."""
    parts = [p.strip() for p in arg.split(",")]
    if len(parts) != count:
        raise ZooError(f"expected {count} number{'s' * (count > 1)} per input ({what}), got {arg!r}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ZooError(f"expected numbers ({what}), got {arg!r}") from None
    if not all(math.isfinite(v) and abs(v) <= FLOAT32_MAX for v in values):
        raise ZooError(f"expected finite numbers within float32's range (±3.4e38) ({what}), got {arg!r}")
    return values


def to_json(value: Any) -> Any:
    """Tensors (also inside tuples, lists and dicts) as nested lists of plain numbers."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


def first_linear(model: torch.nn.Module) -> torch.nn.Linear:
    """The first ``nn.Linear`` of a model: its ``in_features`` is how many numbers an input has."""
    from torch import nn

    for module in model.modules():
        if isinstance(module, nn.Linear):
            return module
    raise ZooError("the model has no Linear layer to read its input size from")
