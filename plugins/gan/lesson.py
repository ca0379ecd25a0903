"""Lesson 406: a generator learns to paint curves a*x^2 + (a-1) that a discriminator cannot tell apart.

The real "paintings" are parabolas ``a*x^2 + (a-1)`` with ``a ~ U(1, 2)`` sampled at points evenly
spread over [-1, 1]; every one of them lies between the bounds ``x^2`` (a = 1) and ``2*x^2 + 1``
(a = 2), which is what the lesson's figure draws and what ``in_bounds`` measures.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from zoo_core import Splits, Trainer
from zoo_core import activation as make_activation

EPS = 1e-12  # keeps log() finite if the discriminator ever saturates at exactly 0 or 1


# -- data ----------------------------------------------------------------------------------------
def paint_points(art_components: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The x positions every curve is sampled at: ``art_components`` points spread over [-1, 1]."""
    return torch.linspace(-1.0, 1.0, art_components, device=device)


def paint(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The artist's curves ``a*x^2 + (a-1)``: ``a`` is (n, 1), ``x`` the paint points; gives (n, points)."""
    return a * x.pow(2) + (a - 1)


def draw_a(n: int, generator: torch.Generator, low: float = 1.0, high: float = 2.0) -> torch.Tensor:
    """``n`` curve parameters ``a ~ U(low, high)`` as an (n, 1) column."""
    return low + (high - low) * torch.rand(n, 1, generator=generator)


def bounds(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The lower (a = 1) and upper (a = 2) curves every real painting lies between."""
    return x.pow(2), 2 * x.pow(2) + 1


def in_bounds(curves: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Share of the points of ``curves`` that lie between ``x^2`` and ``2*x^2 + 1`` (a 0-d tensor)."""
    low, high = bounds(x.to(curves.device))
    return ((curves >= low) & (curves <= high)).float().mean()


def estimate_a(curves: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Least-squares ``a`` of each curve under the model ``y = a*x^2 + (a-1)``, i.e. ``y+1 = a(x^2+1)``."""
    basis = x.to(curves.device).pow(2) + 1
    return ((curves + 1) * basis).sum(-1) / basis.pow(2).sum()


def artist_curves(n: int = 640_000, n_eval: int = 1000, art_components: int = 15, seed: int = 0) -> Splits:
    """``n`` pre-drawn real paintings for training (64 per step x 10,000 steps) and ``n_eval`` fresh ones.

    Drawing them up front (from the run's seed) keeps the training step free of host work.
    """
    gen = torch.Generator().manual_seed(seed)
    x = paint_points(art_components)
    held_out = paint(draw_a(n_eval, gen), x)  # drawn first: the same for every ``n``
    train = paint(draw_a(n, gen), x)
    return Splits(
        train=TensorDataset(train),
        eval=TensorDataset(held_out),
        info={"art_components": art_components, "x": [-1.0, 1.0], "a": [1.0, 2.0]},
    )


# -- model ---------------------------------------------------------------------------------------
class GAN(nn.Module):
    """Generator ``n_ideas -> n_hidden -> art_components`` and discriminator ``art_components -> 1``.

    One module holding both nets, so a run saves and reloads them as one weights file.
    ``model(z)`` is the generator; ``model.sample(n)`` draws ``n`` new curves. Subclasses with
    ``n_labels > 0`` (the conditional GAN) widen both nets' inputs by that many label columns.
    """

    n_labels = 0

    def __init__(
        self, n_ideas: int = 5, art_components: int = 15, n_hidden: int = 128, activation: str = "relu"
    ) -> None:
        super().__init__()
        self.n_ideas = n_ideas
        self.art_components = art_components
        self.generator = nn.Sequential(
            nn.Linear(n_ideas + self.n_labels, n_hidden),
            make_activation(activation),
            nn.Linear(n_hidden, art_components),
        )
        self.discriminator = nn.Sequential(
            nn.Linear(art_components + self.n_labels, n_hidden),
            make_activation(activation),
            nn.Linear(n_hidden, 1),
            nn.Sigmoid(),
        )

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    def points(self) -> torch.Tensor:
        """The x positions of the curves it paints."""
        return paint_points(self.art_components, self.device)

    def ideas(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` noise vectors (from ``generator`` when given, else the global RNG), on the model's device."""
        return torch.randn(n, self.n_ideas, generator=generator).to(self.device)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` generated curves, shape (n, art_components)."""
        return self.generator(self.ideas(n, generator))


# -- training ------------------------------------------------------------------------------------
def log_d(p: torch.Tensor) -> torch.Tensor:
    return torch.log(p.clamp_min(EPS))


def log_1m_d(p: torch.Tensor) -> torch.Tensor:
    return torch.log1p(-p.clamp_max(1 - 1e-7))


class GANTrainer(Trainer):
    """The tutorial's two-player step, generator first, then the discriminator on detached fakes.

    - G minimizes ``mean log(1 - D(G(z)))`` (the original minimax loss);
    - D minimizes ``-mean(log D(real) + log(1 - D(fake)))``; at the equilibrium D outputs 0.5
      everywhere and its score ``-d_loss`` is ``-2 ln 2 = -1.386``.

    The tutorial first stepped D and then backpropagated G's loss through the graph D had just
    updated in place; modern PyTorch refuses that ("one of the variables needed for gradient
    computation has been modified by an inplace operation"), so G steps first and D then scores
    the detached fakes, as the tutorial's later revision does. The noise ``z`` is drawn inside the
    step from the global RNG (seeded by the shared loop): no host syncs, static shapes.
    """

    capturable = True
    # Two optimizers, stepped in turn through the loop's helpers; in a data-parallel job those
    # average each player's gradients over the workers before it steps.
    manual = True
    #: the submodules the step calls directly: ``--compile`` compiles each of them
    modules = ("generator", "discriminator")

    def __init__(self, eval_samples: int = 1000, eval_seed: int = 1234, show: int = 12) -> None:
        self.eval_samples = eval_samples
        self.eval_seed = eval_seed
        self.show = show

    def configure_optimizers(self, model, make_optimizer):
        return {
            "generator": make_optimizer(model.generator.parameters()),
            "discriminator": make_optimizer(model.discriminator.parameters()),
        }

    # hooks a conditional GAN overrides: how G and D see their inputs
    def _real(self, batch):
        return batch[0], None

    def _generate(self, model, z, cond):
        return model.generator(z)

    def _judge(self, model, curves, cond):
        return model.discriminator(curves)

    def step(self, model, batch, opt):
        real, cond = self._real(batch)
        z = torch.randn(real.shape[0], model.n_ideas, device=real.device, dtype=real.dtype)

        fake = self._generate(model, z, cond)
        g_loss = log_1m_d(self._judge(model, fake, cond)).mean()
        opt.backward(g_loss, inputs=list(model.generator.parameters()))  # G's gradients only
        opt.step("generator")

        p_real = self._judge(model, real, cond)
        p_fake = self._judge(model, fake.detach(), cond)
        d_loss = -(log_d(p_real) + log_1m_d(p_fake)).mean()
        opt.backward(d_loss)
        opt.step("discriminator")
        return {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            "d_real": p_real.detach().mean(),
            "d_fake": p_fake.detach().mean(),
        }

    # -- evaluation
    def _eval_batch(self, model, data, device):
        """Real held-out curves (and their conditions) plus as many fakes from a seeded noise draw."""
        real = data.evaluation.tensors[0][: self.eval_samples].to(device)
        gen = torch.Generator().manual_seed(self.eval_seed)
        z = torch.randn(real.shape[0], model.n_ideas, generator=gen).to(device)
        return real, None, z

    @torch.no_grad()
    def evaluate(self, model, data, device):
        was_training = model.training
        model.eval()
        real, cond, z = self._eval_batch(model, data, device)
        fake = self._generate(model, z, cond)
        p_real, p_fake = self._judge(model, real, cond), self._judge(model, fake, cond)
        metrics = {
            "d_real": float(p_real.mean()),
            "d_fake": float(p_fake.mean()),
            "d_score": float((log_d(p_real) + log_1m_d(p_fake)).mean()),
            "in_bounds": float(in_bounds(fake, model.points())),
        }
        metrics.update(self._extra_metrics(model, fake, cond))
        model.train(was_training)
        return metrics

    def _extra_metrics(self, model, fake, cond):
        return {}

    def figures(self, model, data, device, history, run_dir):
        was_training = model.training
        model.eval()
        real, cond, z = self._eval_batch(model, data, device)
        with torch.no_grad():
            fake = self._generate(model, z, cond).cpu()
        model.train(was_training)
        paths = [
            plot_curves(
                fake[: self.show],
                model.art_components,
                Path(run_dir) / "paintings.png",
                title="generated paintings vs the bounds of real ones",
            )
        ]
        if history:
            paths.append(plot_scores(history, Path(run_dir) / "scores.png"))
        return paths


# -- figures -------------------------------------------------------------------------------------
def plot_curves(curves, art_components, path, title="", bounds_of=(1.0, 2.0), ax=None):
    """Generated curves (thin lines) between the bounds ``a = 1`` and ``a = 2`` (thick lines)."""
    from zoo_core import pyplot, save_figure

    plt = pyplot()
    x = paint_points(art_components)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, 4.5))
    for curve in curves:
        ax.plot(x, curve, c="#4AD631", lw=1, alpha=0.6)
    lo, hi = bounds_of
    ax.plot(x, paint(torch.tensor([[hi]]), x)[0], c="#74BCFF", lw=3, label=f"upper bound (a={hi:g})")
    ax.plot(x, paint(torch.tensor([[lo]]), x)[0], c="#FF9359", lw=3, label=f"lower bound (a={lo:g})")
    share = float(in_bounds(torch.as_tensor(curves), x)) if len(curves) else math.nan
    ax.set_title(
        f"{title}\n{len(curves)} curves, {share:.0%} of points in bounds"
        if title
        else f"{len(curves)} curves, {share:.0%} of points in bounds"
    )
    ax.set_xlabel("x")
    ax.set_ylim(-0.5, 3.5)
    ax.legend(loc="upper center", fontsize=8)
    if own:
        return save_figure(fig, path)
    return None


def plot_scores(history, path):
    """The discriminator's score ``-d_loss`` and mean D(real) over training, against their 0.5 / -2 ln 2 targets."""
    from zoo_core import pyplot, save_figure

    plt = pyplot()
    rows = [r for r in history if r.get("d_loss") is not None]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    steps = [r["step"] for r in rows]
    ax1.plot(steps, [-r["d_loss"] for r in rows], label="D score = -d_loss")
    ax1.axhline(-2 * math.log(2), ls="--", c="k", lw=1, label="-2 ln 2 (equilibrium)")
    ax1.set_title("discriminator score: mean log D(real) + log(1 - D(fake))", fontsize=9)
    ax1.set_xlabel("step")
    ax1.legend(fontsize=8)
    ax2.plot(steps, [r.get("d_real", math.nan) for r in rows], label="mean D(real)")
    ax2.plot(steps, [r.get("d_fake", math.nan) for r in rows], label="mean D(fake)")
    ax2.axhline(0.5, ls="--", c="k", lw=1)
    ax2.set_title("D's mean probability that a curve is real (0.5 = cannot tell)", fontsize=9)
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("step")
    ax2.legend(fontsize=8)
    return save_figure(fig, path)
