"""CUDA graphs for the shared loop: record a trainer's whole step once, then replay it.

A small model's training step on a GPU is mostly kernel launches: Python and the CUDA driver take
longer to queue the forward, backward and optimizer kernels than the GPU takes to run them. When a
trainer declares ``capturable = True`` (static shapes, no host syncs) and its data are in-memory
tensors, ``fit`` runs the step through a :class:`GraphedStep`:

1. the first ``warmup`` steps run eagerly on a side stream (real training steps: they use their
   batches and count), so lazy initialisation (optimizer state, library handles) happens outside
   the capture;
2. the next step is recorded as one ``torch.cuda.CUDAGraph`` (forward, backward and every
   optimizer step), reading its batch from static input buffers, and then replayed;
3. every later step copies its batch into those buffers and replays the graph: one launch.

Adam-like optimizers are switched to ``capturable=True`` (their step counters live on the GPU);
checkpoints still record the optimizer's own setting, so a run resumes anywhere. A batch shaped
differently from the captured one (an epoch's smaller last batch) runs eagerly. When the capture
fails the run goes on eagerly and says why in one line. ``--set cuda_graphs=false`` (or
``zoo train --no-cuda-graphs``) turns capture off.

What a capturable step must not do: read a tensor's value on the host (``.item()``, ``if loss``),
change shapes between steps, rely on gradients left by the previous step, or change settings the
graph baked in (a learning-rate schedule that edits ``param_groups``).

The plumbing is independent of CUDA: :class:`ReplayBackend` stands in for the graph on any device
by re-running the recorded step, which is how the tests check it on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

WARMUP_STEPS = 3
PREFIX = "cuda graphs:"

Step = Callable[[Any, Any, Mapping[str, Any]], Mapping[str, Any]]


def wrap_step(
    step_logic: Any,
    device: Any,
    *,
    enabled: bool = True,
    preloaded: bool,
    say: Callable[[str], None] | None = None,
    backend: Any = None,
    step: Step | None = None,
) -> Step:
    """``step`` (default ``step_logic.step``), or a :class:`GraphedStep` around it when it can be captured.

    Capture needs a CUDA device (or an explicit ``backend``), ``enabled`` (the ``cuda_graphs`` loop setting),
    a trainer with ``capturable = True`` and preloaded (in-memory tensor) data.
    """
    say = say or _silent
    step = step or step_logic.step
    if not enabled:
        return step
    backend = backend if backend is not None else _backend_for(device)
    if backend is None:
        return step
    if not getattr(step_logic, "capturable", False):
        say(f"{PREFIX} off, trainer {type(step_logic).__name__} does not declare capturable = True")
        return step
    if not preloaded:
        say(f"{PREFIX} off, the training data are not in-memory tensors (batches come from a DataLoader)")
        return step
    return GraphedStep(step, backend, say=say)


def _silent(text: str) -> None:
    return None


def _backend_for(device: Any) -> Any:
    """The capture backend for ``device``: CUDA graphs on a CUDA device, none elsewhere."""
    if getattr(device, "type", None) == "cuda":
        return CudaBackend(device)
    return None


class GraphedStep:
    """Run ``step`` eagerly ``warmup`` times, then capture it once and replay it for every batch.

    Called like a trainer's step: ``graphed(model, batch, optimizers)`` returns the step's losses
    (fresh tensors, safe to keep and add up). ``status`` is ``"warming"``, ``"captured"`` or
    ``"eager"`` (capture failed or was impossible; ``reason`` says why).
    """

    def __init__(
        self,
        step: Step,
        backend: Any,
        *,
        warmup: int = WARMUP_STEPS,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.step = step
        self.backend = backend
        self.warmup = warmup
        self.say = say or _silent
        self.status = "warming"
        self.reason = ""
        self.warmed = 0  # eager warm-up steps done
        self.replays = 0  # steps run by replaying the graph (the first one included)
        self.eager_steps = 0  # steps run eagerly after the warm-up (odd batches, fallback)
        self._static_batch: Any = None
        self._prepared = False
        self._odd_said = False

    def __call__(self, model: Any, batch: Any, optimizers: Mapping[str, Any]) -> Mapping[str, Any]:
        if self.status == "eager":
            return self._eager(model, batch, optimizers)
        if not self._prepared:
            self.backend.prepare(optimizers)
            self._prepared = True
        if self.status == "warming":
            if self.warmed < self.warmup:
                self.warmed += 1
                return self.backend.warm(lambda: self.step(model, batch, optimizers))
            return self._capture(model, batch, optimizers)
        if not _same_layout(self._static_batch, batch):
            if not self._odd_said:
                self._odd_said = True
                self.say(
                    f"{PREFIX} a batch shaped {_shapes(batch)} differs from the captured "
                    f"{_shapes(self._static_batch)}; such batches run eagerly"
                )
            return self._eager(model, batch, optimizers)
        _copy_into(self._static_batch, batch)
        return self._replay()

    # -- internals ---------------------------------------------------------------------------
    def _capture(self, model: Any, batch: Any, optimizers: Mapping[str, Any]) -> Mapping[str, Any]:
        static = _clone(batch)
        if static is None:
            return self._fall_back(
                "the batch is not a tensor or a tuple/list/dict of them", model, batch, optimizers
            )
        # Gradients must be allocated inside the capture (from the graph's memory), not left over.
        _drop_grads(model, optimizers)
        try:
            self.backend.capture(lambda: self.step(model, static, optimizers))
        except Exception as exc:  # any failure to record: the run goes on eagerly
            return self._fall_back(f"capture failed ({_describe(exc)})", model, batch, optimizers)
        self._static_batch = static
        self.status = "captured"
        out = self._replay()  # recording ran nothing: this replay is the step for this batch
        bad = sorted(k for k, v in self.backend.outputs.items() if not _is_tensor(v))
        if bad:  # a graph can only hand back tensors; a number would be frozen at its captured value
            return self._fall_back(
                f"the step returned non-tensor values for {bad}", model, None, optimizers, out
            )
        self.say(
            f"{PREFIX} step captured after {self.warmed} warm-up steps and replayed from now on "
            "(--set cuda_graphs=false turns this off)"
        )
        return out

    def _replay(self) -> Mapping[str, Any]:
        self.backend.replay()
        self.replays += 1
        return {k: v.clone() if _is_tensor(v) else v for k, v in self.backend.outputs.items()}

    def _eager(self, model: Any, batch: Any, optimizers: Mapping[str, Any]) -> Mapping[str, Any]:
        self.eager_steps += 1
        return self.step(model, batch, optimizers)

    def _fall_back(
        self,
        reason: str,
        model: Any,
        batch: Any,
        optimizers: Mapping[str, Any],
        result: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        """Give up on capture for this run: say why once, forget the graph, run ``batch`` eagerly."""
        self.status, self.reason = "eager", reason
        self._static_batch = None
        self.backend.reset()
        _drop_grads(model, optimizers)  # a failed capture may leave gradients that hold no values
        self.say(f"{PREFIX} off, the step runs eagerly: {reason}")
        return result if result is not None else self._eager(model, batch, optimizers)


class CudaBackend:
    """Records and replays on a CUDA device, the way torch's whole-network capture recipe does."""

    def __init__(self, device: Any) -> None:
        import torch

        self.torch = torch
        self.device = device
        self.stream = torch.cuda.Stream(device=device)  # warm-up and capture share one side stream
        self.graph: Any = None
        self.outputs: Mapping[str, Any] = {}

    def prepare(self, optimizers: Mapping[str, Any]) -> None:
        make_capturable(optimizers)

    def warm(self, fn: Callable[[], Any]) -> Any:
        torch = self.torch
        with torch.cuda.device(self.device):
            current = torch.cuda.current_stream()
            self.stream.wait_stream(current)
            with torch.cuda.stream(self.stream):
                out = fn()
            current.wait_stream(self.stream)
        return out

    def capture(self, fn: Callable[[], Mapping[str, Any]]) -> None:
        torch = self.torch
        with torch.cuda.device(self.device):
            current = torch.cuda.current_stream()
            self.stream.wait_stream(current)  # the static batch was filled on the current stream
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, stream=self.stream):
                outputs = fn()
            current.wait_stream(self.stream)
        self.graph, self.outputs = graph, dict(outputs)

    def replay(self) -> None:
        self.graph.replay()

    def reset(self) -> None:
        self.graph, self.outputs = None, {}


