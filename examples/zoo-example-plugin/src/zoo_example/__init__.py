"""An example zoo plugin: a tiny residual MLP learns to tell the arms of a 2-D spiral apart.

zoo finds this module through the ``zoo`` entry point in pyproject.toml and calls its hooks. The
hooks only *name* their factories (``"module:attr"``), so ``zoo list`` never imports torch.
"""

from zoo_core import hookimpl

ZOO_API_VERSIONS = (2,)


@hookimpl
def register_models(registry):
    registry.add(
        "resmlp",
        factory="zoo_example.nets:ResidualMLP",
        summary="Tiny residual MLP (2 -> width, residual blocks, -> classes) on a 2-D spiral",
        tags=["mlp", "residual", "classification", "2-d"],
        defaults={"width": 32, "blocks": 2, "classes": 3},
        dataset="spiral",
        optimizer="adam",
        trainer="supervised",
        recipe={
            "lr": 0.01,
            "steps": 400,
            "batch_size": 64,
            "trainer": {"loss": "cross_entropy"},
        },
    )


@hookimpl
def register_datasets(registry):
    registry.add(
        "spiral",
        factory="zoo_example.nets:spiral",
        summary="Points on the arms of a 2-D spiral, one class per arm; a second draw is held out",
        tags=["synthetic", "classification", "2-d"],
        defaults={"arms": 3, "n": 200, "turns": 1.0, "noise": 0.15},
    )


@hookimpl
def register_commands(cli):
    from zoo_example.commands import spiral_cmd

    cli.add_command(spiral_cmd)
