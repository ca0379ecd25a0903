"""The image classifiers' trainer: the shared supervised step, with the first batch checked."""

from __future__ import annotations

from zoo_core import ZooError
from zoo_plugins.standard.supervised import Supervised


class ImageClassifier(Supervised):
    """Cross-entropy on images; before step 1, images and labels the model cannot take are one line."""

    def __init__(self, loss: str = "cross_entropy", eval_batch_size: int = 256) -> None:
        super().__init__(loss=loss, eval_batch_size=eval_batch_size)

    def check(self, model, batch):
        """Refuse a depth or class count that disagrees with the model, then fetch pretrained weights."""
        x, y = batch
        channels = getattr(model, "in_channels", None)
        if channels is not None and (x.dim() != 4 or x.shape[1] != channels):
            raise ZooError(
                f"images of shape {tuple(x.shape[1:])} for a model built for {channels} channels; "
                "leave in_channels to the data"
            )
        n_classes = getattr(model, "n_classes", None)
        if n_classes is not None and len(y) and int(y.max()) >= n_classes:
            raise ZooError(
                f"label {int(y.max())} for a model of {n_classes} classes; leave n_classes to the data"
            )
        if getattr(model, "pending", False):
            model.load_pretrained()  # before anything is written: a missing file is one line now
