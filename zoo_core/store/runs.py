"""Run folders: where a run's files go, its metrics log, and finding runs again."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from zoo_core.plugin.atomic import disk_full, write_json, write_text
from zoo_core.plugin.errors import Interrupted, RunFailed, RunStopped, ZooError, first_line, printable
from zoo_core.store.checkpoint import CHECKPOINT_FILES, WEIGHTS, diverged, last_checkpoint

CONFIG = "config.json"
METRICS = "metrics.csv"
SUMMARY = "summary.json"
INDEX = ".index"  # under the runs root: one small file per run saved elsewhere with --out
# Shown, never written: "died" (marked running, but no process holds the folder's lock: SIGKILL,
# a crash, a lost machine) and "damaged" (its config.json or summary.json cannot be read).
# "pruned": ended on purpose by a callback (a sweep's trial that was not going to win).
STATUSES = ("running", "finished", "interrupted", "failed", "pruned", "died", "damaged")


def runs_root() -> Path:
    """Where runs go by default: ``$ZOO_RUNS_DIR`` or ``./runs``."""
    return Path(os.environ.get("ZOO_RUNS_DIR", "runs"))


def _folder(model: str) -> str:
    """Runs of ``plugin:name`` live under ``name``: the folder users type (config.json says which plugin)."""
    return model.rpartition(":")[2].replace("/", "_")


def _has_files(path: Path) -> bool:
    """Whether ``path`` holds anything besides a run-folder lock."""
    from zoo_core.store.lock import NAMES

    return any(p.name not in NAMES for p in path.iterdir())


def _not_new(path: Path) -> ZooError:
    return ZooError(
        f"--out {path}: already exists and is not empty; runs are never overwritten, pick a new folder"
    )


NAME_MAX = 255  # bytes in one file or folder name on Linux, macOS and Windows file systems


def check_path(path: str | Path, flag: str = "--out") -> Path:
    """``path`` when every file written under it can be named and recorded (UTF-8, names of at
    most 255 bytes, no NUL); else one line, before anything is created."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ZooError(
            f"{flag} {printable(text)}: the name is not valid UTF-8; run folders are named in config "
            "and summary files as text: rename it"
        ) from None
    if "\0" in text:
        raise ZooError(f"{flag} {printable(text)}: a name cannot hold a NUL character")
    for part in Path(text).parts:
        size = len(part.encode("utf-8"))
        if size > NAME_MAX:
            raise ZooError(
                f"{flag} {printable(part[:40])}...: that name is {size} bytes; file systems allow "
                f"{NAME_MAX} per name: shorten it"
            )
    return Path(text)


def new_run_dir(model: str, out: str | Path | None = None) -> Path:
    """A fresh run folder, locked for this process; an existing non-empty ``out`` is refused."""
    from zoo_core.store import lock

    if out is not None:
        path = Path(out)
        if path.exists() and (not path.is_dir() or _has_files(path)):
            raise _not_new(path)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]  # sortable, to the millisecond
        path = runs_root() / _folder(model) / f"{stamp}-{secrets.token_hex(2)}"
    try:
        path.mkdir(parents=True, exist_ok=out is not None)
    except OSError as exc:
        raise ZooError(
            f"cannot write the run folder {path} ({exc.strerror or exc}); choose another with --out"
        ) from exc
    lock.claim(path)  # before anything is written; then look again: a run may have finished there
    if _has_files(path):
        lock.release(path)
        raise _not_new(path)
    if out is not None:
        _index(path)
    return path


def reopen_run(run_dir: Path) -> Path:
    """Take an existing run folder for ``--resume``: lock it, then finish or undo a cut checkpoint."""
    from zoo_core.plugin import atomic
    from zoo_core.store import lock

    lock.claim(run_dir)
    atomic.recover(run_dir, CHECKPOINT_FILES)
    return run_dir


def _index(run: Path) -> None:
    """Note a run kept outside the runs root, so ``zoo runs`` finds it (one file per run: no races)."""
    import hashlib

    where = run.resolve()
    try:
        where.relative_to(runs_root().resolve())
        return  # under the root: found by walking it
    except ValueError:
        pass
    name = hashlib.sha1(str(where).encode()).hexdigest()[:16] + ".json"
    try:
        (runs_root() / INDEX).mkdir(parents=True, exist_ok=True)
        write_json(runs_root() / INDEX / name, {"run": str(where)})
    except OSError:
        pass  # an unwritable runs root costs the listing, never the run


