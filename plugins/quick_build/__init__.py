"""Lesson 303, quick build: the same networks written with ``nn.Sequential`` instead of a class.

It teaches that ``nn.Sequential(nn.Linear(1, 10), nn.ReLU(), nn.Linear(10, 1))`` computes exactly
what lesson 301's ``Net`` class computes: only the names of the weights differ (``0.weight``,
``2.weight`` instead of ``hidden.weight``, ``predict.weight``), which matters when loading a
state dict saved by the other one. ``key_map``/``class_to_sequential``/``sequential_to_class`` in
``zoo_plugins.quick_build.lesson`` translate between them.

Registers models ``regression-seq`` and ``classification-seq`` (lessons 301 and 302 with the same
data, trainer and recipe) and ``mlp``, a Sequential net of any layer sizes
(``--set sizes=1,32,32,1 --set activation=tanh``).

What changed from the tutorial's code:
- the tutorial only prints the two nets; here both train, and a test loads one's weights into the
  other (through the key map) and checks they give the same outputs.
- ``torch.nn.ReLU()`` is one choice of ``activation``; the tutorial's print shows
  ``ReLU()`` for the Sequential net but not for the class, whose ``F.relu`` is a function, not a
  module (here both hold it as a module, so ``print(model)`` shows it in both).
"""

from zoo_core import hookimpl

LESSON = "303 quick build"
REGRESSION_RECIPE = {
    "lr": 0.2,
    "steps": 200,
    "batch_size": None,
    "trainer": {"loss": "mse"},
    "dataset": {"n": 100, "noise": 0.2},
}
CLASSIFICATION_RECIPE = {
    "lr": 0.02,
    "steps": 100,
    "batch_size": None,
    "trainer": {"loss": "cross_entropy"},
    "dataset": {"n": 100, "center": 2.0, "std": 1.0},
}

# what lessons 301 and 302 achieve (measured 0.0049-0.0092 and 0.99-1.00 for seeds 0-2 under
# ATEN_CPU_CAPABILITY=default and avx2), checked by 'zoo check quick-build --train'
REGRESSION_EXPECTS = {"eval_loss": ("<=", 0.02)}
CLASSIFICATION_EXPECTS = {"accuracy": (">=", 0.97)}


@hookimpl
def register_models(registry):
    registry.add(
        "regression-seq",
        factory="zoo_plugins.quick_build.lesson:sequential_net",
        summary="Lesson 301's 1-10-1 ReLU net built with nn.Sequential, fitting a noisy parabola",
        lesson=LESSON,
        tags=["mlp", "regression", "sequential"],
        defaults={"n_feature": 1, "n_hidden": 10, "n_output": 1, "activation": "relu"},
        dataset="quadratic",
        optimizer="sgd",
        trainer="regression",
        recipe=REGRESSION_RECIPE,
        predictor="zoo_plugins.standard.predict:Numbers",
        expects=REGRESSION_EXPECTS,
    )
    registry.add(
        "classification-seq",
        factory="zoo_plugins.quick_build.lesson:sequential_net",
        summary="Lesson 302's 2-10-2 ReLU net built with nn.Sequential, separating two clusters",
        lesson=LESSON,
        tags=["mlp", "classification", "sequential"],
        defaults={"n_feature": 2, "n_hidden": 10, "n_output": 2, "activation": "relu"},
        dataset="two-clusters",
        optimizer="sgd",
        trainer="classification",
        recipe=CLASSIFICATION_RECIPE,
        predictor="zoo_plugins.standard.predict:Points",
        expects=CLASSIFICATION_EXPECTS,
    )
    registry.add(
        "mlp",
        factory="zoo_plugins.quick_build.lesson:mlp",
        summary="nn.Sequential MLP of any layer sizes (default 1-10-1, lesson 301's recipe)",
        lesson=LESSON,
        tags=["mlp", "regression", "sequential"],
        defaults={"sizes": [1, 10, 1], "activation": "relu"},
        dataset="quadratic",
        optimizer="sgd",
        trainer="regression",
        recipe=REGRESSION_RECIPE,
        predictor="zoo_plugins.standard.predict:Numbers",
        expects=REGRESSION_EXPECTS,
    )
