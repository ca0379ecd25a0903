"""Lesson 503, dropout: a big net overfits 20 noisy points; the same net with dropout overfits less.

Two 1-300-300-1 ReLU nets, without and with ``Dropout(0.5)``, fit 20 points of
``y = x + 0.3 * N(0, 1)`` (Adam, lr 0.01, 500 full-batch steps, both on the same batches). The plain
net drives its training error far below the noise while its test error (fresh noise on the same x)
grows; dropout keeps the two closer. Evaluation runs in ``eval()`` mode, where dropout is off.

Registers model ``dropout`` (an ``nn.ModuleDict``: ``plain`` and ``dropout``), dataset
``noisy-line`` and trainer ``dropout-compare`` (the shared comparison trainer of
``zoo_plugins.standard.compare`` plus the figure ``dropout.png``).

What changed from the tutorial's code:
- two hand-written training lines per step become the comparison trainer looping over the two nets;
  metrics report train and test MSE of both (``train_mse_plain``, ``test_mse_dropout``, ...).
- no ``Variable``; the noise of both sets is drawn from the run's seed.
- the live ``plt.ion()`` plot every 10 steps is one figure at the end; ``eval()``/``train()``
  switching around evaluation is done by the trainer.
"""

from zoo_core import hookimpl

LESSON = "503 dropout"
_LESSON = "zoo_plugins.dropout.lesson"


@hookimpl
def register_models(registry):
    registry.add(
        "dropout",
        factory=f"{_LESSON}:DropoutPair",
        summary="1-300-300-1 ReLU nets without and with Dropout(0.5), fit to 20 noisy points",
        lesson=LESSON,
        tags=["mlp", "regression", "comparison", "dropout", "overfitting"],
        defaults={"n_hidden": 300, "p": 0.5, "activation": "relu"},
        dataset="noisy-line",
        optimizer="adam",
        trainer="dropout-compare",
        recipe={"lr": 0.01, "steps": 500, "batch_size": None, "dataset": {"n": 20, "noise": 0.3}},
        predictor="zoo_plugins.standard.predict:Comparison",
        # measured 0.0062-0.017 and 0.090-0.173 (seeds 0-2, default and avx2)
        expects={"train_mse_plain": ("<=", 0.03), "test_mse_dropout": ("<=", 0.25)},
    )


@hookimpl
def register_datasets(registry):
    registry.add(
        "noisy-line",
        factory=f"{_LESSON}:noisy_line",
        summary="n points y = x + noise * N(0, 1) on linspace(-1, 1, n); test: fresh noise, same x",
        lesson=LESSON,
        tags=["synthetic", "regression", "1-d"],
        defaults={"n": 20, "noise": 0.3},
    )


@hookimpl
def register_trainers(registry):
    registry.add(
        "dropout-compare",
        factory=f"{_LESSON}:DropoutCompare",
        summary="The comparison trainer (same batches for every net) plus the fits figure",
        lesson=LESSON,
        tags=["comparison"],
        defaults={"loss": "mse", "eval_batch_size": 4096},
    )
