"""Lesson 301, regression: a 1-10-1 ReLU network learns a noisy parabola.

It teaches the loop every later lesson repeats: a model written as an ``nn.Module`` class, a loss
(mean squared error), an optimizer (SGD, lr 0.2), and 200 full-batch steps of forward, loss,
``zero_grad``, ``backward``, ``step``. The figure shows the points and the fitted curve.

Registers model ``regression``. Its class ``Net``, its dataset ``quadratic`` and its trainer
``regression`` (the ``supervised`` step plus the lesson's figure, ``regression.png``) are in the
``standard`` plugin (``nets.py``, ``fits.py``), because lessons 302-304 train with them too.

What changed from the tutorial's code:
- no ``Variable``: tensors carry ``requires_grad`` themselves, and ``loss.data[0]`` (an error on a
  0-dim tensor since torch 0.4) becomes ``loss.item()``, done by the shared loop, not in the step.
- the noise ``0.2 * torch.rand(...)`` is drawn from a generator seeded by the run's seed (the
  tutorial draws it from the global generator, so every run fits different data).
- ``F.relu`` is one choice of ``activation`` (``--set activation=tanh``); the live ``plt.ion()``
  animation is one figure saved at the end of training.
- note: the noise is uniform on [0, 0.2), not centred, so the best fit is ``x**2 + 0.1`` and the
  lowest reachable MSE is the noise variance, about 0.0033.
"""

from zoo_core import hookimpl

LESSON = "301 regression"


@hookimpl
def register_models(registry):
    registry.add(
        "regression",
        factory="zoo_plugins.standard.nets:Net",
        summary="1-10-1 ReLU net (an nn.Module class) fitting a noisy parabola",
        lesson=LESSON,
        tags=["mlp", "regression", "class-built"],
        defaults={"n_feature": 1, "n_hidden": 10, "n_output": 1, "activation": "relu"},
        dataset="quadratic",
        optimizer="sgd",
        trainer="regression",
        recipe={
            "lr": 0.2,
            "steps": 200,
            "batch_size": None,
            "trainer": {"loss": "mse"},
            "dataset": {"n": 100, "noise": 0.2},
        },
        predictor="zoo_plugins.standard.predict:Numbers",
        # measured 0.0049-0.0092 (seeds 0-9, CPU capabilities default and avx2)
        expects={"eval_loss": ("<=", 0.02)},
    )
