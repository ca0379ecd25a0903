"""Lesson 403: an RNN reads sin(t) one window at a time and predicts cos(t) at every step.

Windows are consecutive stretches of the t axis, 10 points per pi; the hidden state is carried
from one window to the next (detached, so backpropagation stops at the window's start), which
lets the net know where on the wave it is. Lesson 501's variant draws every window's length
from 1-3 pi units instead (``dynamic=True``).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from zoo_core import Splits, Trainer


# -- data ----------------------------------------------------------------------------------------
class Windows(Dataset):
    """Windows of different lengths (the dynamic variant): item ``i`` is ``(x, y)``, each (L_i, 1)."""

    def __init__(self, xs: list[torch.Tensor], ys: list[torch.Tensor]) -> None:
        self.xs, self.ys = xs, ys

    def __len__(self) -> int:
        return len(self.xs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.xs[i], self.ys[i]


def sine_windows(
    n: int = 100,
    points_per_pi: int = 10,
    dynamic: bool = False,
    min_pi: int = 1,
    max_pi: int = 3,
    seed: int = 0,
) -> Splits:
    """``n`` consecutive windows of ``x = sin(t)``, ``y = cos(t)``, ``points_per_pi`` points per pi of t.

    Fixed windows span one pi each (``np.linspace(k*pi, (k+1)*pi, 10, endpoint=False)`` in the
    tutorial). With ``dynamic`` every window spans ``min_pi..max_pi`` pi units drawn from ``seed``,
    at ``points_per_pi`` points per unit, continuing where the previous one ended.
    """
    if dynamic:
        gen = torch.Generator().manual_seed(seed)
        units = torch.randint(min_pi, max_pi + 1, (n,), generator=gen).tolist()
    else:
        units = [1] * n
    total = sum(units) * points_per_pi
    t = torch.arange(total, dtype=torch.float64) * (math.pi / points_per_pi)
    x, y = torch.sin(t).float().unsqueeze(-1), torch.cos(t).float().unsqueeze(-1)
    lengths = [u * points_per_pi for u in units]
    info = {"points_per_pi": points_per_pi, "dynamic": dynamic, "lengths": lengths}
    if not dynamic:
        return Splits(
            train=TensorDataset(x.view(n, points_per_pi, 1), y.view(n, points_per_pi, 1)), info=info
        )
    return Splits(train=Windows(list(x.split(lengths)), list(y.split(lengths))), info=info)


def windows_of(dataset) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every ``(x, y)`` window of a split, in order, each shaped (L, 1)."""
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None:
        return list(zip(tensors[0], tensors[1], strict=True))
    return [dataset[i] for i in range(len(dataset))]


# -- model ---------------------------------------------------------------------------------------
class RNNRegressor(nn.Module):
    """``nn.RNN(input_size -> hidden_size, batch_first)`` with ``Linear(hidden_size, 1)`` at every step.

    ``model(x, h)`` returns ``(y, h)``: predictions for every step of ``x`` (batch, time, 1) and the
    last hidden state, to hand to the next window.
    """

    def __init__(
        self, input_size: int = 1, hidden_size: int = 32, num_layers: int = 1, nonlinearity: str = "tanh"
    ) -> None:
        super().__init__()
        self.rnn = nn.RNN(
            input_size, hidden_size, num_layers=num_layers, nonlinearity=nonlinearity, batch_first=True
        )
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        r_out, h = self.rnn(x, h)
        return self.out(r_out), h  # Linear acts on the last dim: the same layer at every time step

    @torch.no_grad()
    def run(self, windows, h: torch.Tensor | None = None) -> torch.Tensor:
        """Predictions along consecutive windows with the hidden state carried; one (total, 1) tensor."""
        device = next(self.parameters()).device
        outs = []
        for x, _ in windows:
            y, h = self(x.unsqueeze(0).to(device), h)
            outs.append(y[0].cpu())
        return torch.cat(outs) if outs else torch.zeros(0, 1)