def mark_status(run: Path, status: str, **fields: Any) -> None:
    """Record where a run stands in its summary.json: running, finished, interrupted, failed or pruned."""
    summary = read_json(run / SUMMARY) if status != "running" else {}
    write_json(run / SUMMARY, {**summary, **fields, "status": status})


class TensorBoardLog:
    """Every metrics row as TensorBoard scalars, in the run folder's ``tensorboard/``."""

    def __init__(self, run: Path) -> None:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None:
            raise ZooError(
                "--logger tensorboard needs the tensorboard package: pip install 'zoo[tensorboard]'"
            )
        try:
            from torch.utils.tensorboard import SummaryWriter
        except Exception as exc:  # installed but broken (a version that does not fit, a missing part)
            raise ZooError(
                f"--logger tensorboard: the tensorboard package fails to import ({first_line(exc)}); "
                "reinstall it: pip install -U 'zoo[tensorboard]'"
            ) from exc
        folder = run / "tensorboard"
        try:
            if folder.exists() and not folder.is_dir():
                raise NotADirectoryError(20, "it is a file, not a folder")
            self.writer = SummaryWriter(log_dir=str(folder))
        except OSError as exc:
            raise ZooError(
                f"--logger tensorboard: cannot write {folder} ({exc.strerror or first_line(exc)})"
            ) from exc

    def add(self, row: dict[str, Any]) -> None:
        for key, value in row.items():
            if key not in ("step", "epoch") and isinstance(value, (int, float)):
                self.writer.add_scalar(key, value, global_step=row["step"])

    def close(self) -> None:
        self.writer.close()


class MetricsLog:
    """Rows of step, epoch, losses and metrics, kept in memory and rewritten to CSV as they come."""

    def __init__(self, path: Path, rows: list[dict[str, Any]] | None = None, every_s: float = 2.0) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = list(rows or [])
        self.every_s = every_s
        self._last = time.monotonic()  # the first write waits too: never inside a short, timed loop

    def add(self, row: dict[str, Any]) -> None:
        """Append a row (merged into the last one when it is for the same step)."""
        if self.rows and self.rows[-1]["step"] == row["step"]:
            self.rows[-1].update(row)
        else:
            self.rows.append(dict(row))
        if time.monotonic() - self._last >= self.every_s:
            self.flush()

    def flush(self) -> None:
        """Rewrite the CSV atomically (a kill leaves the previous complete file)."""
        columns = ["step", "epoch"]
        for row in self.rows:
            columns += [k for k in row if k not in columns]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        write_text(self.path, buf.getvalue())
        self._last = time.monotonic()


def find_run(arg: str | Path) -> Path:
    """A run folder from a path, or from a model name (its latest run)."""
    try:
        return _find_run(arg)
    except OSError as exc:  # an unreadable folder, a name too long for the disk
        raise ZooError(f"cannot read {arg} ({exc.strerror or first_line(exc)})") from exc


