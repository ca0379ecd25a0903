"""Lesson 406, conditional GAN: the GAN of parabolas a*x^2 + (a-1), told which kind to paint.

A label c = 1 when a > 1.5 (else 0) is concatenated to the generator's noise and to the curve the
discriminator judges, so after training G paints upper-half or lower-half curves on request.
``class_accuracy`` measures the share of generated curves that fall in the class asked for (from
each curve's least-squares a); ``zoo sample conditional-gan RUN --label 1`` draws new ones.

Changed from the tutorial's code:
- G steps first, then D on the detached fakes: the tutorial's original order fails on modern
  PyTorch with an in-place modification error.
- Real curves and their labels are drawn up front from the run's seed (64 x 10,000 of them); the
  noise comes from torch's RNG inside the step, so runs repeat and the step does no host work.
- log() is clamped away from 0 so a saturated D cannot turn the losses into inf.
- Both nets live in one module, saved as one safetensors file; figures are written at the end (one
  panel per class) instead of the live animation, with measured class accuracy.
"""

from zoo_core import hookimpl

LESSON = "406 conditional GAN"


@hookimpl
def register_models(registry):
    registry.add(
        "conditional-gan",
        factory="zoo_plugins.conditional_gan.lesson:ConditionalGAN",
        summary="GAN of parabolas conditioned on a label c = (a > 1.5), fed to G and D",
        lesson=LESSON,
        tags=["gan", "generative", "conditional", "mlp"],
        defaults={"n_ideas": 5, "art_components": 15, "n_hidden": 128, "activation": "relu"},
        dataset="artist-curves-labelled",
        optimizer="adam",
        trainer="conditional-gan",
        recipe={"lr": 1e-4, "steps": 10_000, "batch_size": 64, "shuffle": False},
        predictor="zoo_plugins.gan.predict:Generator",
        # measured 0.960-0.980 (seeds 0-2, CPU capabilities default and avx2)
        expects={"class_accuracy": (">=", 0.9)},
    )


@hookimpl
def register_datasets(registry):
    registry.add(
        "artist-curves-labelled",
        factory="zoo_plugins.conditional_gan.lesson:labelled_curves",
        summary="Parabolas a*x^2+(a-1), a ~ U(1,2), with the label a > 1.5",
        lesson=LESSON,
        tags=["synthetic", "curves", "labelled"],
        defaults={"n": 640_000, "n_eval": 1000, "art_components": 15},
    )


@hookimpl
def register_trainers(registry):
    registry.add(
        "conditional-gan",
        factory="zoo_plugins.conditional_gan.lesson:ConditionalGANTrainer",
        summary="The GAN step with a class label beside G's noise and D's input",
        lesson=LESSON,
        tags=["gan", "conditional"],
        defaults={"eval_samples": 1000, "eval_seed": 1234, "show": 12},
    )
