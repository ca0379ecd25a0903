"""The 402 RNN classifier: an LSTM over image rows, a linear layer on the last time step."""

from __future__ import annotations

import torch
from torch import nn


class RNNClassifier(nn.Module):
    """(N, 1, 28, 28) or (N, 28, 28) images -> (N, n_classes) scores, one row per time step."""

    def __init__(self, input_size: int = 28, hidden_size: int = 64, num_layers: int = 1, n_classes: int = 10):
        super().__init__()
        self.input_size = input_size
        self.rnn = nn.LSTM(
            input_size=input_size, hidden_size=hidden_size, num_layers=num_layers, batch_first=True
        )
        self.out = nn.Linear(hidden_size, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(x.shape[0], -1, self.input_size)  # (batch, time steps, input size)
        outputs, _ = self.rnn(rows)  # no initial state: zeros
        return self.out(outputs[:, -1, :])
