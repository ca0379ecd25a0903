"""The plain supervised step (one model, one loss) that most lessons train with.

It is a plugin like any other: lessons name the trainer ``supervised`` in their model entries.
"""

from zoo_core import hookimpl


@hookimpl
def register_trainers(registry):
    registry.add(
        "supervised",
        factory="zoo_plugins.supervised.step:Supervised",
        summary="One model, one loss: the loop does backward and the optimizer step",
        lesson="301 regression",
        tags=["supervised"],
        defaults={"loss": "mse", "eval_batch_size": 1000},
    )
