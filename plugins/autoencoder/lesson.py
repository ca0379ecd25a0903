"""The 404 autoencoder, its reconstruction trainer and its two figures."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from zoo_core import Trainer, ZooError, pyplot, save_figure
from zoo_core import activation as make_activation


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """Linear layers through ``sizes`` with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        if i:
            layers.append(make_activation(activation))
        layers.append(nn.Linear(a, b))
    return nn.Sequential(*layers)


class AutoEncoder(nn.Module):
    """``forward(x)`` -> ``(code, reconstruction)``, the reconstruction flat: (N, n_inputs) in [0, 1]."""

    def __init__(
        self,
        hidden: list[int] | tuple[int, ...] = (128, 64, 12),
        code_size: int = 3,
        activation: str = "tanh",
        n_inputs: int = 784,
    ) -> None:
        super().__init__()
        sizes = [int(n_inputs), *(int(h) for h in hidden), int(code_size)]
        if min(sizes) <= 0:
            raise ZooError(f"layer sizes must be positive, got {sizes}")
        self.n_inputs = n_inputs
        self.encoder = _mlp(sizes, activation)
        self.decoder = nn.Sequential(*_mlp(sizes[::-1], activation), nn.Sigmoid())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.reshape(x.shape[0], self.n_inputs))

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encode(x)
        return code, self.decode(code)


class AutoEncoderTrainer(Trainer):
    """One reconstruction step: the batch's images are both input and target (labels unused)."""

    capturable = True

    def __init__(self, eval_batch_size: int = 1000, n_show: int = 10, n_codes: int = 1000) -> None:
        self.eval_batch_size = eval_batch_size
        self.n_show = n_show
        self.n_codes = n_codes
        self.criterion = nn.MSELoss()

    def loss(self, model, batch):
        x = batch[0]
        _, decoded = model(x)
        return {"loss": self.criterion(decoded, x.reshape(decoded.shape))}

    @torch.no_grad()
    def encode_split(self, model, data, device, limit: int | None = None):
        """Images, labels, codes and reconstructions (on the CPU) of a split's first ``limit`` samples."""
        model.eval()
        n = len(data) if limit is None else min(limit, len(data))
        tensors = getattr(data, "tensors", None)
        out: dict[str, list[torch.Tensor]] = {"x": [], "y": [], "code": [], "decoded": []}
        for start in range(0, n, self.eval_batch_size):
            stop = min(n, start + self.eval_batch_size)
            if tensors is not None:
                x, y = tensors[0][start:stop], tensors[1][start:stop]
            else:
                samples = [data[i] for i in range(start, stop)]
                x = torch.stack([torch.as_tensor(s[0]) for s in samples])
                y = torch.as_tensor([int(s[1]) for s in samples])
            code, decoded = model(x.to(device))
            out["x"].append(x.cpu())
            out["y"].append(y.cpu())
            out["code"].append(code.cpu())
            out["decoded"].append(decoded.cpu())
        model.train()
        return {k: torch.cat(v) for k, v in out.items()}

    def evaluate(self, model, data, device):
        got = self.encode_split(model, data.evaluation, device)
        mse = self.criterion(got["decoded"], got["x"].reshape(got["decoded"].shape))
        return {"eval_loss": float(mse)}

    def figures(self, model, data, device, history, run_dir):
        run_dir = Path(run_dir)
        got = self.encode_split(model, data.evaluation, device, limit=max(self.n_show, self.n_codes))
        paths = []
        if self.n_show > 0:
            paths.append(
                reconstructions(
                    got["x"][: self.n_show], got["decoded"][: self.n_show], run_dir / "reconstructions.png"
                )
            )
        if self.n_codes > 0:
            paths.append(codes(got["code"][: self.n_codes], got["y"][: self.n_codes], run_dir / "codes.png"))
        return paths


def reconstructions(images: torch.Tensor, decoded: torch.Tensor, path: Path) -> Path:
    """Test digits (top row) above the autoencoder's reconstructions of them (bottom row)."""
    plt = pyplot()
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.2 * n, 2.9), squeeze=False)
    for i in range(n):
        for row, picture in enumerate((images[i], decoded[i])):
            ax = axes[row][i]
            ax.imshow(picture.reshape(28, 28).numpy(), cmap="gray_r", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0][0].set_ylabel("original")
    axes[1][0].set_ylabel("rebuilt")
    mse = float(((decoded - images.reshape(decoded.shape)) ** 2).mean())
    fig.suptitle(f"test digits and their reconstructions (MSE {mse:.4f})")
    return save_figure(fig, path)


def codes(code: torch.Tensor, labels: torch.Tensor, path: Path) -> Path:
    """The codes coloured by digit: a 3-D scatter (first three dimensions), or 2-D / 1-D if smaller."""
    plt = pyplot()
    dims = code.shape[1]
    cmap = plt.get_cmap("tab10")
    fig = plt.figure(figsize=(7, 6))
    if dims >= 3:
        ax = fig.add_subplot(projection="3d")
    else:
        ax = fig.add_subplot()
    for digit in range(10):
        points = code[labels == digit].numpy()
        if len(points) == 0:
            continue
        coords = [points[:, d] for d in range(min(dims, 3))]
        if dims == 1:
            coords.append(torch.full((len(points),), float(digit)).numpy())
        ax.scatter(*coords, s=8, color=cmap(digit), label=str(digit), alpha=0.8)
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2" if dims >= 2 else "digit")
    if dims >= 3:
        ax.set_zlabel("code 3")
    extra = f" (first 3 of {dims})" if dims > 3 else ""
    ax.set_title(f"{len(code)} test digits' codes{extra}, coloured by digit")
    ax.legend(title="digit", loc="upper left", bbox_to_anchor=(1.05, 1.0), fontsize=8, markerscale=2)
    return save_figure(fig, path)
