"""torchvision's classifiers wrapped to fit the data: channels, classes, small images, pretrained weights."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core import ZooError
from zoo_plugins.vision.index import read, smallest_input

#: torchvision's ImageNet statistics, used when an architecture's weights give none
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
FREEZE = ("none", "backbone")
#: state-dict prefixes of the auxiliary classifiers GoogLeNet and Inception v3 train with: not kept
AUX = ("aux1.", "aux2.", "AuxLogits.")


def facts(arch: str) -> dict[str, Any]:
    """The index's row for ``arch``, or the live facts when the index does not have it."""
    for row in read()["models"]:
        if row["name"] == arch:
            return row
    from zoo_plugins.vision.index import describe

    return describe(arch)


def weights_file(row: dict[str, Any]) -> Path:
    """Where torch keeps a downloaded weights file: ``$TORCH_HOME/hub/checkpoints/FILE``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / row["file"]


def fetch_weights(row: dict[str, Any]) -> Path:
    """The weights file in torch's cache; downloaded there when it is missing and the network answers."""
    path = weights_file(row)
    if path.is_file():
        return path
    if os.environ.get("ZOO_OFFLINE", "").lower() not in ("1", "true", "yes", "on"):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(row["url"], str(path), progress=False)
            return path
        except Exception:  # offline, a proxy, a full disk: the one line below says what to do
            path.unlink(missing_ok=True)
    raise ZooError(
        f"{row['name']}: pretrained weights {row['file']} are not in {path.parent} and could not be "
        f"downloaded; fetch {row['url']} and put it there (or set TORCH_HOME), or train with pretrained=false"
    )


def read_weights(path: Path, expected: dict[str, torch.Size], skip: set[str]) -> dict[str, torch.Tensor]:
    """A torchvision weights file read without unpickling code, checked key by key against the model."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ZooError(f"{path}: not a torchvision weights file ({type(exc).__name__}); delete it") from exc
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ZooError(f"{path}: not a state dict of tensors; delete it to download it again")
    state = {k: v for k, v in state.items() if not k.startswith(AUX)}
    missing = sorted(set(expected) - set(state) - skip)
    wrong = sorted(
        k for k in set(expected) & set(state) - skip if tuple(state[k].shape) != tuple(expected[k])
    )
    extra = sorted(set(state) - set(expected))
    if missing or wrong or extra:
        what = "; ".join(
            f"{label} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
            for label, keys in (("missing", missing), ("wrong shape", wrong), ("unexpected", extra))
            if keys
        )
        raise ZooError(f"{path}: does not hold this architecture's weights ({what}); delete it")
    return {k: v for k, v in state.items() if k not in skip}


def set_bn_momentum(net: nn.Module, momentum: float) -> None:
    """Batch norms' running-statistics momentum, PyTorch's 0.1 unless set: torchvision's slower ones fit ImageNet-long runs.

    MobileNetV3, EfficientNet and MaxViT (0.01) and MNASNet (0.0003) keep their reference recipes'
    slow averages, which after one short epoch still hold their initial values, so evaluation sees
    chance accuracy; ``--set bn_momentum=0.01`` gives one of them its own back.
    """
    if not 0.0 < momentum <= 1.0:
        raise ZooError(f"bn_momentum={momentum!r}: give a number in (0, 1] (PyTorch's default is 0.1)")
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = momentum


def head_of(net: nn.Module) -> tuple[str, nn.Module]:
    """The classifier's last layer: in every torchvision classifier, the last module with weights."""
    last = ("", net)
    for name, module in net.named_modules():
        if any(True for _ in module.parameters(recurse=False)):
            last = (name, module)
    return last


