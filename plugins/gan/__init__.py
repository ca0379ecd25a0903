"""Lesson 406, GAN: a generator learns to paint curves a*x^2 + (a-1) that a discriminator cannot tell
from the artist's, by playing the two-player minimax game against it.

G turns 5 random "ideas" into 15 points of a curve; D says how likely a curve is the artist's. At
the equilibrium D outputs 0.5 for everything (its score log D(real) + log(1 - D(fake)) is
-2 ln 2 = -1.386) and the generated curves lie between the artist's bounds x^2 and 2x^2 + 1.
``zoo sample gan RUN`` draws new curves from a trained run.

Changed from the tutorial's code:
- G steps first, then D on the detached fakes: the tutorial's original order (D step, then G's
  backward through the updated D) fails on modern PyTorch with an in-place modification error.
- The real curves are drawn up front from the run's seed (64 x 10,000 of them) instead of by numpy
  in every step, so runs repeat and the step does no host work; the noise comes from torch's RNG.
- log() is clamped away from 0 so a saturated D cannot turn the losses into inf.
- Both nets live in one module (``generator`` and ``discriminator``), saved as one safetensors file.
- The live matplotlib animation is replaced by figures written at the end, plus measured metrics
  (d_real, d_score, in_bounds) on 1000 fresh curves.

The same lesson's second model, ``conditional-gan`` (``conditional.py``), is told which kind to
paint: a label c = 1 when a > 1.5 (else 0) is concatenated to the generator's noise and to the
curve the discriminator judges, so after training G paints upper-half or lower-half curves on
request. ``class_accuracy`` measures the share of generated curves that fall in the class asked for
(from each curve's least-squares a); ``zoo sample conditional-gan RUN --label 1`` draws new ones.
Its real curves and labels too are drawn up front from the run's seed, and its figures are one
panel per class, with the measured class accuracy.
"""

from zoo_core import hookimpl

LESSON = "406 GAN"
CONDITIONAL_LESSON = "406 conditional GAN"


@hookimpl
def register_models(registry):
    registry.add(
        "gan",
        factory="zoo_plugins.gan.lesson:GAN",
        summary="Generator 5-128-15 vs discriminator 15-128-1 painting parabolas a*x^2+(a-1)",
        lesson=LESSON,
        tags=["gan", "generative", "mlp"],
        defaults={"n_ideas": 5, "art_components": 15, "n_hidden": 128, "activation": "relu"},
        dataset="artist-curves",
        optimizer="adam",
        trainer="gan",
        recipe={"lr": 1e-4, "steps": 10_000, "batch_size": 64, "shuffle": False},
        predictor="zoo_plugins.gan.predict:Generator",
        # measured 0.907-0.931 (seeds 0-2, CPU capabilities default and avx2)
        expects={"in_bounds": (">=", 0.85)},
    )
    registry.add(
        "conditional-gan",
        factory="zoo_plugins.gan.conditional:ConditionalGAN",
        summary="GAN of parabolas conditioned on a label c = (a > 1.5), fed to G and D",
        lesson=CONDITIONAL_LESSON,
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
        "artist-curves",
        factory="zoo_plugins.gan.lesson:artist_curves",
        summary="Parabolas a*x^2+(a-1), a ~ U(1,2), at 15 points in [-1, 1]",
        lesson=LESSON,
        tags=["synthetic", "curves"],
        defaults={"n": 640_000, "n_eval": 1000, "art_components": 15},
    )
    registry.add(
        "artist-curves-labelled",
        factory="zoo_plugins.gan.conditional:labelled_curves",
        summary="Parabolas a*x^2+(a-1), a ~ U(1,2), with the label a > 1.5",
        lesson=CONDITIONAL_LESSON,
        tags=["synthetic", "curves", "labelled"],
        defaults={"n": 640_000, "n_eval": 1000, "art_components": 15},
    )


@hookimpl
def register_trainers(registry):
    registry.add(
        "gan",
        factory="zoo_plugins.gan.lesson:GANTrainer",
        summary="Generator step, then discriminator step on detached fakes (minimax losses)",
        lesson=LESSON,
        tags=["gan"],
        defaults={"eval_samples": 1000, "eval_seed": 1234, "show": 12},
    )
    registry.add(
        "conditional-gan",
        factory="zoo_plugins.gan.conditional:ConditionalGANTrainer",
        summary="The GAN step with a class label beside G's noise and D's input",
        lesson=CONDITIONAL_LESSON,
        tags=["gan", "conditional"],
        defaults={"eval_samples": 1000, "eval_seed": 1234, "show": 12},
    )


@hookimpl
def register_commands(cli):
    from zoo_plugins.gan.commands import sample

    cli.add_command(sample)
