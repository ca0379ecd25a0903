"""What ``zoo predict`` does with the RNN regressor: a sequence of sin(t) values in, cos(t) estimates out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from zoo_core import PredictOptions, Predictor, ZooError, parse_numbers, table


class OneSequence(Predictor):
    """The INPUTs are one sequence, one value per time step, read from a zero hidden state."""

    inputs = "one sequence of numbers, one per time step (e.g. 0 0.31 0.59 0.81)"
    cannot_export = (
        "carries its hidden state from one window to the next (model(x, h) -> (y, h)), so it is not "
        "one input-to-output program; use zoo predict, or the safetensors weights with the plugin"
    )

    def read(self, model: nn.Module, args: list[str]) -> tuple[torch.Tensor, ...]:
        if not args:
            raise ZooError(f"give a sequence: {self.inputs}")
        values = [parse_numbers(a, 1, "one value per time step")[0] for a in args]
        return (torch.tensor(values).reshape(1, -1, 1),)

    def run(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> Any:
        return super().run(model, batch)[0]  # the outputs, not the last hidden state

    def show(
        self, args: Sequence[str], batch: tuple[torch.Tensor, ...], outputs: Any, options: PredictOptions
    ) -> list[dict[str, Any]]:
        xs, ys = batch[0][0, :, 0].tolist(), outputs[0, :, 0].tolist()
        return [{"step": i, "x": x, "y": round(y, 6)} for i, (x, y) in enumerate(zip(xs, ys, strict=True))]

    def text(self, records: list[dict[str, Any]]) -> str:
        return table([[r["step"], f"{r['x']:.6g}", f"{r['y']:.6g}"] for r in records], ["STEP", "X", "Y"])
