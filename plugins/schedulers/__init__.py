"""Learning-rate schedules for every lesson: ``zoo train NAME --scheduler cosine``.

Each entry builds a ``torch.optim.lr_scheduler`` for one optimizer from ``(optimizer,
total_steps, **settings)``; the shared loop steps it once per optimizer step, saves its state
with the run and draws the learning rate beside the loss. ``constant`` (the default of every
lesson, as in the tutorial) builds none. Settings: ``--set scheduler.KEY=VALUE``.
"""

from zoo_core import hookimpl

_FACTORIES = "zoo_plugins.schedulers.factories"


@hookimpl
def register_schedulers(registry):
    registry.add(
        "constant",
        factory=f"{_FACTORIES}:constant",
        summary="The optimizer's learning rate throughout (no scheduler)",
        tags=["schedule"],
    )
    registry.add(
        "step",
        factory=f"{_FACTORIES}:step",
        summary="Multiply the learning rate by gamma every step_size optimizer steps",
        tags=["schedule"],
        defaults={"step_size": 100, "gamma": 0.5},
    )
    registry.add(
        "exponential",
        factory=f"{_FACTORIES}:exponential",
        summary="Multiply the learning rate by gamma after every optimizer step",
        tags=["schedule"],
        defaults={"gamma": 0.99},
    )
    registry.add(
        "cosine",
        factory=f"{_FACTORIES}:cosine",
        summary="Linear warm-up, then a half cosine down to min_factor x lr at the last step",
        tags=["schedule"],
        defaults={"warmup_steps": 0, "min_factor": 0.0},
    )
    registry.add(
        "onecycle",
        factory=f"{_FACTORIES}:onecycle",
        summary="One cycle: up to max_factor x lr, then down to far below it (Smith's 1cycle policy)",
        tags=["schedule"],
        defaults={"max_factor": 1.0, "pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4},
    )
    registry.add(
        "linear-warmup",
        factory=f"{_FACTORIES}:linear_warmup",
        summary="From start_factor x lr up to lr over warmup_steps, then constant",
        tags=["schedule"],
        defaults={"warmup_steps": 100, "start_factor": 0.01},
    )