class ReplayBackend:
    """Stands in for a CUDA graph on any device: "replay" re-runs the recorded step.

    The step's outputs are kept in static tensors updated in place at every replay, as a graph's
    outputs are, so the plumbing around them (copy-in, cloned losses, fallback) is the same.
    ``fail`` makes ``capture`` raise it, to exercise the fallback.
    """

    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail
        self.fn: Callable[[], Mapping[str, Any]] | None = None
        self.outputs: dict[str, Any] = {}
        self.prepared = 0
        self.warm_calls = 0
        self.captures = 0
        self.replays = 0

    def prepare(self, optimizers: Mapping[str, Any]) -> None:
        self.prepared += 1  # capturable optimizers are a CUDA matter: nothing to switch here

    def warm(self, fn: Callable[[], Any]) -> Any:
        self.warm_calls += 1
        return fn()

    def capture(self, fn: Callable[[], Mapping[str, Any]]) -> None:
        self.captures += 1
        if self.fail is not None:
            raise self.fail
        self.fn = fn

    def replay(self) -> None:
        assert self.fn is not None, "replay before capture"
        self.replays += 1
        fresh = self.fn()
        if not self.outputs:
            self.outputs = {k: v.detach().clone() if _is_tensor(v) else v for k, v in fresh.items()}
            return
        for key, value in fresh.items():
            if _is_tensor(value):
                self.outputs[key].copy_(value)
            else:
                self.outputs[key] = value

    def reset(self) -> None:
        self.fn, self.outputs = None, {}


