"""What ``zoo predict`` and ``zoo export`` do with the GANs: sampling is ``zoo sample``; the generator exports."""

from __future__ import annotations

import torch
from torch import nn

from zoo_core import Predictor


class Generator(Predictor):
    """A GAN turns noise into curves: nothing to predict from inputs; its generator is what exports."""

    cannot_predict = "a GAN draws curves from noise, not from inputs: use 'zoo sample {name} RUN'"
    exports = "its generator: noise (conditional: and the label) in, curve points out"

    def example(self, model: nn.Module) -> tuple[torch.Tensor, ...]:
        first = model.generator[0]
        return (torch.randn(4, first.in_features, generator=torch.Generator().manual_seed(0)),)

    def export_module(self, model: nn.Module) -> nn.Module:
        return model.generator
