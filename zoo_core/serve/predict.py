"""``zoo predict``: a trained model run on the user's own inputs, read and shown the way its plugin says."""

from __future__ import annotations

from collections.abc import Sequence
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


def predict(
    run: str | Path,
    args: Sequence[str],
    *,
    top_k: int = 3,
    out: str | Path | None = None,
    device: str = "cpu",
) -> Prediction:
    """Rebuild a trained model from its safetensors weights and run it on ``args``."""
    from zoo_core.serve.trained import open_run

    trained = open_run(run, device=device)
    weights, entry, model = trained.weights, trained.entry, trained.model
    predictor = predictor_of(entry)
    if predictor.cannot_predict:
        raise ZooError(f"{entry.name}: {predictor.cannot_predict.format(name=entry.name)}")
    batch = tuple(t.to(device) for t in predictor.read(model, args))
    outputs = predictor.run(model, batch)
    options = PredictOptions(top_k=top_k, out=Path(out) if out is not None else Path("."))
    records = predictor.show(args, batch, outputs, options)
    return Prediction(entry.qualname, str(weights), records, predictor.text(records))
