"""Lesson 304, save and reload: keep a trained net and get exactly the same net back.

A 1-10-1 ReLU ``nn.Sequential`` fits lesson 301's 100 points of ``y = x**2 + 0.2 * U(0, 1)`` (SGD,
lr 0.5, 100 full-batch steps). ``zoo save-reload`` trains it through the shared loop, saving both
``model.safetensors`` (parameters) and ``model.pt`` (the whole pickled object), reloads it both
ways, draws the three nets' predictions side by side (they are bit-identical), and prints what
each format costs and requires. The tutorial's lr 0.5 sometimes switches every ReLU off (about 3
seeds in 10): the net then predicts a constant; the command and the trainer's ``dead`` metric say so.

Registers model ``save-reload`` (trains with dataset ``quadratic``, lesson 301's, from ``standard``),
trainer ``save-reload`` (the supervised step plus ``dead``/``active_units`` metrics, the figure
``save-reload.png`` and ``trained_outputs.safetensors``: the outputs of the net still in memory,
which the reloads are compared with) and the command ``zoo save-reload``.

What changed from the tutorial's code:
- ``torch.save(net1.state_dict(), 'net_params.pkl')`` becomes safetensors (plain tensors, no
  code runs on load); the whole-model pickle is still written, beside it, for comparison.
- ``torch.load('net.pkl')`` needs ``weights_only=False`` since torch 2.6; zoo loads it only with
  explicit trust (the command trusts the file it has just written, and says so).
- no ``Variable``; the data's noise comes from the run's seed; a dead net is reported, not drawn
  as if it were a fit.
"""

from zoo_core import hookimpl

LESSON = "304 save and reload"


@hookimpl
def register_models(registry):
    registry.add(
        "save-reload",
        factory="zoo_plugins.save_reload.lesson:Net",
        summary="1-10-1 ReLU nn.Sequential saved as safetensors and pickle, then reloaded",
        lesson=LESSON,
        tags=["mlp", "regression", "checkpoint"],
        defaults={"n_hidden": 10, "activation": "relu"},
        dataset="quadratic",
        optimizer="sgd",
        trainer="save-reload",
        recipe={"lr": 0.5, "steps": 100, "batch_size": None, "dataset": {"n": 100, "noise": 0.2}},
        predictor="zoo_plugins.standard.predict:Numbers",
        # measured 0.0047-0.066 (seeds 0-29): some seeds keep only 2-3 live units
        expects={"eval_loss": ("<=", 0.1)},
    )


@hookimpl
def register_trainers(registry):
    registry.add(
        "save-reload",
        factory="zoo_plugins.save_reload.lesson:SaveReloadTrainer",
        summary="The supervised step plus dead-net detection (dead, active_units) and a fit figure",
        lesson=LESSON,
        tags=["supervised", "regression"],
        defaults={"loss": "mse", "eval_batch_size": 1000},
    )


@hookimpl
def register_commands(cli):
    import click

    @cli.command("save-reload")
    @click.option("--out", default=None, help="Run folder (new or empty); default runs/save-reload/<time>.")
    @click.option("--seed", default=0, show_default=True, type=int, help="Seed of the data and weights.")
    @click.option("--steps", default=100, show_default=True, type=click.IntRange(1), help="Training steps.")
    @click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
    def save_reload(out, seed, steps, device):
        """Lesson 304: train, save (safetensors + pickle), reload both ways, compare the three nets."""
        from zoo_plugins.save_reload.lesson import run

        run(out=out, seed=seed, steps=steps, device=device, echo=click.echo)
