"""What ``zoo predict`` does with the small nets of lessons 301-306: numbers (or x,y points) in, outputs out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from zoo_core import PredictOptions, Predictor, ZooError, first_linear, parse_numbers, table, to_json


def _cell(value: Any) -> str:
    values = value if isinstance(value, list) else [value]
    return ",".join(f"{v:.6g}" for v in values)


class Numbers(Predictor):
    """Each INPUT is one sample: a number, or comma-separated numbers when the net takes several."""

    inputs = "numbers, one sample per argument (comma-separated when the model takes several: 1.5,-2)"
    what = "x"

    def read(self, model: nn.Module, args: list[str]) -> tuple[torch.Tensor, ...]:
        n = first_linear(model).in_features
        if not args:
            example = " ".join([",".join(["0.5"] * n), ",".join(["-0.3"] * n)])
            raise ZooError(
                f"give one or more inputs of {n} number{'s' * (n > 1)} ({self.what}), e.g. {example}"
            )
        return (torch.tensor([parse_numbers(a, n, self.what) for a in args]),)

    def run(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> Any:
        if isinstance(model, nn.ModuleDict):  # a comparison: every net's answer
            with torch.no_grad():
                return {name: net(*batch) for name, net in model.items()}
        return super().run(model, batch)

    def show(
        self, args: Sequence[str], batch: tuple[torch.Tensor, ...], outputs: Any, options: PredictOptions
    ) -> list[dict[str, Any]]:
        xs = batch[0].tolist()
        rows = []
        for i, x in enumerate(xs):
            if isinstance(outputs, dict):
                y = {name: _squeeze(to_json(out[i])) for name, out in outputs.items()}
            else:
                y = _squeeze(to_json(outputs[i]))
            rows.append({"x": _squeeze(x), "y": y})
        return rows

    def text(self, records: list[dict[str, Any]]) -> str:
        first = records[0]["y"]
        names = list(first) if isinstance(first, dict) else []
        headers = ["X", *(f"Y {n}" for n in names)] if names else ["X", "Y"]
        rows = [
            [_cell(r["x"]), *([_cell(r["y"][n]) for n in names] if names else [_cell(r["y"])])]
            for r in records
        ]
        return table(rows, headers)

    def example(self, model: nn.Module) -> tuple[torch.Tensor, ...]:
        n = first_linear(model).in_features
        return (torch.linspace(-1.0, 1.0, 4 * n).reshape(4, n),)


class Comparison(Numbers):
    """Several nets side by side (dropout, batch norm, the optimizer race): each net's y."""

    cannot_export = (
        "holds several nets side by side for comparison, not one model; train a single-net model to export"
    )


def _squeeze(value: Any) -> Any:
    """A one-element list as its number, so 1-D inputs and outputs read as plain numbers."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


class Points(Numbers):
    """Each INPUT is one point, ``x,y``; the answer is its class and every class's probability."""

    inputs = "points as x,y pairs, one per argument (e.g. 2,1.5 -1,-2)"
    what = "x,y"

    def show(
        self, args: Sequence[str], batch: tuple[torch.Tensor, ...], outputs: Any, options: PredictOptions
    ) -> list[dict[str, Any]]:
        probs = outputs.softmax(-1)
        return [
            {"x": point, "class": int(p.argmax()), "probabilities": [round(float(v), 6) for v in p]}
            for point, p in zip(batch[0].tolist(), probs, strict=True)
        ]

    def text(self, records: list[dict[str, Any]]) -> str:
        n = len(records[0]["probabilities"])
        rows = [
            [",".join(f"{v:g}" for v in r["x"]), r["class"], *(f"{p:.4f}" for p in r["probabilities"])]
            for r in records
        ]
        return table(rows, ["POINT", "CLASS", *(f"P({c})" for c in range(n))])
