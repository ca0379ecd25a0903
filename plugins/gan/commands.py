"""``zoo sample NAME [RUN]``: draw new curves from a trained GAN (or conditional GAN) run.

Only click is imported here; torch and the model are loaded when the command runs.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("sample")
@click.argument("name")
@click.argument("run", required=False)
@click.option(
    "--n", "n", type=click.IntRange(min=1), default=10, show_default=True, help="How many curves to draw."
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PNG to draw them into [default: RUN/samples.png].",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the noise the curves come from."
)
@click.option(
    "--label",
    type=click.Choice(["0", "1"]),
    default=None,
    help="Conditional models: the class to ask for (1: a > 1.5) [default: half each].",
)
@click.option("--values", is_flag=True, help="Also print every curve's values.")
def sample(
    name: str, run: str | None, n: int, out: Path | None, seed: int, label: str | None, values: bool
) -> None:
    """Draw N new curves from a trained GAN run and plot them against the bounds of real ones.

    NAME is the model the run trained (gan or conditional-gan); RUN is its folder (default: the
    latest run of NAME). The model is rebuilt from RUN/model.safetensors alone.

    \b
    zoo sample gan runs/gan/20240101-120000-000-ab12 --n 20 --out curves.png
    zoo sample conditional-gan RUN --label 1
    """
    import torch

    import zoo_core
    from zoo_core import ZooError
    from zoo_plugins.gan.lesson import estimate_a, in_bounds, plot_curves

    entry = zoo_core.get_model(name)
    # no RUN: the model's latest run; a run of another model is refused before it is built
    trained = zoo_core.open_run(run if run is not None else entry.qualname, model=entry.qualname)
    model, weights = trained.model, trained.weights
    source = weights.parent if weights.name == "model.safetensors" else weights  # a run, or a file
    if not hasattr(model, "sample"):
        raise ZooError(f"model '{entry.qualname}' cannot draw samples (it has no sample() method)")

    gen = torch.Generator().manual_seed(seed)
    conditional = getattr(model, "n_labels", 0) > 0
    labels = None
    if conditional:
        if label is None:
            labels = (torch.arange(n) >= n // 2).float().unsqueeze(1)
        else:
            labels = torch.full((n, 1), float(label))
        curves = model.sample(n, labels, generator=gen)
    else:
        if label is not None:
            raise ZooError(f"--label applies to conditional models; '{entry.name}' is not one")
        curves = model.sample(n, generator=gen)

    x = model.points()
    a_hat = estimate_a(curves, x)
    if out is None:
        out = weights.parent / "samples.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    if conditional:
        from zoo_plugins.gan.conditional import plot_classes

        plot_classes(curves, labels, model.art_components, out)
    else:
        plot_curves(curves, model.art_components, out, title=f"{n} curves sampled from {source.name}")

    click.echo(f"drew {n} curves from {weights} (seed {seed})")
    click.echo(f"points between x^2 and 2x^2+1: {float(in_bounds(curves, x)):.1%}")
    if conditional:
        hit = ((a_hat > 1.5).float() == labels[:, 0]).float().mean()
        click.echo(f"curves in the class asked for: {float(hit):.1%}")
    if values:
        head = "a_hat " + (" label " if conditional else "") + " ".join(f"{v:6.2f}" for v in x.tolist())
        click.echo(head)
        for i, curve in enumerate(curves):
            lab = f" {int(labels[i, 0]):5d} " if conditional else ""
            click.echo(f"{float(a_hat[i]):5.2f} {lab}" + " ".join(f"{v:6.3f}" for v in curve.tolist()))
    click.echo(f"figure: {out}")
