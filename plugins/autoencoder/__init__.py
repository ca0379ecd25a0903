"""404 autoencoder: squeeze MNIST digits through a 3-number code and rebuild them.

The lesson teaches unsupervised learning: the encoder (784-128-64-12-3, tanh between) and the
mirrored decoder (ending in a sigmoid, so pixels land in [0, 1]) are trained together to reproduce
their input (MSE, Adam lr 0.005, batches of 64, 10 epochs). The 3-D codes cluster by digit although
no label was ever used.
Changed from the tutorial's code:
- its own trainer (``autoencoder``): the target is the input, labels are ignored; it reports the
  reconstruction MSE on the first 2,000 test images (``eval_loss``) instead of only the training loss;
- layer sizes, code size and activation are hyperparameters (``--set code_size=2``);
- the live matplotlib window is replaced by two PNG figures: test digits above their reconstructions,
  and the codes coloured by digit, drawn with ``fig.add_subplot(projection="3d")`` and ``scatter``
  (the tutorial's ``Axes3D(fig)`` draws an empty plot on current matplotlib);
- no ``Variable``; the tutorial's hand-scaled ``train_data.train_data / 255.`` comes from the dataset.
"""

from zoo_core import hookimpl


@hookimpl
def register_models(registry):
    registry.add(
        "autoencoder",
        factory="zoo_plugins.autoencoder.lesson:AutoEncoder",
        summary="784-128-64-12-3 tanh encoder, mirrored sigmoid decoder, trained to rebuild MNIST",
        lesson="404 autoencoder",
        tags=["autoencoder", "unsupervised", "mlp", "images", "mnist"],
        defaults={"hidden": [128, 64, 12], "code_size": 3, "activation": "tanh", "n_inputs": 784},
        dataset="mnist",
        optimizer="adam",
        trainer="autoencoder",
        recipe={"lr": 0.005, "epochs": 10, "batch_size": 64},
        predictor="zoo_plugins.autoencoder.predict:Reconstruction",
        # measured 0.0458-0.0494 on the 8,000-digit split (seeds 0-2, default and avx2)
        expects={"eval_loss": ("<=", 0.06)},
    )


@hookimpl
def register_trainers(registry):
    registry.add(
        "autoencoder",
        factory="zoo_plugins.autoencoder.lesson:AutoEncoderTrainer",
        summary="Reconstruction step (target = input, MSE); figures of reconstructions and codes",
        lesson="404 autoencoder",
        tags=["autoencoder", "unsupervised"],
        defaults={"eval_batch_size": 1000, "n_show": 10, "n_codes": 1000},
    )
