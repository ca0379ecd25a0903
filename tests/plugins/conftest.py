"""Fixtures for the lesson plugins' tests: tiny MNIST files in the real IDX format, never downloaded."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def write_idx_images(path: Path, images: np.ndarray) -> None:
    """IDX3: magic 2051, then count, rows, columns as big-endian int32, then uint8 pixels."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    n, rows, cols = images.shape
    path.write_bytes(struct.pack(">iiii", IMAGE_MAGIC, n, rows, cols) + images.tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    """IDX1: magic 2049, then count as big-endian int32, then uint8 labels."""
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    path.write_bytes(struct.pack(">ii", LABEL_MAGIC, len(labels)) + labels.tobytes())


# Seven-segment digits: which of the segments a (top), b (top right), c (bottom right), d (bottom),
# e (bottom left), f (top left) and g (middle) each digit lights.
SEGMENTS = ["abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg"]
_BOXES = {  # (top, bottom, left, right) of each 3-pixel-thick stroke in a 20x12 frame at (4, 8)
    "a": (4, 7, 8, 20),
    "b": (4, 15, 17, 20),
    "c": (13, 24, 17, 20),
    "d": (21, 24, 8, 20),
    "e": (13, 24, 8, 11),
    "f": (4, 15, 8, 11),
    "g": (12, 15, 8, 20),
}


def fake_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` learnable 28x28 digits: seven-segment strokes, shifted up to a pixel, on faint noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.int64)  # background noise
    for i, k in enumerate(labels):
        dy, dx = (int(v) for v in rng.integers(-1, 2, size=2))
        ink = int(rng.integers(170, 256))
        for segment in SEGMENTS[k]:
            top, bottom, left, right = _BOXES[segment]
            images[i, top + dy : bottom + dy, left + dx : right + dx] = ink
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.uint8)


def write_mnist(root: Path, n_train: int = 400, n_test: int = 100, seed: int = 0) -> Path:
    """Write the four MNIST files under ``root/MNIST/raw``; returns ``root`` (the data root)."""
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, n, s in (("train", n_train, seed), ("test", n_test, seed + 1)):
        images, labels = fake_digits(n, s)
        write_idx_images(raw / MNIST_FILES[split][0], images)
        write_idx_labels(raw / MNIST_FILES[split][1], labels)
    return Path(root)


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding tiny MNIST files (400 train, 100 test); treat it as read-only."""
    return write_mnist(tmp_path_factory.mktemp("mnist-data"))


@pytest.fixture
def make_mnist():
    """``make_mnist(root, n_train=..., n_test=..., seed=...)`` writes MNIST files where a test wants them."""
    return write_mnist


@pytest.fixture
def digit_maker():
    """``digit_maker(n, seed)`` -> the (images, labels) arrays ``write_mnist`` writes for that seed."""
    return fake_digits


def pytest_collection_modifyitems(config, items):
    """Every lesson test checks what training reached: numerics-sensitive by nature, rerun under every
    kernel set by CI. A module whose checks hold whatever kernels computed the numbers (syntax, files,
    messages, a result compared with the same model's own) says ``SAME_ON_EVERY_KERNEL = True``."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents and not getattr(item.module, "SAME_ON_EVERY_KERNEL", False):
            item.add_marker(pytest.mark.numerics)
