"""What a run writes into its folder while it trains: config, metrics, checkpoints, best weights.

``loop.fit`` keeps the loop; this keeps the bookkeeping around it (a row, an evaluation and a
checkpoint after each optimizer step), so the loop reads top to
bottom. Only worker 0 of a data-parallel job writes; the others keep their rows in memory.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from zoo_core.plugin import atomic
from zoo_core.store import checkpoint
from zoo_core.store.runs import CONFIG, METRICS, TensorBoardLog, check_losses, mark_status
from zoo_core.store.state import restoring
from zoo_core.training.monitor import BEST, Monitor
from zoo_core.training.seeding import rng_state, set_rng_state


class Record:
    """The run folder of one run, as training goes: restore, log, checkpoint, keep the best."""

    def __init__(
        self, run: Any, run_dir: Path, dist: Any, env: dict[str, Any], on_evaluate: Any = None
    ) -> None:
        loop = run.parts.config.loop
        self.run, self.run_dir, self.dist, self.env = run, run_dir, dist, env
        self.config = run.parts.config
        self.on_evaluate = on_evaluate  # told of each evaluation in the loop (a sweep's pruner)
        self.log = dist.metrics_log(run_dir / METRICS)  # only worker 0 writes the run folder
        self.eval_every = loop.eval_steps(run.plan.per_epoch // loop.accumulate)  # 0: at the end only
        self.watch = Monitor(loop.monitor, loop.mode, loop.patience) if self.eval_every else None
        self.tensorboard = TensorBoardLog(run_dir) if loop.logger == "tensorboard" and dist.is_main else None

    def restore(self, device: Any) -> int:
        """Resume: the weights, optimizers, schedules, trainer, RNGs, history and best; the step."""
        from zoo_core.plugin.data import to_device

        run = self.run
        # one checked commit: weights and state from the same save, the state validated
        state = checkpoint.load_checkpoint(self.run_dir, run.parts.model, run.optimizers, device=device)
        with restoring(self.run_dir / checkpoint.STATE):  # a misfit is one line
            for name, opt in run.optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
            run.opt.load_state_dict(state.get("optimization", {}))
            run.trainer.load_state_dict(to_device(state.get("trainer", {}), device))
            set_rng_state(state["rng"])
        self.log.rows = list(state.get("history", []))
        if self.watch is not None:
            self.watch.load_state_dict(state.get("monitor", {}))
            if self.watch.best is not None and not (self.run_dir / BEST).exists():
                # [integrity] the best weights were deleted: their record goes with them, so the
                # next best.safetensors is labelled with its own step and value
                self.watch.best = self.watch.best_step = None
        return int(state["step"])

    def start(self, step: int) -> None:
        """config.json first, so even an interrupted run can be repeated or resumed."""
        if not self.dist.is_main:
            return
        entry = self.run.parts.model_entry
        atomic.write_json(
            self.run_dir / CONFIG,
            {
                "config": self.config.to_dict(),
                "environment": self.env,
                "plugin": {
                    "name": entry.plugin,
                    "distribution": entry.distribution,
                    "version": entry.version,
                },
            },
        )
        mark_status(self.run_dir, "running", step=step, started=time.time())

    def meta(self, step: int, metrics: dict[str, Any]) -> dict[str, Any]:
        """What a weights file says of itself: enough to rebuild the model and know its run."""
        return {
            "zoo.model": self.config.model,
            "zoo.plugin": self.run.parts.model_entry.plugin,
            "zoo.config": self.config.to_dict(),
            "zoo.metrics": metrics,
            "zoo.versions": self.env,
            "zoo.step": step,
        }

    def save(self, step: int, metrics: dict[str, Any] | None = None) -> list[str]:
        """Weights (and the training state) after ``step`` optimizer steps, as one commit."""
        if not self.dist.is_main:
            return []
        run, model = self.run, self.run.parts.model
        was_training = model.training
        state = {
            "step": step,
            "optimizers": {k: o.state_dict() for k, o in run.optimizers.items()},
            "optimization": run.opt.state_dict(),
            "trainer": run.trainer.state_dict(),
            "rng": rng_state(),
            "history": self.log.rows,
            "monitor": self.watch.state_dict() if self.watch is not None else {},
        }
        files = checkpoint.save_checkpoint(
            self.run_dir,
            model,
            metadata=self.meta(step, metrics or {}),
            state=state,
            save_format=self.config.save_format,
            finite=self.config.loop.stop_on_nan,
        )
        model.train(was_training)
        self.log.flush()
        return files

    def after_step(self, step: int, epoch: int, losses: Any, progress: Any) -> dict[str, Any] | None:
        """After optimizer step ``step``: a metrics row when one is due (every ``log_every`` steps, the
        last, an evaluation's), the evaluation when due, a checkpoint when due; the row or None."""
        loop, total = self.config.loop, self.run.plan.total_steps
        evaluate = bool(self.eval_every) and step % self.eval_every == 0 and step < total
        row = None
        if step % (loop.log_every or max(1, total // 200)) == 0 or step == total or evaluate:
            row = {
                "step": step,
                "epoch": epoch + 1,
                **self.dist.mean(losses.means()),
                "lr": self.run.opt.lr(),
            }
            check_losses(row, stop=loop.stop_on_nan, run_dir=self.run_dir, say=progress.say)
            if evaluate:
                model = self.run.parts.model
                metrics = self.run.trainer.evaluate(model, self.run.parts.data, self.dist.device)
                model.train()
                row.update(metrics)
                self.evaluated(step, metrics)
                progress.evaluated(metrics, self.watch.best, self.watch.best_step)
            self.add(row)
            if evaluate and self.on_evaluate is not None:
                self.on_evaluate(step, metrics)
        if loop.checkpoint_every and step % loop.checkpoint_every == 0 and step < total:
            self.save(step)
        return row

    def stop_reason(self) -> str:
        """``patience`` when early stopping ends the run (``watch.why_stopped()`` says why), else ``""``."""
        if self.watch is None or not self.watch.out_of_patience:
            return ""
        return "patience"

    def add(self, row: dict[str, Any]) -> None:
        """A metrics row: metrics.csv (and TensorBoard when asked)."""
        self.log.add(row)
        if self.tensorboard is not None:
            self.tensorboard.add(row)

    def evaluated(self, step: int, metrics: dict[str, Any], final: dict[str, Any] | None = None) -> bool:
        """An evaluation's metrics: keep the weights when the monitored one improved."""
        watch = self.watch
        if watch is None or not watch.observe(metrics, step, self.run.trainer) or not self.dist.is_main:
            return False
        meta = {**self.meta(step, final or {}), "zoo.best": watch.record()}
        checkpoint.save_weights(self.run.parts.model, self.run_dir / BEST, meta)
        return True

    def finish(self, step: int, metrics: dict[str, Any], final: dict[str, Any]) -> list[str]:
        """The last checkpoint, the best weights, TensorBoard's last scalars; the files written."""
        files = self.save(step, metrics)
        if self.watch is not None and self.dist.is_main:
            if not self.evaluated(step, final, metrics) and not (self.run_dir / BEST).exists():
                meta = {**self.meta(step, metrics), "zoo.best": self.watch.record()}
                checkpoint.save_weights(self.run.parts.model, self.run_dir / BEST, meta)
            files.append(BEST)
        if self.tensorboard is not None:
            self.tensorboard.add({"step": step, **final})
            self.tensorboard.close()
        return files

    def summary(self) -> dict[str, Any]:
        """What summary.json adds about the best weights and an early stop."""
        watch = self.watch
        if watch is None:
            return {}
        extra: dict[str, Any] = {"best": watch.record()}
        if watch.out_of_patience:
            extra["stopped_early"] = watch.why_stopped()
        return extra
