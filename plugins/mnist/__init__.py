"""MNIST handwritten digits as a dataset, shared by the digit lessons (401 CNN, 402 RNN, 404 autoencoder).

The tutorial loads MNIST with torchvision and a ``ToTensor`` transform per sample. Here:
- the raw tensors are read once (torchvision's ``MNIST.data``/``.targets``) and scaled to [0, 1] as one
  float tensor of shape (N, 1, 28, 28), so batches are slices, not per-sample transforms;
- the data folder is ``--data-root`` (or ``ZOO_DATA_ROOT``, else ``~/.cache/zoo/data``), not ``./mnist/``;
- the download is attempted only when the files are missing, and a failed download says where the
  four files go instead of printing a traceback;
- the evaluation split is the first ``eval_size`` (2,000) test images, as the tutorial's ``test_x``;
  ``train_size`` cuts the training set for quick runs.
It also provides the ``mnist-classifier`` trainer (the plain supervised step plus a figure of test
digits with their predicted labels) that the CNN and RNN lessons train with.

It is a data plugin of its own, not part of ``standard``: only the digit lessons need it, it is the
one plugin that downloads data and reads torchvision's files, and blocking it
(``ZOO_BLOCK_PLUGINS=mnist``) should cost those lessons alone. Like ``standard``, the digit lessons
may depend on it; no other plugin does.
"""

from zoo_core import hookimpl


@hookimpl
def register_datasets(registry):
    registry.add(
        "mnist",
        factory="zoo_plugins.mnist.data:mnist",
        summary="MNIST handwritten digits, 1x28x28 in [0, 1]; eval = first 2,000 test images",
        lesson="401 CNN",
        tags=["images", "classification", "download"],
        defaults={"train_size": None, "eval_size": 2000, "download": True},
    )


@hookimpl
def register_trainers(registry):
    registry.add(
        "mnist-classifier",
        factory="zoo_plugins.mnist.trainer:DigitClassifier",
        summary="Supervised cross-entropy step plus a figure of test digits with their predictions",
        lesson="401 CNN",
        tags=["supervised", "classification", "images"],
        defaults={"loss": "cross_entropy", "eval_batch_size": 1000, "n_show": 20},
    )
