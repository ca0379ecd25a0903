"""``zoo compare``: several runs' curves in one figure, and their final and best metrics in a table."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
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


# settings that do not change what a run learns: how often it logs, evaluates, saves, where it runs
_NOISE = (
    *(f"loop.{k}" for k in ("log_every", "checkpoint_every", "eval_every", "workers", "logger")),
    *(f"loop.{k}" for k in ("monitor", "mode", "cuda_graphs", "compile", "compile_mode", "stop_on_nan")),
    "device",
    "data_root",
    "save_format",
    "given",  # which model settings the user set: what they are set to is in model_params
)


def _differing(configs: Sequence[dict[str, Any]]) -> list[str]:
    """The config keys that differ between the runs and matter to what they learn.

    Bookkeeping (logging, evaluation cadence, device) is left out; another model, optimizer
    (dataset, ...) has other settings by nature, so the entry is named, not what its recipe brings.
    """
    flats = [_flat(c) for c in configs]
    keys = sorted({k for f in flats for k in f})
    differ = [
        k
        for k in keys
        if k not in _NOISE and not k.startswith("implied.") and len({repr(f.get(k)) for f in flats}) > 1
    ]
    differ = [k for k in differ if k.partition("_params.")[0] not in differ or "_params." not in k]
    if "model" not in differ:
        return differ
    by_model: dict[Any, list[dict[str, Any]]] = {}
    for flat in flats:
        by_model.setdefault(flat.get("model"), []).append(flat)
    within = {k for group in by_model.values() for k in differ if len({repr(f.get(k)) for f in group}) > 1}
    return ["model", *(k for k in differ if k in within)]


def _name(key: str) -> str:
    """A setting as a user types it: ``lr`` for ``loop.lr``, ``n_hidden`` for the model's."""
    return key.rpartition(".")[2] if key.startswith(("loop.", "model_params.")) else key


def _short(key: str, value: Any) -> str:
    shown = value.rpartition(":")[2] if isinstance(value, str) else value
    return f"{_name(key)}={shown}"


