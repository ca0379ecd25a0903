"""What ``zoo predict`` does with the classification lesson: x,y points in, class and probabilities out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from zoo_core.predict import PredictOptions
from zoo_core.text import table
from zoo_plugins.regression.predict import Numbers


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
