"""Tiny Shakespeare as characters: the text, its vocabulary, and windows of ``block_size`` of them."""

from __future__ import annotations

import lzma
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from zoo_core import Splits, ZooError

#: the shipped text: Tiny Shakespeare (public domain), xz-compressed
SHIPPED = Path(__file__).with_name("tinyshakespeare.txt.xz")
#: more distinct characters than this is not a character-level text this lesson can learn
MAX_VOCAB = 4096


def read_text(path: str = "") -> str:
    """The shipped Tiny Shakespeare, or the UTF-8 text file at ``path``."""
    if not path:
        return lzma.decompress(SHIPPED.read_bytes()).decode("utf-8")
    file = Path(path).expanduser()
    if not file.is_file():
        raise ZooError(f"--set path={path}: no such file; give a UTF-8 text file to train on")
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ZooError(f"--set path={path}: not a readable UTF-8 text file ({exc})") from exc


def encode(text: str) -> tuple[str, torch.Tensor]:
    """The text's sorted characters (its vocabulary) and the text as their indices."""
    vocab = "".join(sorted(set(text)))
    index = {c: i for i, c in enumerate(vocab)}
    return vocab, torch.tensor([index[c] for c in text], dtype=torch.long)


def tiny_shakespeare(block_size: int = 64, path: str = "", split: float = 0.9) -> Splits:
    """The first ``split`` of the text trains (every window of ``block_size`` characters, each
    target shifted by one), the rest evaluates (its windows side by side, each character once)."""
    if block_size < 1:
        raise ZooError(f"block_size must be at least 1, got {block_size}")
    if not 0.0 < split < 1.0:
        raise ZooError(f"split must be between 0 and 1 (the training share), got {split}")
    text = read_text(path)
    vocab, ids = encode(text)
    if len(vocab) > MAX_VOCAB:
        raise ZooError(f"the text has {len(vocab)} distinct characters, more than {MAX_VOCAB}")
    cut = int(len(ids) * split)
    train, held = ids[:cut], ids[cut:]
    if min(len(train), len(held)) <= block_size:
        raise ZooError(
            f"the text ({len(ids)} characters) is too short: both splits need more than "
            f"block_size={block_size} characters"
        )
    # every window of the training text, as views of it: no copy of the text per window
    x, y = train[:-1].unfold(0, block_size, 1), train[1:].unfold(0, block_size, 1)
    rows = (len(held) - 1) // block_size
    held_x = held[: rows * block_size].view(rows, block_size)
    held_y = held[1 : rows * block_size + 1].view(rows, block_size)
    return Splits(
        train=TensorDataset(x, y),
        eval=TensorDataset(held_x, held_y),
        info={"vocab": vocab, "characters": len(ids), "train_characters": len(train)},
        implies={"vocab_size": len(vocab), "vocab": vocab, "n_positions": block_size},
    )
