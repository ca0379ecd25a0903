"""``zoo spiral``: the example plugin's own command, drawing its dataset in the terminal."""

from __future__ import annotations

import click


def draw(x, labels, width: int = 48, height: int = 22) -> list[str]:
    """The points as characters on a grid: each arm is drawn with its class number."""
    grid = [[" "] * width for _ in range(height)]
    for (px, py), label in zip(x.tolist(), labels.tolist(), strict=True):
        col = min(width - 1, int((px + 1.1) / 2.2 * width))
        row = min(height - 1, int((1.1 - py) / 2.2 * height))
        grid[row][col] = str(label % 10)
    return ["".join(row).rstrip() for row in grid]


@click.command("spiral")
@click.option("--arms", type=click.IntRange(2, 10), default=3, show_default=True, help="Classes.")
@click.option("--n", type=click.IntRange(1, 10_000), default=200, show_default=True, help="Points per arm.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draw.")
def spiral_cmd(arms: int, n: int, seed: int) -> None:
    """Draw the example plugin's 'spiral' dataset, one digit per class."""
    from zoo_example.nets import spiral

    data = spiral(arms=arms, n=n, seed=seed)
    x, labels = data.train.tensors
    for line in draw(x, labels):
        click.echo(line)
    click.echo(f"{arms} arms, {n} training points each ({len(labels)} in all)")
