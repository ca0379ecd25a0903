"""What a dataset factory returns, and how the shared trainer cuts it into batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import attrs


@attrs.define
class Splits:
    """A dataset's training data and (optionally) the held-out data it is evaluated on."""

    train: Any
    eval: Any = None
    info: dict[str, Any] = attrs.field(factory=dict)  # e.g. class names, input shape
    #: model settings the data decide (``vocab_size``, ``n_classes``, ``in_channels``, a plugin's
    #: own): applied to a model that has such a setting, unless the user set it
    implies: dict[str, Any] = attrs.field(factory=dict)

    @property
    def evaluation(self) -> Any:
        """The evaluation data, or the training data when the lesson has none held out."""
        return self.train if self.eval is None else self.eval


def first_batch(dataset: Any, size: int) -> Any:
    """The first ``size`` samples of ``dataset`` as one batch, as the loop would make it."""
    tensors = tensors_of(dataset)
    if tensors is not None:
        return tuple(t[:size] for t in tensors)
    import torch

    batch = Batches(dataset).epoch([torch.arange(min(size, len(dataset)))])
    return next(iter(batch))


def tensors_of(dataset: Any) -> tuple[Any, ...] | None:
    """The in-memory tensors behind a dataset, when it is one (``TensorDataset`` and friends)."""
    tensors = getattr(dataset, "tensors", None)
    if isinstance(tensors, (tuple, list)) and tensors and all(hasattr(t, "shape") for t in tensors):
        return tuple(tensors)
    return None


def epoch_order(n: int, *, seed: int, epoch: int, shuffle: bool) -> Any:
    """Sample order for one epoch: a permutation drawn from (seed, epoch), so resume replays it."""
    import torch

    if not shuffle:
        return torch.arange(n)
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen)


def batch_indices(
    n: int,
    batch_size: int | None,
    *,
    seed: int,
    epoch: int,
    shuffle: bool,
    drop_last: bool,
    rank: int = 0,
    world: int = 1,
    device: Any = None,
) -> list[Any]:
    """Index batches for one epoch (``batch_size`` None = full batch), sharded across ``world``.

    With ``device``, the indices are moved there once per epoch, so slicing data that lives on a
    GPU never waits for a host-to-device copy of the indices.
    """
    order = epoch_order(n, seed=seed, epoch=epoch, shuffle=shuffle)
    if device is not None and getattr(device, "type", device) != "cpu":
        order = order.to(device)
    if world > 1:  # every worker gets every world-th sample, padded to equal length
        per = -(-n // world)
        order = order.repeat(2)[: per * world] if per * world > n else order
        order = order[rank::world]
    size = len(order) if not batch_size else batch_size
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    if drop_last and batches and len(batches[-1]) < size:
        batches.pop()
    return batches


class Batches:
    """Yields one epoch's batches: slices of preloaded tensors, or a DataLoader over samples."""

    def __init__(self, dataset: Any, *, workers: int = 0, seed: int = 0) -> None:
        self.dataset = dataset
        self.tensors = tensors_of(dataset)
        self.workers = workers
        self.seed = seed

    def __len__(self) -> int:
        return len(self.tensors[0]) if self.tensors is not None else len(self.dataset)

    def epoch(self, indices: Sequence[Any], start: int = 0) -> Iterator[Any]:
        """Batches for ``indices``, beginning at batch number ``start`` (for resume)."""
        indices = list(indices)[start:]
        if self.tensors is not None:
            for idx in indices:
                yield tuple(t[idx] for t in self.tensors)
            return
        import torch
        from torch.utils.data import DataLoader

        loader = DataLoader(
            self.dataset,
            batch_sampler=[idx.tolist() for idx in indices],
            num_workers=self.workers,
            worker_init_fn=_seed_worker,
            generator=torch.Generator().manual_seed(self.seed),
            persistent_workers=False,
        )
        yield from loader


def _seed_worker(worker_id: int) -> None:
    """Give every loader worker numpy and ``random`` seeds derived from the run's torch seed."""
    import random

    import numpy as np
    import torch

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def to_device(batch: Any, device: Any, non_blocking: bool = False) -> Any:
    """Move a tensor, or a tuple/list/dict of them, to ``device``."""
    if hasattr(batch, "to"):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device, non_blocking) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device, non_blocking) for k, v in batch.items()}
    return batch
