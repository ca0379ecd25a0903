"""Load MNIST once into memory as float tensors, from ROOT/MNIST/raw (torchvision's layout)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from zoo_core import Splits, ZooError

FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CLASSES = [str(d) for d in range(10)]


def default_root() -> Path:
    """``$ZOO_DATA_ROOT``, else the per-user cache: ``$XDG_CACHE_HOME`` (or ``~/.cache``) ``/zoo/data``."""
    env = os.environ.get("ZOO_DATA_ROOT")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "zoo" / "data"


def resolve_root(data_root: str | os.PathLike | None = None) -> Path:
    """The data root: the explicit ``data_root`` (``--data-root``), else :func:`default_root`."""
    return Path(data_root).expanduser() if data_root else default_root()


def _missing(raw: Path) -> list[str]:
    return [name for name in FILES if not (raw / name).is_file()]


def _unpack_gz(raw: Path) -> None:
    """Unzip ``NAME.gz`` files a user dropped in beside where ``NAME`` should be.

    A damaged or truncated archive is one error naming it, and leaves nothing half-written behind.
    """
    import gzip
    import shutil
    import zlib

    for name in _missing(raw):
        packed = raw / f"{name}.gz"
        if packed.is_file():
            tmp = raw / f".{name}.tmp"
            try:
                with gzip.open(packed, "rb") as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.replace(tmp, raw / name)
            except (EOFError, OSError, zlib.error) as exc:
                tmp.unlink(missing_ok=True)
                if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) and exc.errno:
                    raise ZooError(f"cannot unpack {packed} ({exc.strerror or exc})") from exc
                why = "it is truncated" if isinstance(exc, EOFError) else f"not a gzip file: {exc}"
                raise ZooError(
                    f"{packed}: damaged archive ({why}); delete it to download MNIST again, or replace it"
                ) from exc


def _download(root: Path, raw: Path) -> None:
    """torchvision's download; when it fails, the files and folders it made are removed again."""
    from torchvision.datasets import MNIST

    made = [p for p in (root, root / "MNIST", raw) if not p.exists()]
    before = set(raw.iterdir()) if raw.is_dir() else set()
    try:
        MNIST(str(root), train=True, download=True)
    except Exception as exc:  # no network, a mirror down, a checksum mismatch, a full disk ...
        if raw.is_dir():
            for leftover in set(raw.iterdir()) - before:
                if leftover.is_file():
                    leftover.unlink()
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: nothing of the user's is ever removed
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = lines[-1] if lines else type(exc).__name__  # torchvision's last line is the cause
        raise _not_found(raw, f"the download failed: {detail}") from exc


def _not_found(raw: Path, why: str) -> ZooError:
    return ZooError(
        f"MNIST not found in {raw} ({why}): put {', '.join(FILES[:-1])} and {FILES[-1]} (or their .gz) "
        "there, or point zoo at a folder holding MNIST/raw/ with --data-root DIR or ZOO_DATA_ROOT=DIR"
    )


def _refuse_too_deep(root: Path) -> None:
    """A data root that is MNIST/ or MNIST/raw/ itself (or holds the files loose) is named, with the
    folder to give instead, rather than downloading a second copy below it."""
    for inner, up in ((root, 2), (root / "raw", 1)):
        if any((inner / name).is_file() or (inner / f"{name}.gz").is_file() for name in FILES):
            right = root.parents[up - 1] if len(root.parents) >= up else None
            if right is not None and inner.name == "raw" and inner.parent.name == "MNIST":
                raise ZooError(
                    f"{root}: the MNIST files' own folder, one level too deep; give the folder that "
                    f"holds MNIST/raw/: --data-root {right}"
                )
            raise ZooError(
                f"{inner}: holds MNIST files, but zoo reads them from ROOT/MNIST/raw/; move them to "
                f"{root / 'MNIST' / 'raw'}"
            )


def load_raw(root: Path, *, download: bool = True) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """uint8 images (N, 28, 28) and int64 labels for ``train`` and ``test``, via torchvision."""
    from torchvision.datasets import MNIST

    raw = root / "MNIST" / "raw"
    if raw.is_dir():
        _unpack_gz(raw)
    if _missing(raw):
        _refuse_too_deep(root)
        if not download:
            raise _not_found(raw, "downloads are off")
        _download(root, raw)
        if _missing(raw):
            raise _not_found(raw, "the download left files missing")
    out = {}
    for split in ("train", "test"):
        try:
            ds = MNIST(str(root), train=split == "train", download=False)
        except Exception as exc:  # torchvision checks the IDX magic numbers and sizes
            raise ZooError(
                f"cannot read the MNIST {split} files in {raw} ({type(exc).__name__}: {exc}); "
                "they may be truncated or not IDX files: delete them to download again"
            ) from exc
        if len(ds.data) != len(ds.targets):
            raise ZooError(
                f"MNIST {split} files in {raw} disagree: {len(ds.data)} images, {len(ds.targets)} labels"
            )
        out[split] = (ds.data, ds.targets.long())
    return out


def to_dataset(images: torch.Tensor, labels: torch.Tensor, size: int | None) -> TensorDataset:
    """The first ``size`` images (all when None) as float (N, 1, 28, 28) in [0, 1], with labels."""
    if size is not None:
        if size <= 0:
            raise ZooError(f"MNIST subset size must be positive, got {size}")
        images, labels = images[:size], labels[:size]
    x = images.unsqueeze(1).to(torch.float32).div_(255.0)
    return TensorDataset(x, labels.clone())


def mnist(
    train_size: int | None = None,
    eval_size: int | None = 2000,
    download: bool = True,
    data_root: str | None = None,
) -> Splits:
    """MNIST train images (the first ``train_size``) and the first ``eval_size`` test images."""
    root = resolve_root(data_root)
    raw = load_raw(root, download=download)
    train = to_dataset(*raw["train"], train_size)
    evaluation = to_dataset(*raw["test"], eval_size)
    return Splits(
        train=train,
        eval=evaluation,
        info={
            "classes": CLASSES,
            "n_classes": 10,
            "input_shape": (1, 28, 28),
            "root": str(root),
            "n_train": len(train),
            "n_eval": len(evaluation),
        },
        # what the digits decide for a model that has such a setting: 10 classes, 28 pixels a row
        # (an LSTM's input_size), 784 pixels an image (the autoencoder's n_inputs), one grey
        # channel of 28x28 pixels and the class names (an image classifier's)
        implies={
            "n_classes": len(CLASSES),
            "input_size": 28,
            "n_inputs": 28 * 28,
            "in_channels": 1,
            "image_size": 28,
            "classes": CLASSES,
        },
    )
