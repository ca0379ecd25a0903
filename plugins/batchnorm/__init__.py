"""Lesson 504, batch normalization: a deep tanh net with a bad start learns only with batch norm.

Two nets of 8 tanh layers of 10 units, every Linear initialized N(0, 0.1**2) with bias -0.2, fit
2,000 points of ``y = x**2 - 5 + N(0, 2**2)`` on x in [-7, 10] (Adam, lr 0.03, batch 64, 12 epochs,
both on the same batches). Without normalization the activations saturate and the plain net stays
near the label variance (predicting about the mean); with BatchNorm1d (momentum 0.5) on the input
and after every hidden Linear the net learns the parabola. The test loss (200 points) is evaluated
after every epoch.

Registers model ``batchnorm`` (an ``nn.ModuleDict``: ``plain`` and ``bn``), dataset
``wide-parabola`` and trainer ``batchnorm-compare`` (the shared comparison trainer of
``zoo_plugins.standard.compare`` plus the figures ``batchnorm.png`` and ``activations.png``).

What changed from the tutorial's code:
- the net is an ``nn.Sequential`` (the tutorial keeps layers in Python lists registered with
  ``setattr``); the plain net has no unused input BatchNorm layer.
- the test loss is measured after each epoch by the shared loop (``eval_every``), not before it,
  and the per-epoch histograms (a live ``plt.ion()`` figure) are drawn once, for the final nets.
- no ``Variable``, no numpy: data are torch tensors drawn from the run's seed.
"""

from zoo_core import hookimpl

LESSON = "504 batch normalization"
_LESSON = "zoo_plugins.batchnorm.lesson"


@hookimpl
def register_models(registry):
    registry.add(
        "batchnorm",
        factory=f"{_LESSON}:BatchNormPair",
        summary="8-layer tanh nets with a bad init, without and with BatchNorm1d",
        lesson=LESSON,
        tags=["mlp", "regression", "comparison", "batchnorm"],
        defaults={
            "n_hidden": 8,
            "width": 10,
            "activation": "tanh",
            "bn_momentum": 0.5,
            "init_std": 0.1,
            "init_bias": -0.2,
        },
        dataset="wide-parabola",
        optimizer="adam",
        trainer="batchnorm-compare",
        # 2,000 points in batches of 64: 32 steps per epoch, so eval_every=32 tests every epoch.
        recipe={
            "lr": 0.03,
            "epochs": 12,
            "batch_size": 64,
            "eval_every": 32,
            "dataset": {"n": 2000, "n_test": 200, "noise": 2.0},
        },
        predictor="zoo_plugins.standard.predict:Comparison",
        # measured 686-698 (the labels' variance) and 52-350 (seeds 0-2, default and avx2)
        expects={"test_mse_plain": (">=", 600.0), "test_mse_bn": ("<=", 500.0)},
    )


@hookimpl
def register_datasets(registry):
    registry.add(
        "wide-parabola",
        factory=f"{_LESSON}:wide_parabola",
        summary="y = x**2 - 5 + noise * N(0, 1) on linspace(low, high, n), plus n_test test points",
        lesson=LESSON,
        tags=["synthetic", "regression", "1-d"],
        defaults={"n": 2000, "n_test": 200, "low": -7.0, "high": 10.0, "noise": 2.0},
    )


@hookimpl
def register_trainers(registry):
    registry.add(
        "batchnorm-compare",
        factory=f"{_LESSON}:BatchNormCompare",
        summary="The comparison trainer plus per-epoch test-loss curves and layer histograms",
        lesson=LESSON,
        tags=["comparison"],
        defaults={"loss": "mse", "eval_batch_size": 4096},
    )