class VisionClassifier(nn.Module):
    """A torchvision classifier behind the steps a hand loop does around it: channels, size, normalization.

    Images come in as floats in [0, 1], ``in_channels`` deep. Grey images are repeated to the three
    channels the architecture (and its pretrained stem) expects, other depths go through a learned
    1x1 convolution; images smaller than the architecture's smallest input (its weights'
    ``min_size``: pooling and fixed-size patch grids need that many pixels; a transformer trained
    from scratch is built for the data instead, see ``index.smallest_input``) are resized up to
    it, and a ViT's to exactly its size; then they are
    normalized with the weights' mean and standard deviation, so ``zoo predict`` and ``zoo export``
    see exactly what training saw.
    """

    def __init__(
        self,
        arch: str,
        n_classes: int = 1000,
        in_channels: int = 3,
        image_size: int = 224,
        classes: list[str] | tuple[str, ...] = (),
        pretrained: bool = False,
        freeze: str = "none",
        channels_last: bool = False,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        if freeze not in FREEZE:
            raise ZooError(f"freeze={freeze!r}: choose one of {', '.join(FREEZE)}")
        if n_classes < 1 or in_channels < 1 or image_size < 1:
            raise ZooError(
                f"{arch}: n_classes, in_channels and image_size must be 1 or more, got "
                f"{n_classes}, {in_channels}, {image_size}"
            )
        if classes and len(classes) != n_classes:
            raise ZooError(f"{arch}: {len(classes)} class names for {n_classes} classes")
        from torchvision import models

        self.arch, self.row = arch, facts(arch)
        self.n_classes, self.in_channels, self.image_size = n_classes, in_channels, image_size
        self.classes = list(classes)
        self.min_size = smallest_input(self.row, image_size, pretrained)
        #: a ViT takes one size only (its position embeddings are for one grid of patches)
        self.exact = self.row["family"] == "vit"
        self.channels_last = channels_last
        kwargs: dict[str, Any] = {"num_classes": n_classes}
        if self.row["family"] in ("googlenet", "inception"):
            # no auxiliary heads (their outputs are a tuple); the Google-trained weights expect
            # torchvision's transform_input, the scaling they were trained with, from normalized input
            kwargs.update(aux_logits=False, init_weights=not pretrained, transform_input=pretrained)
        if self.row["family"] == "vit":
            kwargs["image_size"] = self.min_size  # vit_h_14's weights are for 518 pixels
        self.net = models.get_model(arch, weights=None, **kwargs)
        set_bn_momentum(self.net, bn_momentum)
        self.adapt = nn.Conv2d(in_channels, 3, 1) if in_channels not in (1, 3) else None
        self.register_buffer(
            "mean", torch.tensor(self.row.get("mean", MEAN)).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("std", torch.tensor(self.row.get("std", STD)).view(1, 3, 1, 1), persistent=False)
        self.head_name, head = head_of(self.net)
        if freeze == "backbone":
            for p in self.net.parameters():
                p.requires_grad_(False)
            for p in head.parameters():
                p.requires_grad_(True)
        if channels_last:
            self.to(memory_format=torch.channels_last)
        #: torchvision's weights are loaded on first use, unless saved weights are loaded over them first
        self.pending = bool(pretrained)
        self.register_load_state_dict_post_hook(_loaded)

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        """Weights from safetensors carry no module versions; MNASNet refuses those, so give this code's."""
        if getattr(state_dict, "_metadata", None) is None:
            state_dict = OrderedDict(state_dict)
            state_dict._metadata = self.state_dict()._metadata  # type: ignore[attr-defined]
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def load_pretrained(self) -> None:
        """Copy torchvision's default weights in (the head too when the class counts agree)."""
        self.pending = False
        if not self.row.get("file"):
            raise ZooError(
                f"{self.arch}: torchvision has no pretrained weights for it; train with pretrained=false"
            )
        expected = {k: v.shape for k, v in self.net.state_dict().items()}
        skip = set()
        if self.n_classes != self.row.get("categories", 1000):
            skip = {
                f"{self.head_name}.{k}" for k in dict(self.net.get_submodule(self.head_name).state_dict())
            }
        state = read_weights(fetch_weights(self.row), expected, skip)
        own = self.net.state_dict()
        with torch.no_grad():
            for key, value in state.items():
                own[key].copy_(value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pending:
            self.load_pretrained()
        if self.adapt is not None:
            x = self.adapt(x)
        elif x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.exact and tuple(x.shape[-2:]) != (self.min_size, self.min_size):
            x = F.interpolate(x, size=(self.min_size, self.min_size), mode="bilinear", align_corners=False)
        elif min(x.shape[-2:]) < self.min_size:
            scale = self.min_size / min(x.shape[-2:])
            size = (
                max(self.min_size, round(x.shape[-2] * scale)),
                max(self.min_size, round(x.shape[-1] * scale)),
            )
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        x = (x - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)


def _loaded(module: VisionClassifier, keys: Any) -> None:
    """Saved weights loaded (a run reopened, a checkpoint resumed): torchvision's are not needed."""
    module.pending = False


def __getattr__(name: str) -> Any:
    """Each entry's factory: ``VisionClassifier`` bound to the architecture of the same name."""
    if name.startswith("_") or not any(row["name"] == name for row in read()["models"]):
        from torchvision import models

        if name not in models.list_models(module=models):
            raise AttributeError(name)

    def factory(**settings: Any) -> VisionClassifier:
        return VisionClassifier(name, **settings)

    factory.__name__ = factory.__qualname__ = name
    return factory
