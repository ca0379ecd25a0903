"""The digit classifiers' trainer: the shared supervised step, plus a figure of predictions."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from zoo_plugins.mnist.figures import digit_grid
from zoo_plugins.standard.supervised import Supervised


class DigitClassifier(Supervised):
    """Cross-entropy on digits (step unchanged); ``figures`` shows the first ``n_show`` test digits."""

    def __init__(self, loss: str = "cross_entropy", eval_batch_size: int = 1000, n_show: int = 20) -> None:
        super().__init__(loss=loss, eval_batch_size=eval_batch_size)
        self.n_show = n_show

    def figures(self, model, data, device, history, run_dir):
        split = data.evaluation
        if self.n_show <= 0 or len(split) == 0:
            return []
        n = min(self.n_show, len(split))
        shown = [split[i] for i in range(n)]
        images = torch.stack([s[0] for s in shown])
        labels = torch.as_tensor([int(s[1]) for s in shown])
        subset = TensorDataset(images, labels)
        out, _ = self.predict(model, subset, device)
        predictions = out.argmax(1)
        correct = int((predictions == labels).sum())
        title = f"{type(model).__name__}: predicted labels of {n} test digits ({correct}/{n} right)"
        return [digit_grid(images, labels, predictions, run_dir / "predictions.png", title=title)]
