"""Lesson 306, optimizers: SGD, Momentum, RMSprop and Adam race on the same batches.

Four 1-20-1 ReLU nets with the same architecture (each its own initial weights) fit 1,000 points of
``y = x**2 + 0.1 * N(0, 1)``, lr 0.01, batch 32, 12 epochs; every step each net gets the same batch
and its own optimizer. Plain SGD is clearly the slowest; momentum, RMSprop and Adam reach the noise
floor (MSE about 0.010) within the 12 epochs.

Registers model ``optimizers`` (an ``nn.ModuleDict``, one net per racer; which optimizers race is
its ``optimizers`` setting: ``--set optimizers=sgd,adam``), dataset ``noisy-parabola`` and the race
trainer ``optimizer-race`` (one optimizer per net; figure ``race.png``). The racers themselves
(``sgd``, ``momentum``, ``rmsprop``, ``adam``, ``adagrad``) and the comparison trainer it builds on
(``compare``) are standard parts every lesson shares: the ``standard`` plugin registers them.

What changed from the tutorial's code:
- four copies of the training code become one trainer that loops over the nets of a ModuleDict;
  the race is a setting, and the saved run reloads like any model (``zoo_core.load_model``).
- ``Data.TensorDataset``/``DataLoader(num_workers=2)`` becomes the shared loop's in-memory batches
  (same batch size and shuffling each epoch, drawn from the run's seed); the noise too is seeded.
- no ``Variable``; the racers' settings (momentum 0.8, alpha 0.9, betas (0.9, 0.99)) are trainer
  settings (``--set momentum=0.9``); the ``adam`` entry itself keeps torch's betas (0.9, 0.999),
  which the other lessons' Adam uses.
- the optimizers are torch's own, with torch's default implementation (the for-loop on the CPU,
  ``foreach`` on CUDA), so the race gives the same figures on every CPU; ``--set fused=true`` opts in
  to the fused kernels (see ``zoo_plugins/standard/optimizers.py`` for why and what it costs).
- the per-net loss lists and ``plt.plot`` become the run's metrics and ``race.png`` (log scale,
  with each racer's final MSE and the noise floor).
"""

from zoo_core import hookimpl

LESSON = "306 optimizers"
_LESSON = "zoo_plugins.optimizers.lesson"


@hookimpl
def register_models(registry):
    registry.add(
        "optimizers",
        factory=f"{_LESSON}:RaceNets",
        summary="Optimizer race: one 1-20-1 ReLU net per optimizer, trained on the same batches",
        lesson=LESSON,
        tags=["mlp", "regression", "comparison", "optimizers"],
        defaults={"optimizers": ("sgd", "momentum", "rmsprop", "adam"), "n_hidden": 20, "activation": "relu"},
        dataset="noisy-parabola",
        optimizer="sgd",  # unused by the race itself: each net uses the optimizer it is named after
        trainer="optimizer-race",
        recipe={"lr": 0.01, "epochs": 12, "batch_size": 32, "dataset": {"n": 1000, "noise": 0.1}},
        predictor="zoo_plugins.standard.predict:Comparison",
        # measured: sgd 0.058-0.076, the others 0.0096-0.0134 (seeds 0-2, default and avx2)
        expects={
            "mse_sgd": ("<=", 0.12),
            "mse_momentum": ("<=", 0.02),
            "mse_rmsprop": ("<=", 0.02),
            "mse_adam": ("<=", 0.02),
        },
    )


@hookimpl
def register_datasets(registry):
    registry.add(
        "noisy-parabola",
        factory=f"{_LESSON}:noisy_parabola",
        summary="n points x evenly spaced in [low, high], y = x**2 + noise * N(0, 1)",
        lesson=LESSON,
        tags=["synthetic", "regression", "1-d"],
        defaults={"n": 1000, "noise": 0.1, "low": -1.0, "high": 1.0},
    )


@hookimpl
def register_trainers(registry):
    registry.add(
        "optimizer-race",
        factory=f"{_LESSON}:Race",
        summary="The comparison trainer with one optimizer per net, named by the net; race.png",
        lesson=LESSON,
        tags=["comparison", "optimizers"],
        defaults={
            "loss": "mse",
            "momentum": 0.8,
            "alpha": 0.9,
            "betas": (0.9, 0.99),
            "eval_batch_size": 4096,
        },
    )
