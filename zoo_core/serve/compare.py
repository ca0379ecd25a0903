"""``zoo compare``: several runs' curves in one figure, and their final and best metrics in a table."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zoo_core.plugin.errors import ZooError
from zoo_core.store.runs import CONFIG, METRICS, SUMMARY, find_run, read_json, typed
from zoo_core.training.monitor import mode_of

_SKIP = ("step", "epoch", "lr")


def _rows(run: Path) -> list[dict[str, float]]:
    """metrics.csv as numbers (empty cells left out; a damaged file gives what could be read)."""
    rows: list[dict[str, float]] = []
    try:
        with open(run / METRICS, newline="", encoding="utf-8", errors="replace") as fh:
            for raw in csv.DictReader(fh):
                row = {}
                for key, text in raw.items():
                    try:
                        row[key] = float(text)
                    except (TypeError, ValueError):
                        continue
                if "step" in row:
                    rows.append(row)
    except (OSError, csv.Error):  # unreadable, or a cell over csv's field limit: what came before
        pass
    return rows


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: data}


def _differing(configs: Sequence[dict[str, Any]]) -> list[str]:
    """The config keys whose values are not the same in every run (the loop's bookkeeping left out)."""
    flats = [_flat(c) for c in configs]
    keys = sorted({k for f in flats for k in f})
    noise = ("loop.log_every", "loop.checkpoint_every", "device", "data_root", "loop.workers")
    differ = [k for k in keys if k not in noise and len({repr(f.get(k)) for f in flats}) > 1]
    # another optimizer (dataset, ...) has other settings by nature: name the entry, not them
    return [k for k in differ if k.partition("_params.")[0] not in differ or "_params." not in k]


def _short(key: str, value: Any) -> str:
    name = key.rpartition(".")[2] if key.startswith(("loop.", "model_params.")) else key
    shown = value.rpartition(":")[2] if isinstance(value, str) else value
    return f"{name}={shown}"


def compare_runs(runs: Sequence[str | Path], metric: str | None = None) -> dict[str, Any]:
    """What ``zoo compare`` shows: each run's label, curves, final and best values of ``metric``."""
    if len(runs) < 2:
        raise ZooError("zoo compare needs two runs or more")
    loaded = []
    for arg in runs:
        run = find_run(arg)
        run = run if run.is_dir() else run.parent
        config = read_json(run / CONFIG).get("config")
        if not isinstance(config, dict):
            raise ZooError(f"{run}: no config.json, so it is not a run folder zoo wrote")
        loaded.append((run, config, _rows(run), read_json(run / SUMMARY)))
    differs = _differing([c for _, c, _, _ in loaded])
    columns = [set().union(*(r.keys() for r in rows)) if rows else set() for _, _, rows, _ in loaded]
    if metric is None:
        shared = set.intersection(*columns) - set(_SKIP)
        evaluated = sorted(k for k in shared if "loss" not in k or k.startswith("eval"))
        metric = "eval_loss" if "eval_loss" in shared else (evaluated[0] if evaluated else None)
    report: dict[str, Any] = {"metric": metric, "differs": differs, "runs": [], "missing": []}
    for (run, config, rows, summary), cols in zip(loaded, columns, strict=True):
        flat = _flat(config)
        label = " ".join(_short(k, flat.get(k)) for k in differs) or run.name
        losses = sorted(
            k for k in cols if k == "loss" or k.startswith("loss_") or k.endswith("_loss") and k != metric
        )
        entry: dict[str, Any] = {
            "run": str(run),
            "label": label,
            "model": typed(config, "model", str, None),
            "status": typed(summary, "status", str, "running"),
            "losses": losses,
            "final": {k: rows[-1][k] for k in losses if rows and k in rows[-1]},
        }
        values = [(r["step"], r[metric]) for r in rows if metric and metric in r and math.isfinite(r[metric])]
        if metric and not values:
            report["missing"].append(f"{run} has no '{metric}'")
        if values:
            mode = mode_of(metric, "auto")  # as --monitor judges it
            pick = max if mode == "max" else min
            best = pick(values, key=lambda sv: sv[1])
            entry.update(final_metric=values[-1][1], best_metric=best[1], best_step=int(best[0]), mode=mode)
        entry["curves"] = {k: [(r["step"], r[k]) for r in rows if k in r] for k in [*losses, metric] if k}
        report["runs"].append(entry)
    return report


def draw(report: dict[str, Any], path: str | Path) -> Path:
    """Loss curves (left) and the compared metric (right) of every run, on shared step axes."""
    from zoo_core.plugin.figures import pyplot, save_figure

    plt = pyplot()
    metric = report["metric"]
    panels = 2 if metric else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
    loss_ax = axes[0][0]
    positive = True
    for entry in report["runs"]:
        for key in entry["losses"]:
            points = entry["curves"].get(key, [])
            if points:
                name = entry["label"] if len(entry["losses"]) == 1 else f"{entry['label']} {key}"
                loss_ax.plot([p[0] for p in points], [p[1] for p in points], label=name)
                positive = positive and all(p[1] > 0 for p in points)
    if positive:
        loss_ax.set_yscale("log")
    loss_ax.set(xlabel="step", ylabel="training loss", title="loss")
    _legend(loss_ax)
    if metric:
        ax = axes[0][1]
        for entry in report["runs"]:
            points = entry["curves"].get(metric, [])
            if points:
                ax.plot(
                    [p[0] for p in points], [p[1] for p in points], marker="o", ms=3, label=entry["label"]
                )
        ax.set(xlabel="step", ylabel=metric, title=metric)
        _legend(ax)
    fig.suptitle("runs differ in: " + (", ".join(report["differs"]) or "nothing in their configs"))
    return save_figure(fig, path)


def _legend(ax: Any) -> None:
    """A legend when the panel has labelled lines (a metric no run has draws none, and no warning)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")


def as_rows(report: dict[str, Any]) -> tuple[list[list[str]], list[str]]:
    """The table ``zoo compare`` prints: a row per run with its final loss and final and best metric."""
    metric = report["metric"] or "-"
    header = ["RUN", "LABEL", "STATUS", "FINAL LOSS", f"FINAL {metric}", f"BEST {metric}", "AT STEP"]
    rows = []
    for entry in report["runs"]:
        loss = next(iter(entry["final"].values()), None)
        rows.append(
            [
                entry["run"],
                entry["label"],
                entry["status"],
                f"{loss:.4g}" if loss is not None else "-",
                f"{entry['final_metric']:.4g}" if "final_metric" in entry else "-",
                f"{entry['best_metric']:.4g}" if "best_metric" in entry else "-",
                str(entry.get("best_step", "-")),
            ]
        )
    return rows, header
