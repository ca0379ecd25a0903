"""Small nets that more than one lesson trains (lesson 301 writes this one; lesson 302 reuses it)."""

from __future__ import annotations

import torch
from torch import nn

from zoo_core import activation as make_activation


class Net(nn.Module):
    """Input -> hidden layer -> activation -> output, written as a class (the lesson's way).

    Its weights are named ``hidden.*`` and ``predict.*``; lesson 303 builds the same function with
    ``nn.Sequential``, whose weights are named ``0.*`` and ``2.*``.
    """

    def __init__(self, n_feature: int = 1, n_hidden: int = 10, n_output: int = 1, activation: str = "relu"):
        super().__init__()
        self.hidden = nn.Linear(n_feature, n_hidden)
        self.act = make_activation(activation)
        self.predict = nn.Linear(n_hidden, n_output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.predict(self.act(self.hidden(x)))
