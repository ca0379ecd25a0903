"""``python -m benchmarks.cnn_cpu``: what makes the CNN lesson's CPU epoch faster, measured.

Each variant trains the lesson's CNN for one epoch over preloaded tensors (the shared loop's batch
order, same seed), side by side with the tutorial's loop (torchvision ``ToTensor`` DataLoader), and
reports its epoch time, its speed-up over the tutorial and its test accuracy. The variants are the
candidate changes to the ``cnn`` plugin; none changes the weights' names or shapes:

- ``zoo-now``: the lesson as it is (conv, ReLU, 2x2 max-pool, twice; NCHW);
- ``channels-last``: ``forward`` hands the images to the first convolution as channels-last
  (``x.to(memory_format=torch.channels_last)``); every later tensor follows, and max-pooling has a
  vectorised channels-last kernel on the CPU;
- ``pool-first``: max-pool before the ReLU (``relu(maxpool(x)) == maxpool(relu(x))`` exactly, since
  ReLU is monotonic), so the ReLU and its backward touch a quarter of the values;
- ``both`` and ``both+foreach``: the two together, with Adam's ``foreach`` implementation.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import torch
from torch import nn

from benchmarks import baselines
from benchmarks.common import Skip, median, mnist_root, pin_threads, quiet_gc


class Variant(nn.Module):
    """The lesson's CNN (same parameter names and creation order), with the candidate changes."""

    def __init__(self, channels_last: bool = False, pool_first: bool = False) -> None:
        super().__init__()
        self.channels_last = channels_last
        stages = []
        previous = 1
        for width in (16, 32):
            conv = nn.Conv2d(previous, width, 5, stride=1, padding=2)
            layers = [conv, nn.MaxPool2d(2), nn.ReLU()] if pool_first else [conv, nn.ReLU(), nn.MaxPool2d(2)]
            stages.append(nn.Sequential(*layers))
            previous = width
        self.convs = nn.Sequential(*stages)
        self.out = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.to(memory_format=torch.channels_last)
        return self.out(self.convs(x).flatten(1))


VARIANTS: dict[str, dict[str, Any]] = {
    "zoo-now": {},
    "channels-last": {"channels_last": True},
    "pool-first": {"pool_first": True},
    "both": {"channels_last": True, "pool_first": True},
    "both+foreach": {"channels_last": True, "pool_first": True, "foreach": True},
}


def epoch(
    images: torch.Tensor,
    labels: torch.Tensor,
    test: tuple[torch.Tensor, torch.Tensor],
    seed: int,
    channels_last: bool = False,
    pool_first: bool = False,
    foreach: bool | None = None,
) -> dict[str, Any]:
    """One epoch of batches of 50 in the shared loop's order; time and test accuracy."""
    from zoo_core.plugin.data import batch_indices

    torch.manual_seed(seed)
    model = Variant(channels_last, pool_first)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=foreach)
    loss_func = nn.CrossEntropyLoss()
    order = batch_indices(len(images), 50, seed=seed, epoch=0, shuffle=True, drop_last=False)
    start = time.perf_counter()
    for idx in order:
        loss = loss_func(model(images[idx]), labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        model.eval()
        right = (model(test[0]).argmax(1) == test[1]).float().mean()
    return {"value": elapsed, "accuracy": float(right)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cnn_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads for every variant (0: default) [1]"
    )
    args = parser.parse_args(argv)
    threads = pin_threads(args.threads)
    try:
        root = mnist_root(args.mnist)
    except Skip as skip:
        print(f"SKIP: {skip}")
        return 0
    images, labels = baselines.mnist_tensors(root, train=True)
    test = baselines.mnist_tensors(root, train=False, limit=2000)
    times: dict[str, list[float]] = {name: [] for name in ["tutorial", *VARIANTS]}
    accuracy: dict[str, list[float]] = {name: [] for name in times}
    for seed in range(args.repeat):
        for name in times:  # one round: every variant once, same seed
            if name == "tutorial":
                out = quiet_gc(lambda seed=seed: baselines.cnn_tutorial_epoch(root, seed=seed))
            else:
                out = quiet_gc(
                    lambda seed=seed, name=name: epoch(images, labels, test, seed, **VARIANTS[name])
                )
            times[name].append(out["value"])
            accuracy[name].append(out["accuracy"])
        print(
            f"round {seed + 1}/{args.repeat}: " + "  ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()),
            flush=True,
        )
    base = times["tutorial"]
    print(
        f"\none epoch of {len(images)} images, batch 50, {threads} thread(s); median of {args.repeat} rounds"
    )
    print(f"{'VARIANT':<15} {'EPOCH s':>8} {'VS TUTORIAL':>12} {'ACCURACY':>9}")
    for name, values in times.items():
        speedup = median([b / v for b, v in zip(base, values, strict=True)])
        acc = sum(accuracy[name]) / len(accuracy[name])
        print(f"{name:<15} {median(values):>8.3f} {speedup:>11.2f}x {acc:>9.2%}")
    return 0 if all(math.isfinite(median(v)) for v in times.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
