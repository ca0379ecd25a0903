"""The image datasets: Fashion-MNIST, CIFAR-10 and a folder of the user's own images.

Each returns a ``Splits`` whose ``implies`` size the model: ``n_classes``, ``in_channels``,
``image_size`` and the ``classes``' names (which ``zoo predict`` prints). Data that fit in memory
become float tensors in [0, 1] once, so the loop slices batches (its fast path); augmentation
(``augment=true``: torchvision.transforms.v2's random crop and flip) and folders too large to hold
are datasets the loop reads through a DataLoader with ``--workers``.
"""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from zoo_core import Splits, ZooError
from zoo_plugins.mnist.data import resolve_root

#: a folder decoded whole into memory up to this many bytes of float pixels; above, read per batch
IN_MEMORY_BYTES = 2 * 1024**3
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class Augmented(Dataset):
    """In-memory images with torchvision.transforms.v2's random crop (padded) and horizontal flip."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, padding: int) -> None:
        from torchvision.transforms import v2

        self.images, self.labels = images, labels
        side = images.shape[-2:]
        self.transform = v2.Compose([v2.RandomCrop(side, padding=padding), v2.RandomHorizontalFlip()])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(self.images[i]), self.labels[i]


def splits(
    train: tuple[torch.Tensor, torch.Tensor],
    held_out: tuple[torch.Tensor, torch.Tensor] | None,
    classes: list[str],
    augment: bool,
    **info: Any,
) -> Splits:
    """Float images in [0, 1] (N, C, H, W) as Splits, implying the model's size and class names."""
    images, labels = train
    channels, height, width = images.shape[1:]
    train_set: Dataset = (
        Augmented(images, labels, padding=max(1, height // 8)) if augment else TensorDataset(images, labels)
    )
    return Splits(
        train=train_set,
        eval=None if held_out is None else TensorDataset(*held_out),
        info={"classes": classes, "input_shape": (channels, height, width), "n_train": len(labels), **info},
        implies={
            "n_classes": len(classes),
            "in_channels": int(channels),
            "image_size": int(min(height, width)),
            "classes": classes,
        },
    )


def cut(images: torch.Tensor, labels: torch.Tensor, size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``size`` samples (all when None)."""
    if size is not None and size <= 0:
        raise ZooError(f"a subset size must be positive, got {size}")
    return images[:size], labels[:size]


def fashion_mnist(
    train_size: int | None = None,
    eval_size: int | None = 2000,
    augment: bool = False,
    download: bool = True,
    data_root: str | None = None,
) -> Splits:
    """Fashion-MNIST (Zalando): 28x28 grey clothes in 10 classes, torchvision's files and layout."""
    from torchvision.datasets import FashionMNIST

    root = resolve_root(data_root)
    raw = root / "FashionMNIST" / "raw"
    out = {}
    for train in (True, False):
        try:
            ds = FashionMNIST(str(root), train=train, download=download)
        except Exception as exc:  # missing files offline, damaged files
            raise ZooError(
                f"Fashion-MNIST not found in {raw} ({str(exc).splitlines()[-1] if str(exc) else type(exc).__name__}): "
                "put train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
                "t10k-labels-idx1-ubyte there, or point zoo at their root with --data-root DIR"
            ) from exc
        out[train] = (ds.data.unsqueeze(1).float().div_(255), ds.targets.long())
    return splits(
        cut(*out[True], train_size), cut(*out[False], eval_size), list(FashionMNIST.classes), augment
    )


class _Arrays(pickle.Unpickler):
    """CIFAR-10's batches are pickles: read them allowing numpy arrays and nothing else to be built."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 spell bytes
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused {module}.{name}")


def _cifar_batch(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            entry = _Arrays(f, encoding="latin1").load()
        data = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(entry.get("labels", entry.get("fine_labels")), dtype=np.int64)
    except Exception as exc:
        raise ZooError(f"{path}: not a CIFAR-10 batch ({type(exc).__name__}: {exc}); delete it") from exc
    if len(data) != len(labels):
        raise ZooError(f"{path}: {len(data)} images but {len(labels)} labels")
    return {"data": data, "labels": labels}


def cifar10(
    train_size: int | None = None,
    eval_size: int | None = None,
    augment: bool = False,
    download: bool = True,
    data_root: str | None = None,
) -> Splits:
    """CIFAR-10 (Krizhevsky): 32x32 colour images in 10 classes, torchvision's python batches."""
    root = resolve_root(data_root)
    folder = root / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing and download:
        from torchvision.datasets import CIFAR10

        try:
            CIFAR10(str(root), train=True, download=True)
        except Exception:  # offline: the line below says where the files go
            pass
        missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise ZooError(
            f"CIFAR-10 not found in {folder} (missing {', '.join(missing)}): unpack cifar-10-python.tar.gz "
            "there, or point zoo at the folder holding cifar-10-batches-py/ with --data-root DIR"
        )
    batches = [_cifar_batch(folder / n) for n in names[:5]]
    test = _cifar_batch(folder / "test_batch")
    try:
        with open(folder / "batches.meta", "rb") as f:
            classes = [str(c) for c in _Arrays(f, encoding="latin1").load()["label_names"]]
    except Exception as exc:
        raise ZooError(f"{folder / 'batches.meta'}: unreadable ({exc}); delete it") from exc

    def tensors(data: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(data).float().div_(255), torch.from_numpy(labels)

    train = tensors(
        np.concatenate([b["data"] for b in batches]), np.concatenate([b["labels"] for b in batches])
    )
    return splits(
        cut(*train, train_size), cut(*tensors(test["data"], test["labels"]), eval_size), classes, augment
    )


def _images(folder: Path) -> list[tuple[Path, str]]:
    """(file, class) for every image in one sub-folder per class, sorted."""
    return [
        (path, cls.name)
        for cls in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        for path in sorted(cls.rglob("*"))
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    ]


class Files(Dataset):
    """Images read from disk when asked for (folders too large for memory), as ``size`` squares."""

    def __init__(self, items: list[tuple[Path, int]], size: int, grey: bool, augment: bool) -> None:
        from torchvision.transforms import v2

        self.items = items
        steps: list[Any] = [v2.Resize(size, antialias=True), v2.CenterCrop(size)]
        if augment:
            steps += [v2.RandomCrop(size, padding=max(1, size // 8)), v2.RandomHorizontalFlip()]
        self.transform = v2.Compose(steps)
        self.mode = "L" if grey else "RGB"

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path, label = self.items[i]
        return self.transform(load_image(path, self.mode)), label


def load_image(path: Path, mode: str = "RGB") -> torch.Tensor:
    """One image file as floats (C, H, W) in [0, 1]; anything Pillow cannot read is one line."""
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms.v2 import functional as TF

    try:
        with Image.open(path) as img:
            image = img.convert(mode)
            image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ZooError(f"{path}: not an image Pillow can read ({type(exc).__name__})") from exc
    return TF.to_dtype(TF.pil_to_tensor(image), torch.float32, scale=True)


def image_folder(
    root: str = "",
    size: int = 64,
    val_fraction: float = 0.2,
    grey: bool = False,
    augment: bool = False,
    seed: int = 0,
) -> Splits:
    """torchvision's ImageFolder layout: ROOT/CLASS/IMAGE, or ROOT/train/CLASS/... and ROOT/val/CLASS/..."""
    if not root:
        raise ZooError("image-folder needs its folder: --set root=DIR (one sub-folder of images per class)")
    base = Path(root).expanduser()
    if not base.is_dir():
        raise ZooError(f"image-folder: {base} is not a folder; --set root=DIR, one sub-folder per class")
    if size < 8:
        raise ZooError(f"image-folder: size={size} is too small; give 8 pixels or more")
    if (base / "train").is_dir() and (base / "val").is_dir():
        train, held = _images(base / "train"), _images(base / "val")
        layout = "train/ and val/"
    else:
        if not 0 <= val_fraction < 1:
            raise ZooError(f"image-folder: val_fraction={val_fraction} must be in [0, 1)")
        found = _images(base)
        random.Random(seed).shuffle(found)
        n_val = int(round(len(found) * val_fraction))
        held, train = found[:n_val], found[n_val:]
        layout = f"{val_fraction:g} of the images held out (seed {seed})"
    classes = sorted({c for _, c in train})
    if len(classes) < 2 or not train:
        raise ZooError(
            f"image-folder: {base} needs two or more sub-folders of images (one per class); found {len(classes)}"
        )
    unknown = sorted({c for _, c in held} - set(classes))
    if unknown:
        raise ZooError(f"image-folder: classes {', '.join(unknown)} are in val/ but not in train/")
    index = {c: i for i, c in enumerate(classes)}
    train_items = [(p, index[c]) for p, c in train]
    held_items = [(p, index[c]) for p, c in held]
    channels = 1 if grey else 3
    if (len(train_items) + len(held_items)) * channels * size * size * 4 > IN_MEMORY_BYTES:
        return Splits(
            train=Files(train_items, size, grey, augment),
            eval=Files(held_items, size, grey, False) if held_items else None,
            info={"classes": classes, "root": str(base), "layout": layout, "in_memory": False},
            implies={
                "n_classes": len(classes),
                "in_channels": channels,
                "image_size": size,
                "classes": classes,
            },
        )
    reader = Files([], size, grey, False)

    def decode(items: list[tuple[Path, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.stack([reader.transform(load_image(p, reader.mode)) for p, _ in items])
        return images, torch.tensor([label for _, label in items])

    return splits(
        decode(train_items),
        decode(held_items) if held_items else None,
        classes,
        augment,
        root=str(base),
        layout=layout,
        in_memory=True,
    )
