"""``zoo play [RUN]``: watch a trained DQN balance the pole, as a strip of frames in one PNG.

Only click is imported here; torch, gymnasium and the model are loaded when the command runs.
The frames are drawn with matplotlib from the cart's position and the pole's angle, so no window
(and no game library) is needed.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("play")
@click.argument("run", required=False)
@click.option(
    "--seed", type=int, default=10_000, show_default=True, help="Seed of the starting state (env.reset)."
)
@click.option(
    "--max-steps", type=click.IntRange(min=1), default=500, show_default=True, help="Stop after this many."
)
@click.option(
    "--frames", type=click.IntRange(min=1, max=40), default=8, show_default=True, help="Frames drawn."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PNG to draw into [default: RUN/play.png].",
)
def play(run: str | None, seed: int, max_steps: int, frames: int, out: Path | None) -> None:
    """Play one greedy episode of a trained DQN run and draw evenly spaced frames of it.

    RUN is a dqn run folder (default: the latest one); the policy is rebuilt from its
    model.safetensors alone.

    \b
    zoo play runs/dqn/20240101-120000-000-ab12 --seed 3 --frames 10
    """
    import zoo_core
    from zoo_plugins.dqn.lesson import draw_frames, make_env
    from zoo_plugins.dqn.lesson import play as play_episode

    entry = zoo_core.get_model("dqn")
    trained = zoo_core.open_run(run if run is not None else entry.qualname, model=entry.qualname)
    env = make_env()
    seen = play_episode(trained.model, seed, max_steps, env)
    moves = len(seen) - 1
    if out is None:
        out = trained.weights.parent / "play.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    draw_frames(seen, env, frames, out, title=f"greedy episode from seed {seed}: {moves} moves")
    ending = "the pole fell or the cart left the track" if moves < max_steps else "still up when stopped"
    click.echo(f"played {moves} moves from seed {seed} ({ending}); reward {moves}")
    click.echo(f"figure: {out}")