def _usual(flats: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[str, str]:
    """Each key's value most runs share (when one does): a label names only where a run departs."""
    from collections import Counter

    usual = {}
    for key in keys:
        (value, count), *rest = Counter(repr(f.get(key)) for f in flats).most_common()
        if count > 1 and (not rest or rest[0][1] < count):
            usual[key] = value
    return usual


def _is_training_loss(key: str) -> bool:
    """``loss``, ``loss_x`` or ``x_loss``, but not an evaluation's ``eval_loss``."""
    return key == "loss" or key.startswith("loss_") or (key.endswith("_loss") and not key.startswith("eval"))


def compare_runs(
    runs: Sequence[str | Path], metric: str | None = None, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What ``zoo compare`` shows: each run's label, curves, final and best values of ``metric``.

    ``labels`` maps a run (as given, or its folder) to the label to show instead of the settings.
    """
    if len(runs) < 2:
        raise ZooError("zoo compare needs two runs or more")
    loaded, given = [], {}
    for arg in runs:
        run = find_run(arg)
        run = run if run.is_dir() else run.parent
        config = read_json(run / CONFIG).get("config")
        if not isinstance(config, dict):
            raise ZooError(f"{run}: no config.json, so it is not a run folder zoo wrote")
        loaded.append((run, config, _rows(run), read_json(run / SUMMARY)))
        given[str(arg)] = given[str(run)] = given[str(run.resolve())] = run
    chosen = {}
    for key, text in (labels or {}).items():
        run = given.get(key) or given.get(str(Path(key).resolve()))
        if run is None:
            raise ZooError(f"--label {key}={text}: {key} is not one of the compared runs")
        chosen[run] = text
    differs = _differing([c for _, c, _, _ in loaded])
    columns = [set().union(*(r.keys() for r in rows)) if rows else set() for _, _, rows, _ in loaded]
    if metric is None:
        shared = set.intersection(*columns) - set(_SKIP)
        evaluated = sorted(k for k in shared if not _is_training_loss(k))
        metric = "eval_loss" if "eval_loss" in shared else (evaluated[0] if evaluated else None)
    report: dict[str, Any] = {"metric": metric, "differs": differs, "runs": [], "missing": []}
    if metric is None:
        report["missing"].append("no evaluation metric is in every run; --metric NAME compares one")
    usual = _usual([_flat(c) for _, c, _, _ in loaded], differs)
    for (run, config, rows, summary), cols in zip(loaded, columns, strict=True):
        flat = _flat(config)
        shown = [_short(k, flat.get(k)) for k in differs if k not in usual or usual[k] != repr(flat.get(k))]
        label = chosen.get(run) or " ".join(shown) or run.name
        losses = sorted(
            (k for k in cols if _is_training_loss(k) and k != metric), key=lambda k: (k != "loss", k)
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
    """Loss curves (left) and the compared metric (right) of every run, on shared step axes; one
    legend below them (a colour per run, a line style per loss), the differing settings above."""
    import textwrap

    from zoo_core.plugin.figures import pyplot, save_figure

    plt = pyplot()
    metric = report["metric"]
    panels = 2 if metric else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
    loss_ax = axes[0][0]
    styles = ("-", "--", ":", "-.")
    keys = sorted({k for e in report["runs"] for k in e["losses"]}, key=lambda k: (k != "loss", k))
    handles, positive = [], True
    for number, entry in enumerate(report["runs"]):
        color = f"C{number % 10}"
        for key in entry["losses"]:
            points = entry["curves"].get(key, [])
            if points:
                style = styles[keys.index(key) % len(styles)]
                loss_ax.plot([p[0] for p in points], [p[1] for p in points], color=color, linestyle=style)
                positive = positive and all(p[1] > 0 for p in points)
        points = entry["curves"].get(metric, []) if metric else []
        if points:
            axes[0][1].plot([p[0] for p in points], [p[1] for p in points], color=color, marker="o", ms=3)
        handles.append(plt.Line2D([], [], color=color, label=entry["label"]))
    if len(keys) > 1:  # several losses: the line styles say which
        handles += [
            plt.Line2D([], [], color="gray", linestyle=styles[i % len(styles)], label=k)
            for i, k in enumerate(keys)
        ]
    if positive:
        loss_ax.set_yscale("log")
    loss_ax.set(xlabel="step", ylabel="training loss", title="training loss")
    if metric:
        axes[0][1].set(xlabel="step", ylabel=metric, title=metric)
        if not any(e["curves"].get(metric) for e in report["runs"]):  # said, not an empty frame
            axes[0][1].text(0.5, 0.5, f"no run reports {metric}", ha="center", transform=axes[0][1].transAxes)
    fig.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize="small", frameon=False
    )
    names = [_name(k) for k in report["differs"]]
    title = "runs differ in: " + (", ".join(names) or "nothing that changes what they learn")
    fig.suptitle(textwrap.fill(title, width=45 * panels), fontsize="medium")
    fig.tight_layout()
    return save_figure(fig, path)


def as_rows(report: dict[str, Any]) -> tuple[list[list[str]], list[str]]:
    """The table ``zoo compare`` prints: a row per run with its final training loss (which one,
    when the runs' differ) and the compared metric's final and best values."""
    metric = report["metric"]
    names = {e["losses"][0] for e in report["runs"] if e["losses"]}
    loss_name = names.pop() if len(names) == 1 else "LOSS"
    header = ["RUN", "LABEL", "STATUS", f"FINAL {loss_name}"]
    if metric:
        header += [f"FINAL {metric}", f"BEST {metric}", "AT STEP"]
    rows = []
    for entry in report["runs"]:
        first = entry["losses"][0] if entry["losses"] else None
        loss = entry["final"].get(first) if first else None
        shown = "-" if loss is None else f"{loss:.4g}" if loss_name != "LOSS" else f"{loss:.4g} ({first})"
        row = [entry["run"], entry["label"], entry["status"], shown]
        if metric:
            row += [
                f"{entry['final_metric']:.4g}" if "final_metric" in entry else "-",
                f"{entry['best_metric']:.4g}" if "best_metric" in entry else "-",
                str(entry.get("best_step", "-")),
            ]
        rows.append(row)
    return rows, header
