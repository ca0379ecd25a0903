"""What ``zoo predict`` does with the digit models: PNG images (or tensor files) in, digits out.

Any image is read as MNIST expects it: grey, 28x28, a light digit on a dark background (an image
whose border is light, a dark digit on paper, is inverted), pixels in [0, 1].
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo_core import TENSOR_SUFFIXES, PredictOptions, Predictor, ZooError, read_tensor, table

SIDE = 28
MAX_PIXELS = 25_000_000  # a 5000x5000 image: any photo of a digit, far from a decompression bomb
MAX_PIXELS_VARIABLE = "ZOO_MAX_IMAGE_PIXELS"


def max_pixels() -> int:
    """The largest image ``zoo predict`` reads: ``$ZOO_MAX_IMAGE_PIXELS`` or 25 million pixels."""
    text = os.environ.get(MAX_PIXELS_VARIABLE, "").strip()
    if not text:
        return MAX_PIXELS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ZooError(f"{MAX_PIXELS_VARIABLE}={text!r}: expected a positive whole number of pixels")
    return value


def read_image(arg: str) -> torch.Tensor:
    """One image file as a (1, 28, 28) float tensor in [0, 1], a light digit on a dark background."""
    from PIL import Image, UnidentifiedImageError

    path = Path(arg)
    if not path.is_file():
        raise ZooError(f"{arg}: no such file")
    limit = max_pixels()
    try:
        with warnings.catch_warnings():  # zoo's own limit below says it in one line
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            width, height = img.size
            if width * height > limit:
                raise ZooError(
                    f"{arg}: {width}x{height} is {width * height:,} pixels, over the limit of {limit:,}; "
                    f"shrink it, or raise the limit with {MAX_PIXELS_VARIABLE}=N"
                )
            grey = img.convert("L")
            if grey.size != (SIDE, SIDE):
                grey = grey.resize((SIDE, SIDE), Image.Resampling.LANCZOS)
            pixels = torch.frombuffer(bytearray(grey.tobytes()), dtype=torch.uint8)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        # ValueError: a text chunk that decompresses past PIL's limit, and other malformed chunks
        raise ZooError(
            f"{arg}: not an image (expected a PNG of a digit, or {', '.join(TENSOR_SUFFIXES)})"
        ) from exc
    image = pixels.reshape(1, SIDE, SIDE).float() / 255
    border = torch.cat((image[0, 0], image[0, -1], image[0, :, 0], image[0, :, -1]))
    return 1 - image if float(border.mean()) > 0.5 else image


def digits_from_tensor(arg: str) -> torch.Tensor:
    """A tensor file of digits as (N, 1, 28, 28) in [0, 1]: (28, 28), (N, 28, 28) or (N, 1, 28, 28)."""
    t = read_tensor(arg)
    shape = tuple(t.shape)
    if shape[-2:] != (SIDE, SIDE) or t.dim() > 4 or (t.dim() == 4 and shape[1] != 1):
        raise ZooError(
            f"{arg}: expected digits of shape (28, 28), (N, 28, 28) or (N, 1, 28, 28), got {shape}"
        )
    if not t.is_floating_point():
        if int(t.min()) < 0 or int(t.max()) > 255:
            raise ZooError(
                f"{arg}: expected whole-number pixels in 0..255, got {int(t.min())}..{int(t.max())}"
            )
        t = t.float() / 255
    elif float(t.min()) < 0 or float(t.max()) > 1:
        raise ZooError(f"{arg}: expected pixels in [0, 1], got {float(t.min()):.4g}..{float(t.max()):.4g}")
    return t.reshape(-1, 1, SIDE, SIDE)


def read_digits(args: list[str]) -> tuple[list[str], torch.Tensor]:
    """Names and (N, 1, 28, 28) pixels of the inputs: images, or tensor files of one or more digits."""
    if not args:
        raise ZooError(
            f"give one or more digit images (PNG, any size) or tensor files ({', '.join(TENSOR_SUFFIXES)})"
        )
    names, images = [], []
    for arg in args:
        if Path(arg).suffix in TENSOR_SUFFIXES:
            batch = digits_from_tensor(arg)
            names += [arg] if len(batch) == 1 else [f"{arg}[{i}]" for i in range(len(batch))]
            images.append(batch)
        else:
            names.append(arg)
            images.append(read_image(arg).unsqueeze(0))
    return names, torch.cat(images)


def ranked(inputs: Sequence[str], scores: torch.Tensor, top_k: int, label: Any) -> list[dict[str, Any]]:
    """Each input's likeliest class (``label(index)`` names it) and its ``top_k``, with probabilities:
    the records every image classifier's ``zoo predict`` prints (shared with the vision plugin)."""
    probs = scores.float().softmax(-1)
    top_p, top_c = probs.topk(min(top_k, probs.shape[1]), dim=1)
    return [
        {
            "input": name,
            "class": label(int(c[0])),
            "probability": round(float(p[0]), 6),
            "top": [
                {"class": label(int(ci)), "probability": round(float(pi), 6)}
                for ci, pi in zip(c, p, strict=True)
            ],
        }
        for name, p, c in zip(inputs, top_p, top_c, strict=True)
    ]


def ranked_table(records: list[dict[str, Any]], column: str) -> str:
    """:func:`ranked`'s records as a text table; ``column`` heads the predicted class."""
    rows = [
        [
            r["input"],
            r["class"],
            f"{r['probability']:.4f}",
            "  ".join(f"{t['class']}: {t['probability']:.4f}" for t in r["top"]),
        ]
        for r in records
    ]
    return table(rows, ["INPUT", column, "P", "TOP"])


class Digits(Predictor):
    """MNIST classifiers: each INPUT is a digit image; the answer is the digit and its probability."""

    inputs = (
        "digit images (PNG or any format Pillow reads, resized to 28x28) or .npy/.safetensors/.json tensors"
    )

    def read(self, model: nn.Module, args: list[str]) -> tuple[torch.Tensor, ...]:
        self.names, images = read_digits(list(args))
        return (images,)

    def show(
        self, args: Sequence[str], batch: tuple[torch.Tensor, ...], outputs: Any, options: PredictOptions
    ) -> list[dict[str, Any]]:
        return ranked(self.names, outputs, options.top_k, int)

    def text(self, records: list[dict[str, Any]]) -> str:
        return ranked_table(records, "DIGIT")

    def example(self, model: nn.Module) -> tuple[torch.Tensor, ...]:
        return (torch.rand(4, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(0)),)
