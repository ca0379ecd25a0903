"""``zoo eval``: a run's model rebuilt from its saved weights alone, and evaluated again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo_core.config.runconfig import RunConfig
from zoo_core.plugin.data import first_batch, to_device
from zoo_core.plugin.errors import ZooError
from zoo_core.plugin.trainer import check_batch
from zoo_core.serve.trained import open_run
from zoo_core.store import checkpoint
from zoo_core.store.runs import CONFIG, find_run, read_json
from zoo_core.training.monitor import BEST

#: samples in the batch a trainer's ``check`` sees before ``zoo eval``, when the run has no batch size
CHECK_BATCH = 64


def evaluate_run(
    run: str | Path,
    device: str = "auto",
    data_root: str | None = None,
    trust_pickle: bool = False,
    best: bool = False,
) -> dict[str, Any]:
    """Rebuild a run's model (from ``model.safetensors``, or ``best.safetensors``; a pickle only
    when trusted) and evaluate it."""
    from zoo_core.training.devices import pick_device

    path = find_run(run)
    run_dir = path if path.is_dir() else path.parent
    if best:
        path = run_dir / BEST
        if not path.is_file():
            raise ZooError(
                f"{run_dir}: no {BEST}; a run keeps its best weights when it evaluates as it goes "
                "(--eval-every N|epoch)"
            )
    pickled = path.suffix == ".pt" or (
        path.is_dir() and not (path / checkpoint.WEIGHTS).exists() and (path / checkpoint.PICKLE).exists()
    )
    dev, _ = pick_device(device)
    if pickled:
        source = path if path.is_file() else path / checkpoint.PICKLE
        model = checkpoint.load_pickle(source, trust=trust_pickle, device=str(dev))
        saved = read_json(run_dir / CONFIG).get("config")
        if not saved:
            raise ZooError(f"{source}: no config.json beside it, so the lesson's data are unknown")
        config, saved_metrics = RunConfig.from_dict(saved, str(run_dir / CONFIG)), {}  # [integrity]
    else:
        source = path / checkpoint.WEIGHTS if path.is_dir() else path
        if not isinstance(checkpoint.read_metadata(source).get("zoo.config"), dict):
            raise ZooError(f"{source}: has no zoo metadata; only files saved by zoo can be evaluated")
        trained = open_run(source, device=str(dev))  # [integrity] metadata validated like user input
        config, model = trained.config, trained.model
        saved_metrics = checkpoint.saved_metrics(trained.meta, source)
    from zoo_core.training.assembly import build_parts

    config.data_root = data_root if data_root is not None else _trained_on(run_dir, config)
    parts = build_parts(config, dev, model=model)
    batch = first_batch(parts.data.evaluation, config.loop.batch_size or CHECK_BATCH)
    check_batch(parts.trainer, parts.model, to_device(batch, dev))
    metrics = parts.trainer.evaluate(parts.model.eval(), parts.data, dev)
    return {
        "source": str(source),
        "model": config.model,
        "device": str(dev),
        "data_root": config.data_root,
        "metrics": metrics,
        "saved_metrics": saved_metrics,
    }


def _trained_on(run_dir: Path, config: RunConfig) -> str | None:
    """The data folder the run's own config.json names, read only: used when it exists, with the
    dataset's downloads off, so a path from a file is never created or written into."""
    recorded = read_json(run_dir / CONFIG).get("config")
    root = recorded.get("data_root") if isinstance(recorded, dict) else None
    if not isinstance(root, str) or not root or not Path(root).is_dir():
        return None  # the default root, as for a run trained without --data-root
    if "download" in config.dataset_params:
        config.dataset_params["download"] = False
    return root
