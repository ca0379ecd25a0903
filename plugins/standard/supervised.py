"""Forward and loss, the part of the classic loop that differs; the shared loop does backward and step."""

from __future__ import annotations

import torch
from torch import nn

from zoo_core import Trainer

#: loss name -> (criterion class, short metric name); the one table every standard trainer reads
LOSSES: dict[str, tuple[type[nn.Module], str]] = {
    "mse": (nn.MSELoss, "mse"),
    "l1": (nn.L1Loss, "mae"),
    "cross_entropy": (nn.CrossEntropyLoss, "ce"),
}


class Supervised(Trainer):
    """``loss = criterion(model(x), y)``; reports the loss, and accuracy for classifiers."""

    capturable = True

    def __init__(self, loss: str = "mse", eval_batch_size: int = 1000) -> None:
        if loss not in LOSSES:
            from zoo_core import ZooError

            raise ZooError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
        self.loss_name = loss
        self.criterion = LOSSES[loss][0]()
        self.eval_batch_size = eval_batch_size

    def loss(self, model, batch):
        x, y = batch
        return {"loss": self.criterion(*self.pairs(model(x), y))}

    def pairs(self, out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs and targets as the criterion takes them: a sequence's (B, T, C) scores with (B, T)
        targets become (B*T, C) and (B*T,) for ``cross_entropy`` (classes last, as a model writes them);
        torch's own (B, C, d...) with (B, d...) pass as they are; other shapes are one line."""
        if self.loss_name != "cross_entropy" or out.dim() < 3:
            return out, y
        if tuple(out.shape[:-1]) == tuple(y.shape):
            return out.reshape(-1, out.shape[-1]), y.reshape(-1)
        if (out.shape[0], *out.shape[2:]) == tuple(y.shape):
            return out, y
        from zoo_core import ZooError

        raise ZooError(
            f"cross_entropy: outputs of shape {tuple(out.shape)} (classes last) need targets of shape "
            f"{tuple(out.shape[:-1])}, got {tuple(y.shape)}"
        )

    @torch.no_grad()
    def predict(self, model, data, device):
        """Model outputs and targets over a whole split, in evaluation batches."""
        model.eval()
        outputs, targets = [], []
        tensors = getattr(data, "tensors", None)
        n = len(data)
        for start in range(0, n, self.eval_batch_size):
            if tensors is not None:
                x, y = (t[start : start + self.eval_batch_size] for t in tensors)
            else:
                samples = [data[i] for i in range(start, min(n, start + self.eval_batch_size))]
                x = torch.stack([torch.as_tensor(s[0]) for s in samples])
                y = (
                    torch.as_tensor([s[1] for s in samples])
                    if not torch.is_tensor(samples[0][1])
                    else torch.stack([s[1] for s in samples])
                )
            outputs.append(model(x.to(device)).cpu())
            targets.append(y)
        model.train()
        return torch.cat(outputs), torch.cat(targets)

    def evaluate(self, model, data, device):
        out, y = self.pairs(*self.predict(model, data.evaluation, device))
        metrics = {"eval_loss": float(self.criterion(out, y))}
        if self.loss_name == "cross_entropy":
            metrics["accuracy"] = float((out.argmax(1) == y).float().mean())
        return metrics
