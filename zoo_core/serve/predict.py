"""``zoo predict``: a trained model run on the user's own inputs, read and shown the way its plugin says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from zoo_core.plugin.errors import ZooError
from zoo_core.plugin.predictor import PredictOptions, Predictor

if TYPE_CHECKING:
    from zoo_core.plugin.registry import Entry


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
    from zoo_core.serve.trained import open_run

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
