"""The facts ``zoo list`` and ``zoo info`` show about torchvision's classifiers, kept as ``index.json``.

Listing 80 architectures must not import torch, so their names, parameter counts, input sizes and
torchvision's own ImageNet accuracies (from each default weights' ``meta``) are read once from the
installed torchvision and written beside this module:

    python -m zoo_plugins.vision.index            # rewrite index.json from the installed torchvision
    python -m zoo_plugins.vision.index --check    # exit 1 when index.json differs from it

``load()`` returns the index when it was made from the installed torchvision's version (compared
through package metadata, without importing it); with another version it lists live, which imports
torchvision (slower, still correct), and says once how to regenerate the file.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

INDEX = Path(__file__).with_name("index.json")
REGENERATE = "python -m zoo_plugins.vision.index"
#: family prefixes, longest first, so resnext and wide_resnet are not taken for resnet
FAMILIES = (
    "wide_resnet",
    "resnext",
    "resnet",
    "mobilenet_v2",
    "mobilenet_v3",
    "efficientnet_v2",
    "efficientnet",
    "convnext",
    "regnet",
    "densenet",
    "shufflenet",
    "squeezenet",
    "mnasnet",
    "googlenet",
    "inception",
    "vgg",
    "alexnet",
    "vit",
    "swin",
    "maxvit",
)
_said: list[str] = []


def family(name: str, module: str = "") -> str:
    """The family an architecture belongs to: a known prefix of its name, else its torchvision module."""
    for prefix in FAMILIES:
        if name.startswith(prefix):
            return prefix
    return module.rpartition(".")[2] or name


def smallest_by_family(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Each family's member with the fewest parameters: the one ``zoo check vision`` builds and trains."""
    best: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["name"]):
        held = best.get(row["family"])
        if held is None or row.get("params", 0) < held.get("params", 0):
            best[row["family"]] = row
    return {fam: row["name"] for fam, row in best.items()}


#: Swin trained from scratch takes images of this size and up: 32 px is 8x8 patches of 4 px, which
#: its three 2x merges take to 1x1 without padding (its 224 px is its weights' size, not a limit)
SWIN_FROM_SCRATCH = 32


def smallest_input(row: dict[str, Any], image_size: int, pretrained: bool) -> int:
    """The size, in pixels, under which an image is resized up before this architecture sees it.

    It is the weights' ``min_size``, except for transformers trained from scratch, which are built
    for the data: a ViT at the image size rounded up to whole patches (its position embeddings are
    made for one grid, so every image is resized to exactly that), a Swin at 32 pixels and up. ViT-B/16 on
    MNIST then sees 32 px, not 224: 4 patches instead of 196, about 14 times faster a step.
    """
    rule = None if pretrained else scratch_rule(row)
    if rule is None:
        return int(row.get("min_size", 1))
    kind, pixels = rule
    return -(-max(image_size, 1) // pixels) * pixels if kind == "patches" else pixels


def scratch_rule(row: dict[str, Any]) -> tuple[str, int] | None:
    """How an architecture trained from scratch leaves its weights' size: ``("patches", 16)`` for a
    ViT (the image size in whole 16-px patches), ``("from", 32)`` for a Swin; None for the rest."""
    if row["family"] == "vit" and (patch := vit_patch(row["name"])):
        return ("patches", patch)
    if row["family"] == "swin":
        return ("from", SWIN_FROM_SCRATCH)
    return None


def vit_patch(name: str) -> int | None:
    """A ViT's patch size from torchvision's name for it (``vit_b_16``: 16), None when it gives none."""
    last = name.rpartition("_")[2]
    return int(last) if last.isdigit() and int(last) > 0 else None


def installed_version() -> str | None:
    """torchvision's version from its package metadata (no import), or None when it is not installed."""
    try:
        return metadata.version("torchvision")
    except metadata.PackageNotFoundError:
        return None


def describe(name: str) -> dict[str, Any]:
    """One architecture's facts, read from torchvision (imports it)."""
    import torch
    from torchvision import models

    builder = models.get_model_builder(name)
    row: dict[str, Any] = {"name": name, "family": family(name, builder.__module__)}
    try:
        weights = models.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError):
        weights = None
    if weights is None:
        with torch.device("meta"):
            net = builder(weights=None)
        row.update(params=sum(p.numel() for p in net.parameters()), weights=None, min_size=32, crop_size=224)
        return row
    meta = weights.meta
    transforms = weights.transforms()
    metrics = meta.get("_metrics", {}).get("ImageNet-1K", {})
    row.update(
        params=int(meta["num_params"]),
        min_size=int(meta.get("min_size", (1, 1))[0]),
        crop_size=int(transforms.crop_size[0]),
        resize_size=int(transforms.resize_size[0]),
        mean=list(transforms.mean),
        std=list(transforms.std),
        weights=str(weights),
        file=weights.url.rsplit("/", 1)[-1],
        url=weights.url,
        categories=len(meta["categories"]),
        acc1=metrics.get("acc@1"),
        acc5=metrics.get("acc@5"),
    )
    return row


def build() -> dict[str, Any]:
    """The whole index from the installed torchvision: every classifier of ``torchvision.models``."""
    import torchvision
    from torchvision import models

    names = models.list_models(module=models)
    return {
        "torchvision": torchvision.__version__.split("+")[0],
        "regenerate": REGENERATE,
        "models": [describe(n) for n in sorted(names)],
    }


def read() -> dict[str, Any]:
    """index.json as written (an empty index when it is missing or unreadable)."""
    try:
        return json.loads(INDEX.read_text())
    except (OSError, ValueError):
        return {"torchvision": None, "models": []}


def load() -> list[dict[str, Any]]:
    """The architectures to register: from index.json when it matches the installed torchvision."""
    index = read()
    version = installed_version()
    if version is None:
        return index["models"]  # registered from the index; building one says to install torchvision
    if index.get("torchvision") == version.split("+")[0]:
        return index["models"]
    if not _said:
        _said.append(version)
        print(
            f"zoo: vision: index.json was made for torchvision {index.get('torchvision')}, this is "
            f"{version}: listing live (slower); regenerate it with '{REGENERATE}'",
            file=sys.stderr,
        )
    return build()["models"]


def main(argv: list[str] | None = None) -> int:
    """Write index.json from the installed torchvision, or with ``--check`` compare it."""
    args = sys.argv[1:] if argv is None else argv
    fresh = build()
    text = json.dumps(fresh, indent=1) + "\n"
    if "--check" in args:
        same = INDEX.is_file() and INDEX.read_text() == text
        print(f"{INDEX}: {'up to date' if same else 'differs from torchvision ' + fresh['torchvision']}")
        return 0 if same else 1
    INDEX.write_text(text)
    print(f"wrote {INDEX}: {len(fresh['models'])} classifiers of torchvision {fresh['torchvision']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
