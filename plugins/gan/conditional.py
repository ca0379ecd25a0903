"""Lesson 406, conditional GAN: the GAN of curves a*x^2 + (a-1), told which half of a to paint.

The label ``c = 1`` when ``a > 1.5`` (the upper half of the curves) and 0 otherwise; it is
concatenated to the generator's noise and to the curve the discriminator judges.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from zoo_core import Splits
from zoo_plugins.gan.lesson import (
    GAN,
    GANTrainer,
    draw_a,
    estimate_a,
    paint,
    paint_points,
    plot_scores,
)

SPLIT = 1.5  # a above this is class 1


def label_of(a: torch.Tensor) -> torch.Tensor:
    """The class of a curve from its ``a``: 1.0 when ``a > 1.5``, else 0.0 (same shape as ``a``)."""
    return (a > SPLIT).to(torch.get_default_dtype())


def class_of(curves: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The class a (generated) curve falls in, from its least-squares ``a``; shape (n, 1)."""
    return label_of(estimate_a(curves, x)).unsqueeze(-1)


def labelled_curves(n: int = 640_000, n_eval: int = 1000, art_components: int = 15, seed: int = 0) -> Splits:
    """Pre-drawn real curves with their labels ``a > 1.5``: ``n`` for training, ``n_eval`` held out."""
    gen = torch.Generator().manual_seed(seed)
    x = paint_points(art_components)
    a_eval, a_train = draw_a(n_eval, gen), draw_a(n, gen)  # held-out first: the same for every n
    return Splits(
        train=TensorDataset(paint(a_train, x), label_of(a_train)),
        eval=TensorDataset(paint(a_eval, x), label_of(a_eval)),
        info={"art_components": art_components, "classes": ["a <= 1.5", "a > 1.5"]},
    )


class ConditionalGAN(GAN):
    """The GAN's two nets with one label input more each: G(z, c) and D(curve, c)."""

    n_labels = 1

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.generator(torch.cat((z, labels), 1))

    def judge(self, curves: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """D's probability that ``curves`` are the artist's curves of class ``labels``."""
        return self.discriminator(torch.cat((curves, labels), 1))

    @torch.no_grad()
    def sample(
        self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` curves of the classes ``labels`` ((n, 1) of 0/1; default: the first half 0, the rest 1)."""
        if labels is None:
            labels = (torch.arange(n) >= n // 2).float().unsqueeze(1)
        z = self.ideas(n, generator)
        return self(z, labels.to(z))


class ConditionalGANTrainer(GANTrainer):
    """The GAN step with the label ``c`` beside the noise for G and beside the curve for D.

    Evaluation adds ``class_accuracy``: the share of generated curves whose least-squares ``a`` is
    on the side of 1.5 that their label asked for.
    """

    def _real(self, batch):
        return batch[0], batch[1]

    def _generate(self, model, z, cond):
        return model(z, cond)

    def _judge(self, model, curves, cond):
        return model.judge(curves, cond)

    def _eval_batch(self, model, data, device):
        real, cond, z = super()._eval_batch(model, data, device)
        cond = data.evaluation.tensors[1][: real.shape[0]].to(device)
        return real, cond, z

    def _extra_metrics(self, model, fake, cond):
        hit = class_of(fake, model.points()) == cond
        return {"class_accuracy": float(hit.float().mean())}

    def figures(self, model, data, device, history, run_dir):
        gen = torch.Generator().manual_seed(self.eval_seed)
        per_class = max(1, self.show // 2)
        labels = torch.cat((torch.zeros(per_class, 1), torch.ones(per_class, 1)))
        was_training = model.training
        model.eval()
        curves = model.sample(len(labels), labels, generator=gen).cpu()
        model.train(was_training)
        paths = [plot_classes(curves, labels, model.art_components, Path(run_dir) / "paintings.png")]
        if history:
            paths.append(plot_scores(history, Path(run_dir) / "scores.png"))
        return paths


def plot_classes(curves, labels, art_components, path):
    """One panel per class: the curves generated for it between that class's bounds."""
    from zoo_core import pyplot, save_figure

    plt = pyplot()
    x = paint_points(art_components)
    curves, labels = torch.as_tensor(curves).cpu(), torch.as_tensor(labels).cpu()
    got = class_of(curves, x)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for cls, (ax, (lo, hi)) in enumerate(zip(axes, ((1.0, SPLIT), (SPLIT, 2.0)), strict=True)):
        mine = labels[:, 0] == cls
        for curve in curves[mine]:
            ax.plot(x, curve, c="#4AD631", lw=1, alpha=0.7)
        ax.plot(x, paint(torch.tensor([[hi]]), x)[0], c="#74BCFF", lw=3, label=f"a = {hi:g}")
        ax.plot(x, paint(torch.tensor([[lo]]), x)[0], c="#FF9359", lw=3, label=f"a = {lo:g}")
        n = int(mine.sum())
        share = float((got[mine] == cls).float().mean()) if n else float("nan")
        ax.set_title(f"label {cls} ({'a > 1.5' if cls else 'a <= 1.5'}): {n} curves, {share:.0%} in class")
        ax.set_xlabel("x")
        ax.set_ylim(-0.5, 3.5)
        ax.legend(loc="upper center", fontsize=8)
    return save_figure(fig, path)