# -- training ------------------------------------------------------------------------------------
class RNNRegressorTrainer(Trainer):
    """MSE on one window per step, the hidden state carried to the next window and detached.

    The carried state makes the run sequential: one stream of windows, in order (``shuffle``
    off, batch size 1), which cannot be split between data-parallel workers. The predictions
    made while training are kept for the figure (on the device, read only when drawing).
    """

    data_parallel = False
    capturable = False  # the hidden state is rebound every step, and dynamic windows change shape

    def __init__(self, keep_windows: int = 1000, zoom_pi: int = 15) -> None:
        self.keep_windows = keep_windows
        self.zoom_pi = zoom_pi
        self.h: torch.Tensor | None = None
        self.seen = 0  # windows trained on so far (the stream position, saved for resume)
        self.online: dict[int, torch.Tensor] = {}  # window number -> the prediction made in its step

    def loss(self, model, batch):
        x, y = batch
        h = self.h
        if h is not None and h.shape[1] != x.shape[0]:  # a batch of another size: start afresh
            h = None
        prediction, h = model(x, h)
        self.h = h.detach()  # carry the state, but cut the graph at the window's start
        if self.seen < self.keep_windows:
            self.online[self.seen] = prediction.detach()[0]
        self.seen += 1
        return {"loss": nn.functional.mse_loss(prediction, y)}

    def state_dict(self):
        state = {"seen": self.seen}
        if self.h is not None:
            state["h"] = self.h
        return state

    def load_state_dict(self, state):
        self.h = state.get("h")
        self.seen = int(state.get("seen", 0))
        self.online = {}  # predictions made before a resume are not kept

    @torch.no_grad()
    def evaluate(self, model, data, device):
        windows = windows_of(data.evaluation)
        was_training = model.training
        model.eval()
        pred = model.run(windows)
        model.train(was_training)
        target = torch.cat([y for _, y in windows])
        first = windows[0][1].shape[0]
        return {
            "mse": float(nn.functional.mse_loss(pred, target)),
            "mse_after_first_window": float(nn.functional.mse_loss(pred[first:], target[first:])),
        }

    def figures(self, model, data, device, history, run_dir):
        from zoo_core import pyplot, save_figure

        windows = windows_of(data.evaluation)
        points_per_pi = data.info.get("points_per_pi", 10)
        was_training = model.training
        model.eval()
        trained = model.run(windows)[:, 0]
        model.train(was_training)
        target = torch.cat([y for _, y in windows])[:, 0]
        source = torch.cat([x for x, _ in windows])[:, 0]
        t = torch.arange(len(target)) * (math.pi / points_per_pi)
        online = None
        if any(i < len(windows) for i in self.online):  # the first pass; gaps (NaN) where none was kept
            online = torch.full_like(target, math.nan)
            starts = [0] + torch.tensor([y.shape[0] for _, y in windows]).cumsum(0).tolist()
            for i, pred in self.online.items():
                if i < len(windows):
                    online[starts[i] : starts[i + 1]] = pred.cpu()[:, 0]

        edges = torch.tensor([0] + [y.shape[0] for _, y in windows]).cumsum(0) * (math.pi / points_per_pi)
        span = min(len(t), self.zoom_pi * points_per_pi)  # points shown per panel
        parts = [("first", slice(0, span)), ("last", slice(len(t) - span, len(t)))]
        rows = [("while training (first pass)", online), ("after training (from a zero state)", trained)]
        rows = [r for r in rows if r[1] is not None]

        plt = pyplot()
        fig, axes = plt.subplots(len(rows), 2, figsize=(12, 3.2 * len(rows)), squeeze=False)
        for r, (what, pred) in enumerate(rows):
            for c, (where, cut) in enumerate(parts):
                ax = axes[r, c]
                tt = t[cut]
                ax.plot(tt, source[cut], c="0.75", lw=0.8, label="input sin(t)")
                ax.plot(tt, target[cut], "r-", lw=1.5, label="target cos(t)")
                p = pred[cut]
                ax.plot(tt, p, "b-", lw=1.2, label="prediction")
                mse = float(((p - target[cut]) ** 2).nanmean())
                shown = f"mse {mse:.4f}" if math.isfinite(mse) else "no predictions kept"
                ax.set_title(f"{what}, {where} {span // points_per_pi} pi: {shown}", fontsize=9)
                for e in edges[(edges >= tt[0]) & (edges <= tt[-1])]:
                    ax.axvline(float(e), c="0.9", lw=0.6, zorder=0)
                ax.set_ylim(-1.6, 1.6)
                ax.set_xlabel("t")
                if r == 0 and c == 0:
                    ax.legend(loc="lower left", fontsize=8, ncol=3)
        fig.tight_layout()
        return [save_figure(fig, Path(run_dir) / "prediction.png")]
