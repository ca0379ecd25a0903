"""One process owns a run folder at a time: an OS file lock, taken before anything is written.

The lock is ``fcntl.flock`` (``LockFileEx`` on Windows) through ``filelock``: the system drops it
when its process dies, so the lock of a killed run is never in the way. Beside it, ``.zoo.owner``
says who holds it (pid, host, since when), so the process that loses the race can name the holder.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

from zoo_core.plugin.errors import ZooError

LOCK = ".zoo.lock"
OWNER = ".zoo.owner"
NAMES = frozenset({LOCK, OWNER})

_HELD: dict[Path, object] = {}  # run folder -> the FileLock this process holds on it


def _key(run_dir: str | Path) -> Path:
    return Path(run_dir).resolve()


def holder(run_dir: str | Path, wait: float = 0.0) -> str:
    """Who holds ``run_dir``'s lock, in words (what its owner file says, validated).

    ``wait``: seconds to give a holder that has just taken the lock to write its owner file.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            data = json.loads((Path(run_dir) / OWNER).read_text())
            break
        except (OSError, ValueError):
            if time.monotonic() >= deadline:
                return "another process"
            time.sleep(0.02)
    if not isinstance(data, dict):
        return "another process"
    pid, host, since = data.get("pid"), data.get("host"), data.get("since")
    words = f"process {pid}" if isinstance(pid, int) and not isinstance(pid, bool) else "another process"
    if isinstance(host, str) and host:
        words += f" on {host[:100]}"
    if isinstance(since, str) and since:
        words += f" since {since[:40]}"
    return words


def claim(run_dir: str | Path) -> None:
    """Take ``run_dir`` for this process, or raise one line naming the folder and its holder."""
    from filelock import FileLock, Timeout

    key = _key(run_dir)
    if key in _HELD:
        return
    lock = FileLock(str(Path(run_dir) / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise ZooError(
            f"{run_dir}: in use by {holder(run_dir, wait=1.0)}; wait for that run to end, or pick another --out"
        ) from None
    except OSError as exc:
        raise ZooError(
            f"cannot write the run folder {run_dir} ({exc.strerror or exc}); choose another with --out"
        ) from exc
    _HELD[key] = lock
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with contextlib.suppress(OSError):
        (Path(run_dir) / OWNER).write_text(json.dumps(owner) + "\n")


def release(run_dir: str | Path) -> None:
    """Give ``run_dir`` back (nothing happens when this process does not hold it)."""
    lock = _HELD.pop(_key(run_dir), None)
    if lock is None:
        return
    with contextlib.suppress(OSError):
        (Path(run_dir) / OWNER).unlink()
    lock.release()  # type: ignore[attr-defined]


def held(run_dir: str | Path) -> bool:
    """Whether this process holds ``run_dir``."""
    return _key(run_dir) in _HELD


def abandoned(run_dir: str | Path) -> bool:
    """Whether no process holds ``run_dir``'s lock: a run still marked running there has died.

    Only asks (a shared, non-blocking ``flock`` on the existing lock file, given back at once);
    False when that cannot be known (no ``fcntl``, an unreadable lock file)."""
    if _key(run_dir) in _HELD:
        return False
    try:
        import fcntl
    except ImportError:  # Windows: no way to ask without taking the lock
        return False
    try:
        fd = os.open(Path(run_dir) / LOCK, os.O_RDONLY)
    except FileNotFoundError:
        return True  # a run takes the lock before it writes anything
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return False  # held: the run is alive
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)