# -- optimizers ------------------------------------------------------------------------------------
def make_capturable(optimizers: Mapping[str, Any]) -> list[str]:
    """Switch optimizers that have a ``capturable`` setting (Adam, AdamW, RMSprop...) to ``True``.

    Their step counters move to the parameters' device (as torch does when it loads a capturable
    optimizer's state). ``state_dict()`` keeps reporting the original setting, so checkpoints
    resume on any device. Returns the names of the optimizers switched.
    """
    import torch

    switched = []
    for name, opt in optimizers.items():
        groups = [g for g in opt.param_groups if "capturable" in g]
        if not groups or all(g["capturable"] for g in groups):
            continue
        original = [g.get("capturable") for g in opt.param_groups]
        for group in groups:
            group["capturable"] = True
            for param in group["params"]:
                state = opt.state.get(param, {})
                step = state.get("step")
                if torch.is_tensor(step) and step.device != param.device:
                    state["step"] = step.to(device=param.device, dtype=torch.float32)
        if not getattr(opt, "_zoo_capturable_hook", False):
            opt.register_state_dict_post_hook(_report_original(original))
            opt._zoo_capturable_hook = True
        switched.append(name)
    return switched


def _report_original(original: list[Any]) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
    def hook(optimizer: Any, state_dict: dict[str, Any]) -> dict[str, Any]:
        for group, flag in zip(state_dict["param_groups"], original, strict=False):
            if "capturable" in group and flag is not None:
                group["capturable"] = flag
        return state_dict

    return hook


def _drop_grads(model: Any, optimizers: Mapping[str, Any]) -> None:
    for param in model.parameters():
        param.grad = None
    for opt in optimizers.values():
        opt.zero_grad(set_to_none=True)


# -- batches ---------------------------------------------------------------------------------------
def _is_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


def _leaves(batch: Any) -> list[Any] | None:
    """The tensors of a batch (a tensor, or a tuple/list/dict of tensors), in order; None otherwise."""
    if _is_tensor(batch):
        return [batch]
    if isinstance(batch, (tuple, list)):
        items = list(batch)
    elif isinstance(batch, dict):
        items = list(batch.values())
    else:
        return None
    out: list[Any] = []
    for item in items:
        inner = _leaves(item)
        if inner is None:
            return None
        out += inner
    return out


def _clone(batch: Any) -> Any:
    """Static buffers shaped like ``batch`` (a copy of it), or None when it is not all tensors."""
    if _leaves(batch) is None:
        return None
    if _is_tensor(batch):
        return batch.detach().clone()
    if isinstance(batch, dict):
        return {k: _clone(v) for k, v in batch.items()}
    return type(batch)(_clone(b) for b in batch)


def _same_layout(static: Any, batch: Any) -> bool:
    if type(static) is not type(batch):
        return False
    if isinstance(static, dict) and list(static) != list(batch):
        return False
    a, b = _leaves(static), _leaves(batch)
    if a is None or b is None or len(a) != len(b):
        return False
    return all(
        x.shape == y.shape and x.dtype == y.dtype and x.device == y.device for x, y in zip(a, b, strict=True)
    )


def _copy_into(static: Any, batch: Any) -> None:
    for dst, src in zip(_leaves(static) or [], _leaves(batch) or [], strict=True):
        dst.copy_(src, non_blocking=True)


def _shapes(batch: Any) -> str:
    leaves = _leaves(batch) or []
    return ", ".join("x".join(str(d) for d in t.shape) or "scalar" for t in leaves)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
