"""The standard parts every lesson builds on: optimizers, schedulers, the supervised and comparison trainers.

A built-in plugin like any other, but of parts, not of a lesson: every lesson plugin imports only
``zoo_core`` and this package (the digit lessons also the ``mnist`` data plugin), so blocking any
lesson (``ZOO_BLOCK_PLUGINS=dropout``) leaves every other one working.

- optimizers ``sgd``, ``momentum``, ``rmsprop``, ``adam``, ``adagrad`` (``optimizers.py``): the four
  that lesson 306 of Morvan Zhou's PyTorch tutorial races, plus Adagrad; torch's own, torch's defaults;
- learning-rate schedulers ``constant`` (the default: none), ``step``, ``exponential``, ``cosine``,
  ``onecycle``, ``linear-warmup`` (``schedulers.py``): ``zoo train NAME --scheduler cosine``, settings
  by ``--set scheduler.KEY=VALUE``; the shared loop steps and saves them;
- trainer ``supervised`` (``supervised.py``): one model, one loss from ``LOSSES``, the step the
  tutorial's lessons repeat (forward, loss; the loop does backward and step);
- trainer ``compare`` (``compare.py``): several models of an ``nn.ModuleDict`` on the same batches,
  the tutorial's side-by-side comparisons (306 optimizers, 503 dropout, 504 batch normalization);
- the 1-hidden-layer ``Net`` of lessons 301 and 302 (``nets.py``); their datasets ``quadratic`` and
  ``two-clusters`` and trainers ``regression`` and ``classification`` (the supervised step plus
  each lesson's figure; ``fits.py``), which lessons 303 and 304 train with too; and the
  ``zoo predict`` adapters for numbers in, numbers out (``predict.py``: ``Numbers``,
  ``Comparison``, ``Points``).

MNIST stays its own data plugin (``mnist``): it downloads data and only the digit lessons need it,
so ``zoo list`` and the other lessons never touch torchvision's dataset code.
"""

from zoo_core import hookimpl

#: the tutorial lesson that introduces the optimizers and the side-by-side comparison
OPTIMIZERS_LESSON = "306 optimizers"
_OPTIMIZERS = "zoo_plugins.standard.optimizers"
_SCHEDULERS = "zoo_plugins.standard.schedulers"


@hookimpl
def register_optimizers(registry):
    registry.add(
        "sgd",
        factory=f"{_OPTIMIZERS}:sgd",
        lesson=OPTIMIZERS_LESSON,
        tags=["sgd"],
        summary="Plain stochastic gradient descent: p -= lr * grad",
        defaults={"fused": None, "foreach": None},
    )
    registry.add(
        "momentum",
        factory=f"{_OPTIMIZERS}:sgd",
        lesson=OPTIMIZERS_LESSON,
        tags=["sgd", "momentum"],
        summary="SGD with momentum (0.8): steps follow a running velocity",
        defaults={"momentum": 0.8, "fused": None, "foreach": None},
    )
    registry.add(
        "rmsprop",
        factory=f"{_OPTIMIZERS}:rmsprop",
        lesson=OPTIMIZERS_LESSON,
        tags=["adaptive"],
        summary="RMSprop (alpha 0.9): steps scaled by a running RMS of the gradient",
        defaults={"alpha": 0.9, "foreach": None},
    )
    registry.add(
        "adam",
        factory=f"{_OPTIMIZERS}:adam",
        lesson=OPTIMIZERS_LESSON,
        tags=["adaptive", "momentum"],
        summary="Adam: momentum plus RMSprop scaling, bias-corrected (torch's betas)",
        defaults={"betas": (0.9, 0.999), "fused": None, "foreach": None},
    )
    registry.add(
        "adagrad",
        factory=f"{_OPTIMIZERS}:adagrad",
        lesson=OPTIMIZERS_LESSON,
        tags=["adaptive"],
        summary="Adagrad: steps scaled by the root of all past squared gradients",
        defaults={"fused": None, "foreach": None},
    )


@hookimpl
def register_schedulers(registry):
    registry.add(
        "constant",
        factory=f"{_SCHEDULERS}:constant",
        summary="The optimizer's learning rate throughout (no scheduler)",
        tags=["schedule"],
    )
    registry.add(
        "step",
        factory=f"{_SCHEDULERS}:step",
        summary="Multiply the learning rate by gamma every step_size optimizer steps",
        tags=["schedule"],
        defaults={"step_size": 100, "gamma": 0.5},
    )
    registry.add(
        "exponential",
        factory=f"{_SCHEDULERS}:exponential",
        summary="Multiply the learning rate by gamma after every optimizer step",
        tags=["schedule"],
        defaults={"gamma": 0.99},
    )
    registry.add(
        "cosine",
        factory=f"{_SCHEDULERS}:cosine",
        summary="Linear warm-up, then a half cosine down to min_factor x lr at the last step",
        tags=["schedule"],
        defaults={"warmup_steps": 0, "min_factor": 0.0},
    )
    registry.add(
        "onecycle",
        factory=f"{_SCHEDULERS}:onecycle",
        summary="One cycle: up to max_factor x lr, then down to far below it (Smith's 1cycle policy)",
        tags=["schedule"],
        defaults={"max_factor": 1.0, "pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4},
    )
    registry.add(
        "linear-warmup",
        factory=f"{_SCHEDULERS}:linear_warmup",
        summary="From start_factor x lr up to lr over warmup_steps, then constant",
        tags=["schedule"],
        defaults={"warmup_steps": 100, "start_factor": 0.01},
    )


@hookimpl
def register_trainers(registry):
    registry.add(
        "classification",
        factory="zoo_plugins.standard.fits:ClassificationTrainer",
        summary="The supervised step (cross-entropy by default) plus the points-by-prediction figure",
        lesson="302 classification",
        tags=["supervised", "classification"],
        defaults={"loss": "cross_entropy", "eval_batch_size": 1000},
    )
    registry.add(
        "regression",
        factory="zoo_plugins.standard.fits:RegressionTrainer",
        summary="The supervised step (MSE by default) plus the fitted-curve figure",
        lesson="301 regression",
        tags=["supervised", "regression"],
        defaults={"loss": "mse", "eval_batch_size": 1000},
    )
    registry.add(
        "supervised",
        factory="zoo_plugins.standard.supervised:Supervised",
        summary="One model, one loss: the loop does backward and the optimizer step",
        lesson="301 regression",
        tags=["supervised"],
        defaults={"loss": "mse", "eval_batch_size": 1000},
    )
    registry.add(
        "compare",
        factory="zoo_plugins.standard.compare:Compare",
        summary="Several models (an nn.ModuleDict) trained side by side on the same batches",
        lesson=OPTIMIZERS_LESSON,
        tags=["comparison"],
        defaults={"loss": "mse", "eval_batch_size": 4096},
    )


@hookimpl
def register_datasets(registry):
    registry.add(
        "two-clusters",
        factory="zoo_plugins.standard.fits:two_clusters",
        summary="n 2-D points ~ N(+center, std) labelled 0 and n ~ N(-center, std) labelled 1",
        lesson="302 classification",
        tags=["synthetic", "classification", "2-d"],
        defaults={"n": 100, "center": 2.0, "std": 1.0},
    )
    registry.add(
        "quadratic",
        factory="zoo_plugins.standard.fits:quadratic",
        summary="n points x evenly spaced in [low, high], y = x**2 + noise * U(0, 1)",
        lesson="301 regression",
        tags=["synthetic", "regression", "1-d"],
        defaults={"n": 100, "noise": 0.2, "low": -1.0, "high": 1.0},
    )
