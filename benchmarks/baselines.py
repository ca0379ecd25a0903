"""The baselines: plain hand-written PyTorch loops, the way the tutorials write them.

Each one trains the same model on the same data, from the same seed, for the same number of steps
as the zoo side of its row, and reports its time and its results. Nothing here imports zoo except
``batch_indices`` (so the hand loop visits the batches in the shared loop's order) and nothing is
tuned: these are the loops a reader of the tutorials would write.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn


# -- 301 regression: 1-10-1 net, 100 points, full batch, SGD 0.2 -----------------------------------
class Net(nn.Module):
    def __init__(self, n_feature: int = 1, n_hidden: int = 10, n_output: int = 1) -> None:
        super().__init__()
        self.hidden = nn.Linear(n_feature, n_hidden)
        self.predict = nn.Linear(n_hidden, n_output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.predict(torch.relu(self.hidden(x)))


def regression(steps: int = 200, seed: int = 0, lr: float = 0.2, model: Any = None) -> dict[str, Any]:
    """The lesson's loop; the noise is drawn from ``seed`` (as zoo's dataset does).

    ``model`` builds the network (default: the tutorial's class): with the lesson's own network
    only the loop differs.
    """
    torch.manual_seed(seed)
    net = (model or Net)()
    gen = torch.Generator().manual_seed(seed)
    x = torch.unsqueeze(torch.linspace(-1, 1, 100), dim=1)
    y = x.pow(2) + 0.2 * torch.rand(x.size(), generator=gen)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss_func = nn.MSELoss()
    losses = []
    start = time.perf_counter()
    for _ in range(steps):
        prediction = net(x)
        loss = loss_func(prediction, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    elapsed = time.perf_counter() - start
    return {"value": elapsed / steps * 1e6, "seconds": elapsed, "losses": losses}


# -- 401 CNN ---------------------------------------------------------------------------------------
class CNN(nn.Module):
    """The tutorial's CNN: (conv 5x5, ReLU, 2x2 max-pool) x 2, then a linear read-out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(1, 16, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2))
        self.conv2 = nn.Sequential(nn.Conv2d(16, 32, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2))
        self.out = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv2(self.conv1(x))
        x = x.view(x.size(0), -1)
        return self.out(x), x


def mnist_tensors(
    root: Path, train: bool = True, limit: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as float (N, 1, 28, 28) in [0, 1] and labels, read once with torchvision."""
    import torchvision

    data = torchvision.datasets.MNIST(str(root), train=train, download=False)
    images, labels = data.data, data.targets
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images.unsqueeze(1).float() / 255.0, labels.long()


@torch.no_grad()
def accuracy(cnn: nn.Module, root: Path, device: Any, limit: int = 2000) -> float:
    """Share right on the first ``limit`` test images, as the tutorial's ``test_x`` measures it."""
    test_x, test_y = mnist_tensors(root, train=False, limit=limit)
    cnn.eval()
    scores = torch.cat([cnn(chunk.to(device))[0] for chunk in test_x.split(1000)])
    cnn.train()
    return float((scores.argmax(1).cpu() == test_y).float().mean())


def loop_order(n: int, batch_size: int, steps: int, seed: int) -> Iterator[torch.Tensor]:
    """The index batches of ``steps`` steps, epoch after epoch, in the shared loop's order."""
    from zoo_core.plugin.data import batch_indices

    per_epoch, step = math.ceil(n / batch_size), 0
    while step < steps:
        order = batch_indices(
            n, batch_size, seed=seed, epoch=step // per_epoch, shuffle=True, drop_last=False
        )
        yield from order[: steps - step]
        step += min(len(order), steps - step)


def cnn_on_batches(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int,
    seed: int = 0,
    batch_size: int = 50,
    model: Any = None,
) -> dict[str, Any]:
    """A hand loop over in-memory tensors, in the shared loop's batch order (``batch_indices``).

    ``model`` builds the network (default: the tutorial's class). To measure the shared loop's
    overhead alone, pass the lesson's own network and optimizer settings: then only the loop differs.
    """
    torch.manual_seed(seed)
    cnn = (model or CNN)()
    optimizer = torch.optim.Adam(cnn.parameters(), lr=1e-3)
    loss_func = nn.CrossEntropyLoss()
    losses = []
    start = time.perf_counter()
    for idx in loop_order(len(images), batch_size, steps, seed):
        output = cnn(images[idx])
        output = output[0] if isinstance(output, tuple) else output
        loss = loss_func(output, labels[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    elapsed = time.perf_counter() - start
    return {"value": elapsed / steps * 1e3, "seconds": elapsed, "losses": losses}


def cnn_tutorial_epoch(
    root: Path, *, seed: int = 0, device: Any = "cpu", steps: int | None = None, batch_size: int = 50
) -> dict[str, Any]:
    """The tutorial's epoch: torchvision MNIST with ToTensor, a shuffling DataLoader, Adam 1e-3.

    The tutorial also scores the test images every 50 steps; that is left out (zoo evaluates once
    at the end), so the baseline is only the training loop. ``steps`` cuts the epoch short.
    """
    import torchvision
    from torch.utils.data import DataLoader

    device = torch.device(device)
    torch.manual_seed(seed)
    cnn = CNN().to(device)
    optimizer = torch.optim.Adam(cnn.parameters(), lr=1e-3)
    loss_func = nn.CrossEntropyLoss()
    train_data = torchvision.datasets.MNIST(
        str(root), train=True, transform=torchvision.transforms.ToTensor(), download=False
    )
    loader = DataLoader(dataset=train_data, batch_size=batch_size, shuffle=True)
    done = 0
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for b_x, b_y in loader:
        b_x, b_y = b_x.to(device), b_y.to(device)
        output = cnn(b_x)[0]
        loss = loss_func(output, b_y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        done += 1
        if steps is not None and done >= steps:
            break
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    return {"value": elapsed, "seconds": elapsed, "steps": done, "accuracy": accuracy(cnn, root, device)}


# -- 406 GAN: G 5-128-15, D 15-128-1, Adam 1e-4, batches of 64 ---------------------------------------
EPS = 1e-12


def _log_d(p: torch.Tensor) -> torch.Tensor:
    return torch.log(p.clamp_min(EPS))


def _log_1m_d(p: torch.Tensor) -> torch.Tensor:
    return torch.log1p(-p.clamp_max(1 - 1e-7))


def artist_works(n: int, gen: torch.Generator, points: torch.Tensor) -> torch.Tensor:
    """``n`` real paintings ``a*x^2 + (a-1)``, ``a ~ U(1, 2)``."""
    a = 1.0 + torch.rand(n, 1, generator=gen)
    return a * points.pow(2) + (a - 1)


def gan(
    steps: int = 10_000, *, seed: int = 0, device: Any = "cpu", batch_size: int = 64, lr: float = 1e-4
) -> dict[str, Any]:
    """The lesson's loop, eagerly: G steps, then D on the detached fakes; real curves pre-drawn.

    The real curves are drawn from ``seed`` up front (1,000 held out, then 640,000 for training:
    the lesson's data) and kept on the device, sliced in order; the loss is read every 50 steps, as
    the tutorial plots it.
    """
    device = torch.device(device)
    torch.manual_seed(seed)
    n_ideas, components = 5, 15
    G = nn.Sequential(nn.Linear(n_ideas, 128), nn.ReLU(), nn.Linear(128, components)).to(device)
    D = nn.Sequential(nn.Linear(components, 128), nn.ReLU(), nn.Linear(128, 1), nn.Sigmoid()).to(device)
    opt_G = torch.optim.Adam(G.parameters(), lr=lr)
    opt_D = torch.optim.Adam(D.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    points = torch.linspace(-1, 1, components)
    held_out = artist_works(1000, gen, points).to(device)  # the lesson draws the held-out ones first
    real_all = artist_works(max(640_000, steps * batch_size), gen, points).to(device)
    per_epoch = len(real_all) // batch_size
    d_losses = []
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for step in range(steps):
        i = step % per_epoch
        artist_paintings = real_all[i * batch_size : (i + 1) * batch_size]
        G_ideas = torch.randn(batch_size, n_ideas, device=device)
        G_paintings = G(G_ideas)
        G_loss = _log_1m_d(D(G_paintings)).mean()
        opt_G.zero_grad()
        G_loss.backward()
        opt_G.step()

        prob_artist0 = D(artist_paintings)
        prob_artist1 = D(G_paintings.detach())
        D_loss = -(_log_d(prob_artist0) + _log_1m_d(prob_artist1)).mean()
        opt_D.zero_grad()
        D_loss.backward()
        opt_D.step()
        if step % 50 == 0:
            d_losses.append(D_loss.item())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    # the lesson's evaluation: 1000 held-out real curves against 1000 fakes from seeded noise
    with torch.no_grad():
        z = torch.randn(1000, n_ideas, generator=torch.Generator().manual_seed(1234)).to(device)
        fake = G(z)
        p_real, p_fake = D(held_out), D(fake)
        x = points.to(device)
        inside = ((fake >= x.pow(2)) & (fake <= 2 * x.pow(2) + 1)).float().mean()
        metrics = {
            "d_real": float(p_real.mean()),
            "d_fake": float(p_fake.mean()),
            "d_score": float((_log_d(p_real) + _log_1m_d(p_fake)).mean()),
            "in_bounds": float(inside),
        }
    return {"value": steps / elapsed, "seconds": elapsed, "metrics": metrics, "d_losses": d_losses}


# -- 601 attention: char-gpt, nanoGPT's CPU recipe --------------------------------------------------
def char_gpt(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    model: Any,
    seed: int = 0,
    batch_size: int = 12,
    lr: float,
    min_lr: float,
    warmup: int = 100,
) -> dict[str, Any]:
    """The plain loop a reader of nanoGPT writes: AdamW (decay on matrices only), a warm-up then a
    cosine decay of the learning rate set by hand each step, gradients clipped at 1.0; the windows
    ``x``/``y`` visited in the shared loop's batch order (``batch_indices``)."""
    torch.manual_seed(seed)
    gpt = model()
    params = [p for p in gpt.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))
    clipped = [p for group in optimizer.param_groups for p in group["params"]]

    def rate(s: int) -> float:
        if s < warmup:
            return lr * (s + 1) / warmup
        progress = min(1.0, (s - warmup) / max(1, steps - warmup))
        return lr * (min_lr / lr + (1 - min_lr / lr) * 0.5 * (1 + math.cos(math.pi * progress)))

    losses = []
    start = time.perf_counter()
    for step, idx in enumerate(loop_order(len(x), batch_size, steps, seed)):
        for group in optimizer.param_groups:
            group["lr"] = rate(step)
        logits = gpt(x[idx])
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[idx].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(clipped, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    elapsed = time.perf_counter() - start
    return {"value": elapsed / steps * 1e3, "seconds": elapsed, "losses": losses}
