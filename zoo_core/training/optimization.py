"""What the shared loop does around a trainer's losses: precision, accumulation, clipping, schedules.

A trainer that returns its losses (``Trainer.loss``) is optimized by the loop; a manual trainer
(``Trainer.manual = True``) drives its own optimizers, but through the :class:`Optimization` it is
handed, so that ``--precision``, ``--accumulate``, ``--grad-clip`` and ``--scheduler`` apply to it
as well. The names of the precisions are Lightning's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from zoo_core.config.settings import PRECISIONS
from zoo_core.plugin.errors import ZooError

_NOTHING = contextlib.nullcontext()  # reusable: entering it does nothing


def check_precision(precision: str, device: Any) -> str | None:
    """Refuse a precision the device cannot run; return a notice when it runs, but slowly."""
    import torch

    if precision not in PRECISIONS:
        raise ZooError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    kind = device.type
    if precision == "16-mixed" and kind != "cuda":
        raise ZooError(
            f"--precision 16-mixed needs a CUDA device (it scales the loss with a GradScaler); "
            f"on {kind} use --precision bf16-mixed or 32-true"
        )
    if precision == "bf16-mixed":
        if kind == "mps":
            raise ZooError("--precision bf16-mixed is not supported on mps; use 32-true")
        if kind == "cuda" and not torch.cuda.is_bf16_supported():
            raise ZooError(f"--precision bf16-mixed: {device} has no bfloat16 support; use 16-mixed")
        if kind == "cpu" and not _native_bf16_cpu():
            return (
                "bf16-mixed on a CPU without native bfloat16 (no AVX512-BF16 or AMX) is emulated and "
                "several times slower than 32-true"
            )
    return None


def _native_bf16_cpu() -> bool:
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, p, lambda: False)() for p in probes)


class Optimization(Mapping):
    """The optimizers of a run (by name, as a mapping), and the way to step them that honours the
    loop's settings.

    ``backward(loss)`` scales the loss (by ``1/accumulate``, and by the GradScaler in 16-mixed)
    and runs backward outside autocast; ``step(name)`` steps one optimizer (all when no name is
    given) at the end of an accumulation window: unscale, clip, step, ``zero_grad``, and the
    optimizer's scheduler. Inside a window's earlier micro-batches ``step`` only keeps the
    gradients, so a trainer needs no branch of its own.
    """

    def __init__(
        self,
        optimizers: Mapping[str, Any],
        schedulers: Mapping[str, Any] | None = None,
        *,
        device: Any = None,
        precision: str = "32-true",
        accumulate: int = 1,
        grad_clip: float | None = None,
        graphed: bool = False,
        average: Any = None,
    ) -> None:
        import torch

        self.optimizers = dict(optimizers)
        self.device = device if device is not None else torch.device("cpu")
        self.schedulers = {k: v for k, v in (schedulers or {}).items() if v is not None}
        self.precision = precision
        self.accumulate = accumulate
        self.grad_clip = grad_clip
        self.dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
        # a CUDA graph bakes in what autocast cached while recording: no cache then
        self._cache = not graphed
        self.scaler = torch.amp.GradScaler(self.device.type) if precision == "16-mixed" else None
        self.average = average  # a data-parallel job's all-reduce of a list of parameters' gradients
        self._plain = average is None and self.scaler is None and grad_clip is None
        self.micro = 0  # micro-batches seen in the current accumulation window (0-based)
        self._stepped: list[str] = []

    # -- what a trainer calls ----------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        return self.optimizers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.optimizers)

    def __len__(self) -> int:
        return len(self.optimizers)

    @property
    def last_micro_batch(self) -> bool:
        """True on the micro-batch that ends an accumulation window (always, without accumulation)."""
        return self.micro == self.accumulate - 1

    def backward(self, loss: Any, **kwargs: Any) -> None:
        """``loss.backward(**kwargs)``, scaled for accumulation and 16-mixed, outside autocast."""
        if self.accumulate > 1:
            loss = loss / self.accumulate
        if self.scaler is not None:
            loss = self.scaler.scale(loss)
        if self.dtype is None:  # the common case, on the hot path: nothing to leave
            loss.backward(**kwargs)
            return
        with self._no_autocast():
            loss.backward(**kwargs)

    def step(self, name: str | None = None) -> None:
        """At the end of a window: unscale, clip, step and zero the gradients of ``name`` (or all)."""
        if not self.last_micro_batch:
            return
        import torch

        for key in (name,) if name is not None else self.optimizers:
            optimizer = self.optimizers[key]
            self._stepped.append(key)
            if self._plain:  # nothing to average, unscale or clip: the hand loop's two calls
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                continue
            if self.average is not None:
                self.average([p for group in optimizer.param_groups for p in group["params"]])
            if self.scaler is not None:
                self.scaler.unscale_(optimizer)
            if self.grad_clip is not None:
                params = [p for group in optimizer.param_groups for p in group["params"]]
                torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
            if self.scaler is not None:
                self.scaler.step(optimizer)
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    # -- what the loop calls -----------------------------------------------------------------
    def stepped(self, *names: str) -> None:
        """Record optimizers a version-1 trainer stepped itself, so their schedulers follow."""
        self._stepped.extend(names)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The forward pass in the run's precision (nothing to do in 32-true)."""
        if self.dtype is None:
            return _NOTHING
        import torch

        return torch.autocast(self.device.type, dtype=self.dtype, cache_enabled=self._cache)

    def _no_autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.dtype is None:
            return contextlib.nullcontext()
        import torch

        return torch.autocast(self.device.type, enabled=False)

    def end_micro_batch(self) -> bool:
        """After a trainer's step: update the scaler and schedulers; True when a window closed."""
        closed = self.last_micro_batch
        if closed:
            if self.scaler is not None and self._stepped:
                self.scaler.update()
            if self.schedulers:
                for key in dict.fromkeys(self._stepped):
                    if key in self.schedulers:
                        self.schedulers[key].step()
            self._stepped.clear()
        self.micro = 0 if closed else self.micro + 1
        return closed

    def lr(self) -> float:
        """The first optimizer's current learning rate, for the metrics and the loss figure."""
        first = next(iter(self.optimizers.values()))
        value = first.param_groups[0]["lr"]
        return float(value)

    def state_dict(self) -> dict[str, Any]:
        """Schedulers' and the scaler's state, for resume (the optimizers are saved by the loop)."""
        state: dict[str, Any] = {"schedulers": {k: s.state_dict() for k, s in self.schedulers.items()}}
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for key, saved in dict(state.get("schedulers", {})).items():
            if key in self.schedulers:
                self.schedulers[key].load_state_dict(dict(saved))
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(dict(state["scaler"]))
