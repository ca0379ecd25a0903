"""Lesson 305, mini-batch training: how a data loader cuts ten samples into shuffled batches.

``zoo mini-batch`` prints the batches of the ``linspace-pairs`` dataset (x = 1..10, y = 10..1),
batch size 5, shuffled, for 3 epochs: every epoch covers all 10 samples in 2 batches, in a new
order; with ``--batch-size 8`` the second batch holds the 2 left over (``--drop-last`` drops it).

Batch size, shuffle, workers and drop-last are not this lesson's code: they are the shared
trainer's own options, for every model (``zoo train NAME --batch-size 5 --set shuffle=false
--set drop_last=true --set workers=2``). The command draws the batches with the shared loop's
own functions (``zoo_core.batch_indices`` and ``zoo_core.Batches``), so what it prints
is exactly what ``zoo train`` feeds the step with the same seed.

What changed from the tutorial's code:
- ``TensorDataset(data_tensor=x, target_tensor=y)`` no longer runs (the keywords were removed):
  ``TensorDataset(x, y)``.
- the tutorial's ``num_workers=2`` needs the ``if __name__ == '__main__'`` guard on platforms that
  spawn workers; in-memory tensors need no worker processes at all, so the shared loop slices them
  directly (workers apply to datasets that load samples one by one).
- the shuffle order is drawn from the run's seed and the epoch number (the tutorial's order
  changes on every run), so a resumed run replays the same batches.
"""

from zoo_core import hookimpl

LESSON = "305 mini-batch"


@hookimpl
def register_datasets(registry):
    registry.add(
        "linspace-pairs",
        factory="zoo_plugins.mini_batch.lesson:linspace_pairs",
        summary="n pairs: x evenly from low to high, y from high down to low (1..10 and 10..1)",
        lesson=LESSON,
        tags=["synthetic", "toy", "batching"],
        defaults={"n": 10, "low": 1.0, "high": 10.0},
    )


@hookimpl
def register_commands(cli):
    import click

    @cli.command("mini-batch")
    @click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=5,
        show_default=True,
        help="Samples per batch (the shared loop's batch_size).",
    )
    @click.option(
        "--epochs", type=click.IntRange(min=1), default=3, show_default=True, help="Passes over the data."
    )
    @click.option("--no-shuffle", is_flag=True, help="Keep the samples in order (shuffle=false).")
    @click.option("--drop-last", is_flag=True, help="Drop an incomplete last batch (drop_last=true).")
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed of the shuffle order.")
    def mini_batch_command(batch_size, epochs, no_shuffle, drop_last, seed):
        """Lesson 305: print the batches the shared loop draws from x = 1..10, y = 10..1."""
        from zoo_plugins.mini_batch.lesson import main

        main(
            batch_size=batch_size,
            epochs=epochs,
            shuffle=not no_shuffle,
            drop_last=drop_last,
            seed=seed,
            echo=click.echo,
        )
