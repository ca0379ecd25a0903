"""``zoo predict``: a trained model run on the user's own inputs, read and shown the way its plugin says.

A model entry may name a :class:`Predictor` (``registry.add(..., predictor="module:Class")``); the
base class itself is the fallback for any model: tensors from ``.npy``, ``.safetensors`` or JSON
files in, the outputs as JSON out. The same object tells ``zoo export`` what to export and with
which example input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from zoo_core.errors import ZooError, first_line

if TYPE_CHECKING:
    import torch

    from zoo_core.registry import Entry

TENSOR_SUFFIXES = (".npy", ".safetensors", ".json")


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
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ZooError(f"{arg}: not a readable .npy array of numbers ({exc})") from exc
        if array.dtype.kind not in "biuf":
            raise ZooError(f"{arg}: expected an array of numbers, got dtype {array.dtype}")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
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
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are
            raise ZooError(f"{arg}: not valid JSON ({exc})") from exc
        try:
            tensor = torch.tensor(data, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ZooError(f"{arg}: expected a nested list of numbers with equal lengths ({exc})") from exc
    if tensor.is_floating_point():
        tensor = tensor.float()
        if not bool(torch.isfinite(tensor).all()):
            raise ZooError(f"{arg}: holds NaN or infinite values")
    elif tensor.dtype == torch.bool:
        tensor = tensor.float()
    else:
        tensor = tensor.long()
    return tensor


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
    if not all(math.isfinite(v) for v in values):
        raise ZooError(f"expected finite numbers ({what}), got {arg!r}")
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


# -- the command -----------------------------------------------------------------------------------
def predictor_of(entry: Entry) -> Predictor:
    """The entry's declared predictor, or the tensor-file fallback."""
    cls = entry.load_predictor() or Predictor
    predictor = cls()
    if not isinstance(predictor, Predictor):
        raise ZooError(f"model '{entry.qualname}': its predictor is not a zoo_core.Predictor")
    return predictor


@attrs.frozen
class Prediction:
    """What ``zoo predict`` shows: the records (``--json``) and their text."""

    model: str
    source: str
    records: list[dict[str, Any]]
    text: str


def option_values(predictor: Predictor, given: Mapping[str, Any], top_k: int | None = None) -> dict[str, Any]:
    """The predictor's options: each given one parsed by its type, the others their defaults.

    A predictor that declares ``top_k`` gets the command's ``--top-k`` when it is given.
    """
    declared = dict(predictor.options)
    unknown = sorted(set(given) - set(declared))
    if unknown:
        own = ", ".join("--" + n.replace("_", "-") for n in declared) or "none"
        raise ZooError(
            f"no such option: --{unknown[0].replace('_', '-')} (this model's predictor options: {own}; "
            "see 'zoo predict RUN --help')"
        )
    values = {name: option.parse(name, given.get(name, option.default)) for name, option in declared.items()}
    if top_k is not None and "top_k" in declared:
        values["top_k"] = declared["top_k"].parse("top_k", top_k)
    return values


def split_options(tokens: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Command-line INPUTs and ``--name value`` (or ``--name=value``) pairs, apart."""
    inputs: list[str] = []
    given: dict[str, str] = {}
    items = iter(tokens)
    for token in items:
        if not token.startswith("--") or token == "--":
            inputs.append(token)
            continue
        name, eq, value = token[2:].partition("=")
        if not eq:
            value = next(items, None)
            if value is None:
                raise ZooError(f"option --{name} needs a value")
        given[name.replace("-", "_")] = value
    return inputs, given


def predict(
    run: str | Path,
    args: Sequence[str],
    *,
    top_k: int | None = None,
    out: str | Path | None = None,
    device: str = "cpu",
    options: Mapping[str, Any] | None = None,
) -> Prediction:
    """Rebuild a trained model from its safetensors weights and run it on ``args``.

    ``options`` are the predictor's own (``Predictor.options``) by name.
    """
    from zoo_core.trained import open_run

    trained = open_run(run, device=device)
    weights, entry, model = trained.weights, trained.entry, trained.model
    predictor = predictor_of(entry)
    if predictor.cannot_predict:
        raise ZooError(f"{entry.name}: {predictor.cannot_predict.format(name=entry.name)}")
    chosen = PredictOptions(
        top_k=3 if top_k is None else top_k,
        out=Path(out) if out is not None else Path("."),
        device=device,
        values=option_values(predictor, options or {}, top_k),
    )
    predictor.start(model, chosen)
    records: list[dict[str, Any]] = []
    for group in [[a] for a in args] if predictor.one_at_a_time and args else [args]:
        batch = tuple(t.to(device) for t in predictor.read(model, group))
        records += predictor.show(group, batch, predictor.run(model, batch), chosen)
    return Prediction(entry.qualname, str(weights), records, predictor.text(records))
