"""Run folders: where a run's files go, its metrics log, and finding runs again."""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from zoo_core.checkpoint import WEIGHTS, write_text
from zoo_core.errors import ZooError

CONFIG = "config.json"
METRICS = "metrics.csv"
SUMMARY = "summary.json"


def runs_root() -> Path:
    """Where runs go by default: ``$ZOO_RUNS_DIR`` or ``./runs``."""
    return Path(os.environ.get("ZOO_RUNS_DIR", "runs"))


def _folder(model: str) -> str:
    """Runs of ``plugin:name`` live under ``name``: the folder users type (config.json says which plugin)."""
    return model.rpartition(":")[2].replace("/", "_")


def new_run_dir(model: str, out: str | Path | None = None) -> Path:
    """A fresh, writable run folder; an existing non-empty ``out`` is refused, never overwritten."""
    if out is not None:
        path = Path(out)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ZooError(
                f"--out {path}: already exists and is not empty; runs are never overwritten, pick a new folder"
            )
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]  # sortable, to the millisecond
        path = runs_root() / _folder(model) / f"{stamp}-{secrets.token_hex(2)}"
    try:
        path.mkdir(parents=True, exist_ok=out is not None)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ZooError(
            f"cannot write the run folder {path} ({exc.strerror or exc}); choose another with --out"
        ) from exc
    return path


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
    path = Path(arg)
    if path.is_dir() and ((path / CONFIG).exists() or (path / WEIGHTS).exists()):
        return path
    if path.is_file():
        return path
    candidates = sorted((runs_root() / _folder(str(arg))).glob("*/" + CONFIG), key=lambda p: p.parent.name)
    if candidates:
        return candidates[-1].parent
    raise ZooError(f"no run found at {arg!r}; pass a run folder (see 'zoo runs')")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file, or an empty dict when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def list_runs(model: str | None = None) -> list[dict[str, Any]]:
    """Every run under the runs root (of ``model`` when given), oldest first, with its summary."""
    root = runs_root()
    pattern = f"{_folder(model)}/*/{CONFIG}" if model else f"*/*/{CONFIG}"
    out = []
    for config_path in sorted(root.glob(pattern), key=lambda p: p.parent.name):
        run = config_path.parent
        config = read_json(config_path).get("config", {})
        if model and ":" in model and config.get("model") != model:
            continue  # another plugin's model of the same name
        summary = read_json(run / SUMMARY)
        out.append(
            {
                "run": str(run),
                "model": config.get("model", run.parent.name),
                "optimizer": config.get("optimizer"),
                "status": summary.get("status", "incomplete"),
                "step": summary.get("step"),
                "seconds": summary.get("seconds"),
                "device": summary.get("device"),
                "metrics": summary.get("metrics", {}),
            }
        )
    return out
