"""Lesson 302, classification: a 2-10-2 net separates two Gaussian clusters.

It teaches classification with the same loop as lesson 301: the network outputs one score per
class, ``nn.CrossEntropyLoss`` takes those raw scores and the integer labels (not one-hot), and the
prediction is the arg-max of the scores. 100 steps of full-batch SGD (lr 0.02) reach a training
accuracy of 1.0. The figure colours the points by the predicted class.

Registers model ``classification``: lesson 301's ``Net`` with 2 inputs and 2 outputs. Its dataset
``two-clusters`` and trainer ``classification`` (the ``supervised`` step with cross-entropy, plus
the lesson's figure, ``classification.png``) are in the ``standard`` plugin (``fits.py``), because
lesson 303 trains with them too.

What changed from the tutorial's code:
- no ``Variable`` and no ``.type(torch.FloatTensor)``/``.type(torch.LongTensor)``: the data is made
  with the right dtypes (float32 points, int64 labels) from the start.
- the clusters ``torch.normal(+-2, 1)`` are drawn from a generator seeded by the run's seed (the
  tutorial uses the global generator).
- older versions of the tutorial took ``F.softmax(out)`` (no ``dim``, now deprecated) before the
  arg-max; softmax never changes the arg-max, so the prediction is ``out.argmax(1)``.
- the accuracy is measured on the training points, as in the tutorial (the data has no held-out
  split); the live ``plt.ion()`` animation is one figure saved at the end.
"""

from zoo_core import hookimpl

LESSON = "302 classification"


@hookimpl
def register_models(registry):
    registry.add(
        "classification",
        factory="zoo_plugins.standard.nets:Net",
        summary="2-10-2 ReLU net (an nn.Module class) separating two Gaussian clusters",
        lesson=LESSON,
        tags=["mlp", "classification", "class-built"],
        defaults={"n_feature": 2, "n_hidden": 10, "n_output": 2, "activation": "relu"},
        dataset="two-clusters",
        optimizer="sgd",
        trainer="classification",
        recipe={
            "lr": 0.02,
            "steps": 100,
            "batch_size": None,
            "trainer": {"loss": "cross_entropy"},
            "dataset": {"n": 100, "center": 2.0, "std": 1.0},
        },
        predictor="zoo_plugins.standard.predict:Points",
        # measured 0.99-1.00 (seeds 0-2, CPU capabilities default and avx2)
        expects={"accuracy": (">=", 0.97)},
    )
