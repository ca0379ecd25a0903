"""The 401 CNN: convolution, activation and 2x2 max-pooling, twice, then one linear layer."""

from __future__ import annotations

import torch
from torch import nn

from zoo_core import ZooError
from zoo_core import activation as make_activation

# Activations that never decrease: for them max-pooling first gives exactly the same numbers
# (max(f(a), f(b)) = f(max(a, b))) on a quarter of the values, so the stage runs faster.
MONOTONIC = {
    "relu",
    "sigmoid",
    "tanh",
    "softplus",
    "leaky_relu",
    "elu",
    "selu",
    "hardtanh",
    "softsign",
    "identity",
}


class CNN(nn.Module):
    """(N, 1, 28, 28) images -> (N, n_classes) scores; each stage halves the image side."""

    def __init__(
        self,
        channels: list[int] | tuple[int, ...] = (16, 32),
        kernel_size: int = 5,
        activation: str = "relu",
        n_classes: int = 10,
        image_size: int = 28,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        channels = [int(c) for c in channels]
        if not channels or min(channels) <= 0:
            raise ZooError(f"channels must be positive numbers, got {channels}")
        if kernel_size % 2 == 0:
            raise ZooError(f"kernel_size must be odd (so 'same' padding keeps the size), got {kernel_size}")
        side = image_size
        stages: list[nn.Module] = []
        previous = in_channels
        for width in channels:
            if side < 2:
                raise ZooError(f"{len(channels)} pooling stages shrink a {image_size}px image to nothing")
            conv = nn.Conv2d(previous, width, kernel_size, stride=1, padding=kernel_size // 2)
            act, pool = make_activation(activation), nn.MaxPool2d(2)
            stages.append(
                nn.Sequential(conv, pool, act) if activation in MONOTONIC else nn.Sequential(conv, act, pool)
            )
            previous, side = width, side // 2
        self.convs = nn.Sequential(*stages)
        self.out = nn.Linear(previous * side * side, n_classes)  # 32 * 7 * 7 = 1568 by default

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The flattened output of the last convolution stage (what the read-out layer sees).

        Images go channels-last (NHWC) in memory: the CPU's and GPU's convolution kernels are
        faster on that layout; the numbers are the same function of the same weights.
        """
        # ``to`` restrides even a 1-channel batch (``contiguous`` would see nothing to do there)
        return self.convs(x.to(memory_format=torch.channels_last)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))
