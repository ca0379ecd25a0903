"""Every built-in lesson trains with the loop's optimization options (short CPU runs)."""

from __future__ import annotations

import math

import pytest

import zoo_core
from zoo_core.training.loop import train_model

OPTIONS = {"precision": "bf16-mixed", "grad_clip": 1.0, "accumulate": 2, "scheduler": "cosine"}
MNIST_MODELS = {"cnn", "rnn-classifier", "autoencoder"}


#: torchvision's 80 architectures (plugin vision) share one wrapper: tests/plugins/test_vision.py
#: trains each family's smallest member; here the loop's options run on the lessons' own models
@pytest.mark.parametrize("name", [e.name for e in zoo_core.list_models() if e.plugin != "vision"])
def test_every_lesson_trains_with_bf16_clipping_accumulation_and_cosine(name, mnist_root, tmp_path):
    batch = {"rnn-regressor": 1, "batchnorm": 64, "dqn": 1}.get(name, 20)
    if name == "char-gpt" and _bf16_attention_forced_off():
        pytest.skip("torch's bf16 attention on a CPU with native bfloat16 needs its AVX-512 kernels")
    # cosine from the full lr to zero in these 4 steps (char-gpt's recipe warms up over 100, to 0.1 lr)
    options, sets = dict(OPTIONS), ["log_every=1", "scheduler.warmup_steps=0", "scheduler.min_factor=0"]
    if name == "dqn":  # it learns at every move of an episode (one step): no accumulation; a small memory
        pytest.importorskip("gymnasium")
        options["accumulate"] = 1
        sets.append("memory_size=20")
    result = train_model(
        name,
        device="cpu",
        steps=4,
        batch_size=batch,
        data_root=str(mnist_root) if name in MNIST_MODELS else None,
        out=tmp_path / "run",
        sets=sets,
        **options,
    )
    assert result.step == 4 and len(result.history) == 4
    rows = result.history
    losses = [
        v
        for row in rows
        for k, v in row.items()
        if k == "loss" or k.endswith("_loss") or k.startswith("loss_")
    ]
    assert losses and all(math.isfinite(v) for v in losses)
    if name != "dqn":
        assert rows[-1]["lr"] == pytest.approx(0.0, abs=1e-12)  # the cosine reached its end
    else:  # the schedule moves on the episodes in which it learnt (not before its memory filled)
        assert rows[-1]["lr"] < rows[0]["lr"]
    saved = result.config.loop
    assert (saved.precision, saved.grad_clip, saved.accumulate) == (
        "bf16-mixed",
        1.0,
        options["accumulate"],
    )
    assert result.config.scheduler == "standard:cosine"


def _bf16_attention_forced_off() -> bool:
    """ATEN_CPU_CAPABILITY below avx512 on a CPU with native bfloat16: torch's bf16 attention picks
    its kernel by the CPU and then fails ("pack_vnni2 is only supported when avx512 is supported")."""
    import os

    import torch

    forced = os.environ.get("ATEN_CPU_CAPABILITY", "").lower() in ("default", "avx2")
    return forced and bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())
