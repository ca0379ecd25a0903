"""What ``zoo predict`` does with an image classifier: image files in, the top-k class names out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo_core import Option, PredictOptions, Predictor, ZooError
from zoo_plugins.mnist.predict import ranked, ranked_table


def class_names(model: nn.Module) -> list[str]:
    """The folder names the model was trained on, torchvision's categories for its weights, or numbers."""
    if getattr(model, "classes", None):
        return list(model.classes)
    row = getattr(model, "row", {})
    if row.get("weights") and model.n_classes == row.get("categories"):
        from torchvision import models

        return list(models.get_model_weights(model.arch).DEFAULT.meta["categories"])
    return [str(i) for i in range(model.n_classes)]


class Images(Predictor):
    """Each INPUT is an image file, resized and cropped to the model's input; the answer is its classes."""

    inputs = "image files (JPEG, PNG or any format Pillow reads)"
    options = {"top_k": Option(5, "How many classes to show per image.", min=1, max=1000)}

    def read(self, model: nn.Module, args: list[str]) -> tuple[torch.Tensor, ...]:
        from torchvision.transforms import v2

        from zoo_plugins.vision.data import load_image

        if not args:
            raise ZooError(f"give one or more inputs: {self.inputs}")
        side = int(model.image_size)
        shape = v2.Compose([v2.Resize(side, antialias=True), v2.CenterCrop(side)])
        mode = "L" if model.in_channels == 1 else "RGB"
        images = []
        for arg in args:
            if not Path(arg).is_file():
                raise ZooError(f"{arg}: no such file")
            images.append(shape(load_image(Path(arg), mode)))
        self.names = list(args)
        return (torch.stack(images),)

    def show(
        self, args: Sequence[str], batch: tuple[torch.Tensor, ...], outputs: Any, options: PredictOptions
    ) -> list[dict[str, Any]]:
        names = class_names(self.model)
        top_k = int(self.settings.values.get("top_k", options.top_k))
        return ranked(self.names, outputs, top_k, names.__getitem__)

    def text(self, records: list[dict[str, Any]]) -> str:
        return ranked_table(records, "CLASS")

    def example(self, model: nn.Module) -> tuple[torch.Tensor, ...]:
        side = int(model.image_size)
        return (
            torch.rand(2, int(model.in_channels), side, side, generator=torch.Generator().manual_seed(0)),
        )