def _find_run(arg: str | Path) -> Path:
    path = Path(arg)
    if path.is_dir() and ((path / CONFIG).exists() or (path / WEIGHTS).exists()):
        return path
    if path.is_file():
        return path
    latest = list_runs(str(arg))
    if latest:
        return Path(latest[-1]["run"])
    raise ZooError(f"no run found at {arg!r}; pass a run folder (see 'zoo runs')")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a file, or an empty dict when it is missing, unreadable or not an object."""
    return _json_object(path) or {}


def _json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file; {} when there is no file, None when it is damaged or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, RecursionError):  # unreadable, not UTF-8 or JSON, nested too deep
        return None
    return data if isinstance(data, dict) else None


def _walk_runs(root: Path) -> Iterator[Path]:
    """Run folders (config.json and summary.json) under ``root`` at any depth, not inside one another."""
    for folder, subfolders, files in os.walk(root):
        if CONFIG in files and SUMMARY in files:
            subfolders.clear()  # a run's own folders (tensorboard/, an export) are not runs
            yield Path(folder)
        else:
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))


def run_folders() -> list[Path]:
    """Every run folder under the runs root, and those the index knows elsewhere (gone ones skipped)."""
    root = runs_root()
    found = {p.resolve(): p for p in _walk_runs(root)}
    for entry in sorted((root / INDEX).glob("*.json")):
        where = read_json(entry).get("run")
        if isinstance(where, str) and (Path(where) / CONFIG).is_file():
            found.setdefault(Path(where).resolve(), Path(where))
    return sorted(
        found.values(), key=lambda p: (typed(read_json(p / SUMMARY), "started", (int, float), 0), p.name)
    )


def list_runs(model: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """Every run (of ``model``, with ``status``, when given), oldest first, with its key facts."""
    from zoo_core.store import lock

    out = []
    for run in run_folders():
        saved, summary = _json_object(run / CONFIG), _json_object(run / SUMMARY)
        config = typed(saved or {}, "config", dict, None)
        name = typed(config or {}, "model", str, run.parent.name)
        if model and name != model and name.rpartition(":")[2] != model:
            continue
        # files anyone may edit: only values of the right type; a file that cannot be read at all
        # marks its run damaged (listed, never in the others' way)
        state = "damaged" if config is None or summary is None else typed(summary, "status", str, "running")
        summary, config = summary or {}, config or {}
        if state == "running" and lock.abandoned(run):
            state = "died"
        if status and state != status:
            continue
        loop = typed(config, "loop", dict, {})
        metrics = typed(summary, "metrics", dict, {})
        out.append(
            {
                "run": str(run),
                "model": name,
                "optimizer": typed(config, "optimizer", str, None),
                "scheduler": typed(config, "scheduler", str, "constant"),
                "precision": typed(loop, "precision", str, "32-true"),
                "status": state,
                "step": typed(summary, "step", int, None),
                "seconds": typed(summary, "seconds", (int, float), None),
                "device": typed(summary, "device", str, None),
                "best": typed(summary, "best", dict, None),
                "metrics": {
                    k: v
                    for k, v in metrics.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)
                },
            }
        )
    return out


def typed(data: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    """``data[key]`` when it has the expected type (never a bool for numbers), else ``default``."""
    value = data.get(key, default)
    return value if isinstance(value, kind) and not isinstance(value, bool) else default


def check_losses(row: dict[str, Any], *, stop: bool, run_dir: Path, say: Callable[[str], None]) -> None:
    """A logged loss that is NaN or infinite stops the run (or, when asked, only warns)."""
    if all(math.isfinite(v) for v in row.values() if type(v) is float):  # the hot path: one pass
        return
    bad = {
        k: v
        for k, v in row.items()
        if k not in ("step", "epoch") and isinstance(v, float) and not math.isfinite(v)
    }
    what = ", ".join(f"{k}={v}" for k, v in bad.items())
    if not stop:
        say(f"warning: {what} at step {row['step']}; training goes on (stop_on_nan=false)")
        return
    raise diverged(what, row["step"], run_dir)


def mark_failed(run_dir: Path, reason: str) -> None:
    """Say in ``summary.json`` that the run failed and why (best effort: the disk may be full)."""
    with contextlib.suppress(OSError):
        mark_status(run_dir, "failed", error=reason)


@contextlib.contextmanager
def failing(run_dir: Path, model: str) -> Iterator[None]:
    """Around training: summary.json says a run was interrupted or failed (and why); a full disk
    is one line naming the file."""
    from zoo_core.store import lock

    try:
        yield
    except (Interrupted, KeyboardInterrupt):  # Ctrl-C, in the loop or before it
        if lock.held(run_dir) and (run_dir / SUMMARY).exists():
            mark_status(run_dir, "interrupted")
        raise
    except RunFailed as exc:
        if lock.held(run_dir):
            mark_failed(run_dir, str(exc))
        raise
    except RunStopped as exc:  # ended on purpose: the status its callback names (one zoo runs knows)
        if lock.held(run_dir) and (run_dir / SUMMARY).exists():
            status = exc.status if exc.status in STATUSES else "failed"
            mark_status(run_dir, status, reason=str(exc), **exc.fields)
        raise
    except Exception as exc:
        if not disk_full(exc):
            if lock.held(run_dir) and read_json(run_dir / SUMMARY).get("status") == "running":
                mark_failed(run_dir, first_line(exc))  # it was training: say why it ended
            raise
        where = getattr(exc, "filename", None) or f"a file in {run_dir}"
        detail = (
            exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).strip().splitlines()[0]
        )
        failed = RunFailed(
            f"cannot write {where}: {detail}; {last_checkpoint(run_dir)}; free some space, then "
            f"resume with: zoo train {model} --resume {run_dir}"
        )
        if lock.held(run_dir):
            mark_failed(run_dir, str(failed))
        raise failed from exc
