"""Files written whole: one file atomically, or several as one commit, so a kill never leaves half.

A file is written to a temporary file beside it, flushed, fsynced and renamed over the old one.
Several files (a checkpoint's weights, state, pickle) are one commit: they are staged under
``.NAME.next``, a journal naming them is renamed into place (the commit point), then the files are
moved over the old ones; :func:`recover` finishes or undoes a commit a kill cut short.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from zoo_core.plugin.errors import ZooError, first_line

JOURNAL = ".checkpoint.commit"  # present: the staged .NAME.next files are whole and go into place
_UMASK = os.umask(0)
os.umask(_UMASK)


_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the quota) is full; safetensors says so only in words."""
    if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
        return True
    return any(os.strerror(code) in str(exc) for code in _NO_SPACE)


def _naming(exc: BaseException, path: Path, *, rename: bool = False) -> BaseException:
    """A full disk as an OSError naming the file that could not be written; others unchanged."""
    if not disk_full(exc) or (isinstance(exc, OSError) and exc.filename and not rename):
        return exc
    code = exc.errno if isinstance(exc, OSError) and exc.errno in _NO_SPACE else errno.ENOSPC
    return OSError(code, os.strerror(code), str(path))


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed over it."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # a missing or read-only folder, a name too long: one line, not a traceback
        if disk_full(exc):
            raise _naming(exc, path) from exc
        raise ZooError(f"cannot write {path} ({exc.strerror or first_line(exc)})") from exc
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp (or a library that wrote anew) made it 0600
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        named = _naming(exc, path)
        if named is not exc:
            raise named from exc
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


NOT_FINITE = "not_finite"  # in a JSON object zoo writes: where a NaN or infinity was written as null


def finite_json(data: Any, where: str = "") -> tuple[Any, dict[str, str]]:
    """``data`` with NaN and infinities as None (JSON has no such numbers: jq and browsers refuse
    ``NaN``), and what was replaced, by dotted path."""
    if isinstance(data, float) and not math.isfinite(data):
        return None, {where or "value": str(data)}
    replaced: dict[str, str] = {}
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            out[key], more = finite_json(value, f"{where}.{key}" if where else str(key))
            replaced.update(more)
        return out, replaced
    if isinstance(data, (list, tuple)):
        items = []
        for i, value in enumerate(data):
            item, more = finite_json(value, f"{where}[{i}]")
            items.append(item)
            replaced.update(more)
        return items, replaced
    return data, replaced


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically, pretty enough to read; a NaN or infinity is written as null and the
    object's ``not_finite`` says which and what it was."""
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != NOT_FINITE}
    data, replaced = finite_json(data)
    if replaced and isinstance(data, dict):
        data[NOT_FINITE] = replaced
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str, allow_nan=False) + "\n")


# -- several files as one commit ------------------------------------------------------------------
def _staged(run_dir: Path, name: str) -> Path:
    return run_dir / f".{name}.next"


def _fsync_dir(path: Path) -> None:
    """Make renames in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit(
    run_dir: str | Path, writers: Mapping[str, Callable[[Path], None]], names: Collection[str]
) -> list[str]:
    """Write several files as one unit: after a kill at any moment, all are new or all are old.

    ``writers`` maps each file's name to what writes it; ``names`` are the files a commit in
    ``run_dir`` may hold, the only ones :func:`recover` trusts a journal to name.
    """
    run_dir = Path(run_dir)
    unknown = sorted(set(writers) - set(names))
    if unknown:
        raise ValueError(f"not among the files a commit may write ({', '.join(names)}): {unknown}")
    recover(run_dir, names)
    current = JOURNAL
    try:
        for current, write in writers.items():
            staged = _staged(run_dir, current)
            write(staged)
            os.chmod(staged, 0o666 & ~_UMASK)
            with open(staged, "rb+") as fh:
                os.fsync(fh.fileno())
        write_json(run_dir / JOURNAL, {"files": list(writers)})  # the commit point
    except BaseException as exc:
        for name in writers:
            with contextlib.suppress(FileNotFoundError):
                _staged(run_dir, name).unlink()
        named = _naming(exc, run_dir / current, rename=True)  # the file itself, not its staged copy
        if named is not exc:
            raise named from exc
        raise
    _roll_forward(run_dir, list(writers))
    return list(writers)


def _roll_forward(run_dir: Path, names: list[str]) -> None:
    for name in names:
        staged = _staged(run_dir, name)
        if staged.exists():
            os.replace(staged, run_dir / name)
    _fsync_dir(run_dir)
    with contextlib.suppress(FileNotFoundError):
        (run_dir / JOURNAL).unlink()


def recover(run_dir: str | Path, names: Collection[str]) -> list[str]:
    """Finish a commit a kill interrupted, undo an uncommitted one, drop temp files.

    A journal naming anything but ``names`` was not written by :func:`commit`: it is removed and
    the files are left as they are.
    """
    run_dir = Path(run_dir)
    journal = run_dir / JOURNAL
    done: list[str] = []
    if journal.exists():
        try:
            listed = json.loads(journal.read_text())["files"]
        except (OSError, ValueError, KeyError, TypeError):
            listed = None
        if isinstance(listed, list) and listed and all(n in names for n in listed):
            done = [n for n in listed if _staged(run_dir, n).exists()]
            _roll_forward(run_dir, listed)
        else:  # not a journal this code wrote: leave the files as they are
            journal.unlink()
    for leftover in [*run_dir.glob(".*.next"), *run_dir.glob(".*.tmp")]:
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    return done
