"""What ``zoo predict`` does with the autoencoder: digit images in, their reconstructions written as PNG."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from zoo_core import PredictOptions, ZooError, atomic_path, table
from zoo_plugins.mnist.predict import SIDE, Digits


def save_png(image: torch.Tensor, path: Path) -> Path:
    """A (28, 28) image in [0, 1] as an 8-bit grey PNG, written atomically."""
    from PIL import Image

    pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    with atomic_path(path) as tmp:
        Image.fromarray(pixels, mode="L").save(tmp, format="PNG")
    return path


NAME_BYTES = 200  # a file name's stem, well under the 255 bytes most file systems allow


def output_name(name: str, used: set[str]) -> str:
    """The reconstruction file of input ``name``: its stem, made unique among ``used`` (two inputs
    ``x/seven.png`` and ``y/seven.png`` get ``seven-`` and ``seven-2-``), short enough for any disk."""
    file, _, index = name.partition("[")  # "digits.npy[3]": the fourth digit of a file
    stem = re.sub(r"[^\w.-]+", "-", Path(file).stem + (f"-{index.rstrip(']')}" if index else ""))
    stem = stem.encode()[:NAME_BYTES].decode(errors="ignore").lstrip(".") or "input"
    candidate, n = stem, 1
    while candidate.casefold() in used:  # casefold: one file on a case-insensitive disk
        n += 1
        candidate = f"{stem}-{n}"
    used.add(candidate.casefold())
    return f"{candidate}-reconstruction.png"


class Reconstruction(Digits):
    """Each INPUT is a digit image; the answer is its 3-number code and its rebuilt image (a PNG)."""

    def show(
        self, args: Sequence[str], batch: tuple[torch.Tensor, ...], outputs: Any, options: PredictOptions
    ) -> list[dict[str, Any]]:
        codes, flat = outputs
        images = flat.reshape(-1, SIDE, SIDE)
        errors = (flat - batch[0].reshape(flat.shape)).pow(2).mean(1)
        out = Path(options.out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ZooError(f"--out {out}: cannot create the folder ({exc.strerror or exc})") from exc
        records = []
        used: set[str] = set()
        for i, name in enumerate(self.names):
            path = save_png(images[i], out / output_name(name, used))
            records.append(
                {
                    "input": name,
                    "reconstruction": str(path),
                    "mse": round(float(errors[i]), 6),
                    "code": [round(float(v), 6) for v in codes[i]],
                }
            )
        return records

    def text(self, records: list[dict[str, Any]]) -> str:
        rows = [
            [r["input"], r["reconstruction"], f"{r['mse']:.4f}", ",".join(f"{v:.3f}" for v in r["code"])]
            for r in records
        ]
        return table(rows, ["INPUT", "RECONSTRUCTION", "MSE", "CODE"])
