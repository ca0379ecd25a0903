"""The checks of a model, in the order ``zoo check`` runs them, each handing the next what it built.

- metadata: a summary, a lesson or tags, JSON-serialisable defaults and recipe, and a default
  dataset, optimizer and trainer that resolve;
- builds: the model builds with its defaults (a ``torch.nn.Module``);
- batch: a batch of its default dataset goes through one training step, giving finite losses;
- round trip: saving to safetensors and loading back gives identical weights and outputs;
- trains: a few steps on the CPU with the shared trainer lower the loss (``learning``);
- reloads: ``zoo eval`` rebuilds the run from its ``model.safetensors`` and evaluates it;
- predicts: a predictor that declares ``sample`` inputs reads, runs and shows them on that run.
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import Any

from zoo_core.author.contract.learning import finite_loss, trains
from zoo_core.author.contract.parts import SHORT_RUN_SCHEDULER, Bench, ModelCase, metadata_problems, offline
from zoo_core.author.contract.report import PASS, Emit, fail, stage
from zoo_core.plugin.discovery import get_zoo
from zoo_core.plugin.errors import ZooError
from zoo_core.plugin.registry import Entry

_OTHER_SEED = 20_231_107  # the round trip rebuilds the model from another seed than it was built with


def check_model(bench: Bench, entry: Entry, emit: Emit) -> None:
    """The checks in order; a FAIL stops the rest, which need what it did not build."""
    case = _resolves(bench, entry, emit)
    _builds(case, emit)
    _batch(bench, case, emit)
    _round_trip(bench, case, emit)
    run_dir = trains(bench, case, emit)
    _reloads(bench, run_dir, emit)
    _predicts(entry, run_dir, emit)


def _resolves(bench: Bench, entry: Entry, emit: Emit) -> ModelCase:
    """1. metadata, and the default dataset, optimizer and trainer resolve."""
    from zoo_core.config.resolver import resolve

    with stage(emit, "metadata"):
        problems = metadata_problems(entry)
        if problems:
            fail(emit, "metadata", "; ".join(problems))
        loop = {"steps": bench.steps}
        config = resolve(
            entry.qualname, device="cpu", data_root=bench.data_root, loop=loop, scheduler=SHORT_RUN_SCHEDULER
        )
        data_entry = get_zoo().datasets.get(config.dataset)
        config.dataset_params.update(offline(data_entry))
        emit(
            PASS,
            "metadata",
            f"summary, {'lesson' if entry.lesson else 'tags'}, JSON settings; dataset "
            f"{config.dataset}, optimizer {config.optimizer}, trainer {config.trainer}",
        )
    return ModelCase(entry, config, data_entry)


def _builds(case: ModelCase, emit: Emit) -> None:
    """2. the model builds with its defaults, as 'zoo train' builds it."""
    import torch

    from zoo_core.training.assembly import build_model

    with stage(emit, "builds"):
        torch.manual_seed(0)
        try:
            case.model = build_model(case.entry, case.config.model_params, torch.device("cpu"))
        except ZooError as exc:
            fail(emit, "builds", str(exc).partition(": ")[2] or str(exc))
        count = sum(p.numel() for p in case.model.parameters() if p.requires_grad)
        emit(PASS, "builds", f"with its defaults ({count:,} trainable parameters)")


def _batch(bench: Bench, case: ModelCase, emit: Emit) -> None:
    """3. a batch of the default dataset goes through one training step of the shared loop."""
    import torch

    from zoo_core.config.resolver import apply_implied
    from zoo_core.plugin.trainer import check_batch
    from zoo_core.training.assembly import assemble, build_model
    from zoo_core.training.parallel import worker as distributed

    cpu = torch.device("cpu")
    with stage(emit, "batch"):
        case.data = bench.dataset(emit, case.data_entry, case.config.dataset_params, "batch")
        before = dict(case.config.model_params)
        apply_implied(case.config, case.entry, case.data)
        if case.config.model_params != before:  # sized by its data, as 'zoo train' builds it
            torch.manual_seed(0)
            case.model = build_model(case.entry, case.config.model_params, cpu)
        try:
            run = assemble(
                case.config,
                cpu,
                distributed.Context(device=cpu),
                say=lambda text: None,
                model=case.model,
                data=case.data,
            )
        except ZooError as exc:
            fail(emit, "batch", str(exc))
        case.trainer = run.trainer
        case.batch = next(iter(run.plan.epoch(0)))
        check_batch(case.trainer, case.model, case.batch)  # the trainer's own check, as before step 1
        case.model.train()
        losses = run.step(case.model, case.batch, run.optimizers)
        if not isinstance(losses, dict) or not losses:
            fail(
                emit, "batch", f"{type(case.trainer).__name__}.step returned {losses!r}, not a dict of losses"
            )
        try:
            shown = {k: finite_loss(v) for k, v in losses.items()}
        except (ValueError, TypeError, RuntimeError) as exc:
            fail(emit, "batch", f"the step's losses are not finite scalars ({exc})")
        first = case.inputs
        n = len(first) if hasattr(first, "__len__") else "?"
        emit(PASS, "batch", f"{n} samples of '{case.data_entry.name}' go through one step: {_fmt(shown)}")


def _round_trip(bench: Bench, case: ModelCase, emit: Emit) -> None:
    """4. safetensors round trip: identical weights, and identical outputs."""
    import torch

    from zoo_core.store import checkpoint

    model, entry = case.model, case.entry
    with stage(emit, "round trip"):
        model.eval()
        with torch.no_grad():
            try:
                before = model(case.inputs)
            except Exception:  # forward takes something else (a GAN's noise): compare metrics
                before = None
        path = bench.path(entry, "roundtrip.safetensors")
        checkpoint.save_weights(
            model, path, {"zoo.model": entry.qualname, "zoo.config": case.config.to_dict()}
        )
        torch.manual_seed(_OTHER_SEED)  # anything kept outside the weights now comes out different
        loaded = checkpoint.load_model(path)
        expected, got = model.state_dict(), loaded.state_dict()
        if expected.keys() != got.keys() or not all(_same(expected[k], got[k]) for k in expected):
            fail(emit, "round trip", "the weights loaded from model.safetensors differ from the saved ones")
        if before is not None:
            with torch.no_grad():
                after = loaded(case.inputs)
            if not _same(before, after):
                fail(
                    emit,
                    "round trip",
                    "identical weights but different outputs after save and load: is some state "
                    "(e.g. a random projection) kept outside parameters and persistent buffers?",
                )
            how = "weights and outputs on a batch"
        else:
            cpu = torch.device("cpu")
            m1, m2 = (
                case.trainer.evaluate(model, case.data, cpu),
                case.trainer.evaluate(loaded, case.data, cpu),
            )
            if m1.keys() != m2.keys() or not all(_close(m1[k], m2[k]) for k in m1):
                fail(emit, "round trip", f"evaluation differs after save and load: {_fmt(m1)} vs {_fmt(m2)}")
            how = "weights and evaluation metrics (forward does not take the dataset's inputs)"
        emit(PASS, "round trip", f"model.safetensors save and load give identical {how}")


def _reloads(bench: Bench, run_dir: Path, emit: Emit) -> None:
    """6. 'zoo eval' rebuilds the run from its model.safetensors."""
    from zoo_core.serve.evaluation import evaluate_run

    with stage(emit, "reloads"):
        evaluated = evaluate_run(run_dir, device="cpu", data_root=bench.data_root)
        metrics = {k: v for k, v in evaluated["metrics"].items() if isinstance(v, (int, float))}
        bad = [k for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            fail(emit, "reloads", f"evaluating the reloaded run gives non-finite {', '.join(bad)}")
        emit(PASS, "reloads", f"'zoo eval' rebuilds the run: {_fmt(metrics) or 'no metrics'}")


def _predicts(entry: Entry, run_dir: Path, emit: Emit) -> None:
    """7. 'zoo predict' on the trained run, with the sample inputs its predictor declares."""
    from zoo_core.serve.predict import predict

    predictor = entry.load_predictor()
    sample = tuple(getattr(predictor, "sample", ()) or ())
    if not sample:
        return
    with stage(emit, "predicts"):
        shown = predict(run_dir, list(sample))
        if not shown.records or not isinstance(shown.text, str):
            fail(emit, "predicts", f"{predictor.__name__}.show returned no records for {list(sample)}")
        first = shown.text.strip().splitlines()[0] if shown.text.strip() else ""
        emit(
            PASS,
            "predicts",
            f"'zoo predict RUN {shlex.join(sample)}' reads, runs and shows "
            f"{len(shown.records)} records: {first[:60]!r}",
        )


def _same(a: Any, b: Any) -> bool:
    """Bit-identical tensors, or tuples/lists/dicts of them."""
    import torch

    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    return a == b


def _fmt(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
