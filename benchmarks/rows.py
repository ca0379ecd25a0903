"""The rows of the table: each measures zoo and its baseline side by side and judges the target."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Result,
    Settings,
    Skip,
    fmt,
    median,
    mnist_root,
    need_cuda,
    paired,
    run_folder,
    train,
)
from zoo_core.plugin.text import table as text_table


@dataclass
class Row:
    id: str
    group: str  # "cpu" or "gpu"
    figure: str
    run: Callable[[Settings], Result]


ROWS: list[Row] = []


def row(
    id: str, group: str, figure: str
) -> Callable[[Callable[[Settings], Result]], Callable[[Settings], Result]]:
    def register(fn: Callable[[Settings], Result]) -> Callable[[Settings], Result]:
        ROWS.append(Row(id, group, figure, fn))
        return fn

    return register


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _first_difference(a: list[float], b: list[float]) -> str:
    if len(a) != len(b):
        return f"{len(a)} vs {len(b)} losses"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x != y:
            return f"step {i + 1}: {x!r} vs {y!r}"
    return ""


# -- zoo list ----------------------------------------------------------------------------------------
def zoo_script() -> str:
    """The installed ``zoo`` console script (beside this Python, else on PATH)."""
    here = Path(sys.executable).parent / ("zoo.exe" if os.name == "nt" else "zoo")
    found = str(here) if here.exists() else shutil.which("zoo")
    if not found:
        raise Skip("the zoo console script is not installed (pip install -e .)")
    return found


def _wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return elapsed


def imported_modules(cmd: list[str], env: dict[str, str]) -> set[str]:
    """Every module ``cmd`` imports (Python's ``-X importtime`` report, through the environment)."""
    done = subprocess.run(
        cmd,
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    names = set()
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", line)
        if match:
            names.add(match.group(1))
    return names


@row("cli-list", "cpu", "`zoo list` wall time (subprocess)")
def cli_list(s: Settings) -> Result:
    result = Result("cli-list", "`zoo list` wall time (subprocess)", unit="s", target="<= 0.10x; no torch")
    script = zoo_script()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    zs, bs = paired(
        lambda: {"value": _wall([script, "list"], env)},
        lambda: {"value": _wall([sys.executable, "-c", "import torch"], env)},
        s.repeats(7, 1),
        warmup=1,
        log=s.log,
    )
    zoo, base = median([z["value"] for z in zs]), median([b["value"] for b in bs])
    modules = imported_modules([script, "list"], env)
    torch_free = "torch" not in modules
    result.zoo, result.baseline, result.ratio = zoo, base, zoo / base
    result.status = verdict(result.ratio <= 0.10 and torch_free)
    result.notes = (
        f"baseline: python -c 'import torch'; {'torch never imported' if torch_free else 'TORCH IMPORTED'} "
        f"({len(modules)} modules)"
    )
    result.data = {
        "zoo_s": [z["value"] for z in zs],
        "baseline_s": [b["value"] for b in bs],
        "script": script,
    }
    return result


# -- step overhead: regression ---------------------------------------------------------------------
@row("step-mlp", "cpu", "shared-trainer step overhead, regression 1-10-1 (full batch of 100)")
def step_mlp(s: Settings) -> Result:
    from benchmarks import baselines

    steps = 200  # the lesson's recipe
    result = Result(
        "step-mlp",
        "step overhead, regression lesson (1-10-1, full batch 100, 200 steps)",
        unit="us/step",
        target="<= +25 us/step; same losses",
    )

    def zoo() -> dict[str, Any]:
        with run_folder() as tmp:
            run, _ = train("regression", out=tmp / "run", device="cpu", steps=steps)
        losses = [r["loss"] for r in run.history]
        return {"value": run.loop_seconds / run.step * 1e6, "losses": losses}

    def hand() -> dict[str, Any]:
        # the lesson's own network and optimizer (torch's SGD as the registry builds it) in a plain
        # loop: only the loop differs, which is what this row measures
        from zoo_core import create_model

        return baselines.regression(steps, model=lambda: create_model("regression"))

    zs, bs = paired(zoo, hand, s.repeats(21, 3), log=s.log)
    return _overhead(result, zs, bs, limit_us=25.0)


def _paired_medians(result: Result, zs: list[dict[str, Any]], bs: list[dict[str, Any]]) -> None:
    """A paired row's figures: each side's median value, the median of the per-pair ratios, the runs."""
    result.zoo, result.baseline = median([z["value"] for z in zs]), median([b["value"] for b in bs])
    result.ratio = median([z["value"] / b["value"] for z, b in zip(zs, bs, strict=True)])
    result.data = {"zoo": zs, "baseline": bs}


def _overhead(
    result: Result,
    zs: list[dict[str, Any]],
    bs: list[dict[str, Any]],
    *,
    limit_us: float | None = None,
    limit_ratio: float | None = None,
) -> Result:
    zoo, base = median([z["value"] for z in zs]), median([b["value"] for b in bs])
    diffs = [z["value"] - b["value"] for z, b in zip(zs, bs, strict=True)]
    ratios = [z["value"] / b["value"] for z, b in zip(zs, bs, strict=True)]
    extra = median(diffs)
    same = [_first_difference(z["losses"], b["losses"]) for z, b in zip(zs, bs, strict=True)]
    identical = not any(same)
    result.zoo, result.baseline, result.ratio = zoo, base, median(ratios)
    ok = identical
    if limit_us is not None:
        ok = ok and extra <= limit_us
    if limit_ratio is not None:
        ok = ok and result.ratio <= limit_ratio
    result.status = verdict(ok)
    n = len(zs[0]["losses"])
    result.notes = f"{extra:+.1f} {result.unit} (median of paired differences); " + (
        f"losses identical ({n} steps x {len(zs)} runs)"
        if identical
        else f"LOSSES DIFFER: {next(d for d in same if d)}"
    )
    result.data = {
        "zoo": [z["value"] for z in zs],
        "baseline": [b["value"] for b in bs],
        "paired_difference": diffs,
        "paired_ratio": ratios,
        "losses_identical": identical,
    }
    return result


# -- step overhead: CNN ------------------------------------------------------------------------------
@row("step-cnn", "cpu", "shared-trainer step overhead, CNN lesson (MNIST, batch 50)")
def step_cnn(s: Settings) -> Result:
    from benchmarks import baselines

    result = Result(
        "step-cnn", "step overhead, CNN lesson (same batches)", unit="ms/step", target="<= +3%; same losses"
    )
    root = mnist_root(s.mnist)
    images, labels = baselines.mnist_tensors(root, train=True)
    steps = 20 if s.quick else len(images) // 50  # one epoch: 160 steps on the 8,000-image split

    def zoo() -> dict[str, Any]:
        with run_folder() as tmp:
            run, _ = train("cnn", out=tmp / "run", device="cpu", steps=steps, data_root=str(root))
        assert len(run.history) == steps, "expected one metrics row per step"
        return {"value": run.loop_seconds / run.step * 1e3, "losses": [r["loss"] for r in run.history]}

    def hand() -> dict[str, Any]:
        # the lesson's own network and optimizer settings, in a plain loop: only the loop differs
        from zoo_core import create_model

        return baselines.cnn_on_batches(images, labels, steps=steps, model=lambda: create_model("cnn"))

    zs, bs = paired(zoo, hand, s.repeats(5, 1), warmup=0 if s.quick else 1, log=s.log)
    return _overhead(result, zs, bs, limit_ratio=1.03)


# -- CNN epoch on the CPU ---------------------------------------------------------------------------
def _accuracy_check(
    zoo_acc: list[float], base_acc: list[float], tolerance: float = 0.005
) -> tuple[bool, str]:
    z, b = sum(zoo_acc) / len(zoo_acc), sum(base_acc) / len(base_acc)
    ok = abs(z - b) <= tolerance
    return (
        ok,
        f"accuracy {z:.2%} vs {b:.2%} (mean of {len(zoo_acc)} seeds; within {tolerance:.1%}: {'yes' if ok else 'NO'})",
    )


@row("epoch-cnn-cpu", "cpu", "CNN lesson, one epoch on the CPU")
def epoch_cnn_cpu(s: Settings) -> Result:
    from benchmarks import baselines

    result = Result(
        "epoch-cnn-cpu",
        "CNN lesson, one epoch on the CPU",
        unit="s",
        target="<= 0.667x (1.5x faster); same accuracy",
    )
    root = mnist_root(s.mnist)
    steps = 20 if s.quick else None
    seed = {"zoo": 0, "baseline": 0}

    def zoo() -> dict[str, Any]:
        with run_folder() as tmp:
            extra = {"steps": steps} if steps else {}
            run, _ = train(
                "cnn", out=tmp / "run", device="cpu", data_root=str(root), seed=seed["zoo"], **extra
            )
        seed["zoo"] += 1
        return {"value": run.loop_seconds, "accuracy": run.metrics["accuracy"], "run_seconds": run.seconds}

    def tutorial() -> dict[str, Any]:
        out = baselines.cnn_tutorial_epoch(root, seed=seed["baseline"], steps=steps)
        seed["baseline"] += 1
        return out

    zs, bs = paired(zoo, tutorial, s.repeats(3, 1), warmup=0, log=s.log)
    zoo_s, base_s = median([z["value"] for z in zs]), median([b["value"] for b in bs])
    ratio = median([z["value"] / b["value"] for z, b in zip(zs, bs, strict=True)])
    same, words = _accuracy_check([z["accuracy"] for z in zs], [b["accuracy"] for b in bs])
    result.zoo, result.baseline, result.ratio = zoo_s, base_s, ratio
    result.status = verdict(ratio <= 1 / 1.5 and same)
    result.notes = f"{1 / ratio:.2f}x faster; {words}; baseline: torchvision ToTensor DataLoader loop"
    result.data = {"zoo": zs, "baseline": bs, "speedup": 1 / ratio}
    return result


# -- checkpoint load ----------------------------------------------------------------------------------
@row("load-cnn", "cpu", "checkpoint load, CNN")
def load_cnn(s: Settings) -> Result:
    import torch
    from safetensors.torch import load_file

    import zoo_core
    from zoo_core.store import checkpoint

    result = Result("load-cnn", "checkpoint load, CNN weights", unit="ms", target="<= 0.25x (4x faster)")
    root = mnist_root(s.mnist)
    with run_folder() as tmp:
        run, _ = train("cnn", out=tmp / "run", device="cpu", steps=5, data_root=str(root))
        weights = run.run_dir / checkpoint.WEIGHTS
        model = zoo_core.load_model(run.run_dir)
        pickled = tmp / "state_dict.pt"
        torch.save(model.state_dict(), pickled)
        loops = 20 if s.quick else 200  # loads per sample: each one is well under a millisecond

        def many(fn: Callable[[], Any]) -> dict[str, Any]:
            start = time.perf_counter()
            for _ in range(loops):
                value = fn()
            return {"value": (time.perf_counter() - start) / loops * 1e3, "loaded": value}

        zs, bs = paired(
            lambda: many(lambda: load_file(str(weights))),
            lambda: many(lambda: torch.load(pickled, weights_only=True)),
            s.repeats(15, 3),
            log=s.log,
        )
        a, b = zs[-1]["loaded"], bs[-1]["loaded"]
        same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        # and the comparison the CLI prints
        formats = _compare_formats(run.run_dir) if not s.quick else "not run in --quick"
    zoo_ms, base_ms = median([z["value"] for z in zs]), median([b["value"] for b in bs])
    ratio = median([z["value"] / b["value"] for z, b in zip(zs, bs, strict=True)])
    result.zoo, result.baseline, result.ratio = zoo_ms, base_ms, ratio
    ok_formats = not isinstance(formats, str) or formats == "not run in --quick"
    result.status = verdict(ratio <= 0.25 and same and ok_formats)
    result.notes = (
        f"{1 / ratio:.1f}x faster; safetensors load_file vs torch.load(weights_only=True) of the state dict; "
        f"tensors {'identical' if same else 'DIFFER'}; zoo compare-formats: "
        + (formats if isinstance(formats, str) else f"{len(formats)} formats, all identical")
    )
    result.data = {
        "zoo": [z["value"] for z in zs],
        "baseline": [b["value"] for b in bs],
        "compare_formats": formats,
    }
    return result


def _compare_formats(run_dir: Path) -> Any:
    """``zoo compare-formats RUN --json`` as a subprocess: its rows, or a sentence on what is wrong."""
    import json

    done = subprocess.run(
        [zoo_script(), "compare-formats", str(run_dir), "--json", "--repeat", "5"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return f"FAILED ({done.stderr.strip()[-200:]})"
    rows = json.loads(done.stdout)
    names = [r["format"] for r in rows]
    if names[:3] != ["safetensors", "state-dict pickle", "whole-model pickle"]:
        return f"UNEXPECTED FORMATS {names}"
    if not all(r["identical"] for r in rows[:3]):  # the exports after them are checked by zoo export
        return "A FORMAT DID NOT ROUND-TRIP"
    return rows


# -- precision and compile: the same CNN epoch, one option changed -------------------------------------
def _cnn_epochs(
    s: Settings, device: str, changed: dict[str, Any], repeat: int
) -> tuple[list[Any], list[Any]]:
    """Paired CNN epochs on ``device``: with ``changed`` loop options (zoo) and without (baseline)."""
    root = mnist_root(s.mnist)
    steps = {"steps": 20} if s.quick else {}

    def one(options: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            with run_folder() as tmp:
                result, _ = train(
                    "cnn", out=tmp / "run", device=device, data_root=str(root), **steps, **options
                )
            return {
                "value": result.loop_seconds,
                "accuracy": result.metrics["accuracy"],
                "compile_seconds": result.compile_seconds,
                "step_ms": result.loop_seconds / result.step * 1e3,
            }

        return run

    return paired(one(changed), one({}), repeat, warmup=0, log=s.log)


def _option_row(id: str, group: str, device: str, figure: str, changed: dict[str, Any], target: str) -> None:
    """A row: the CNN lesson's epoch with ``changed`` against 32-true eager, side by side."""

    @row(id, group, figure)
    def measure(s: Settings) -> Result:
        if device == "cuda":
            need_cuda()
        result = Result(id, figure, unit="s", target=target)
        zs, bs = _cnn_epochs(s, device, changed, s.repeats(3 if "compile" not in changed else 1, 1))
        _paired_medians(result, zs, bs)
        same, words = _accuracy_check(
            [z["accuracy"] for z in zs], [b["accuracy"] for b in bs], tolerance=0.01
        )
        compiled = [z["compile_seconds"] for z in zs if z["compile_seconds"]]
        extra = f"; compile {median(compiled):.1f} s apart from the loop" if compiled else ""
        step_ms = median([z["step_ms"] for z in zs]), median([b["step_ms"] for b in bs])
        result.status = verdict(same)
        result.notes = (
            f"{step_ms[0]:.2f} vs {step_ms[1]:.2f} ms/step, {1 / result.ratio:.2f}x the speed of 32-true eager"
            f"{extra}; {words}; {_cpu_features() if device == 'cpu' else 'CUDA'}"
        )
        return result


def _cpu_features() -> str:
    """Whether this CPU has native bfloat16 (it decides what bf16-mixed costs)."""
    import torch

    from zoo_core.training.optimization import _native_bf16_cpu

    kind = torch.backends.cpu.get_cpu_capability()
    return f"CPU {kind}, {'native' if _native_bf16_cpu() else 'no native'} bfloat16"


_option_row(
    "bf16-cnn-cpu",
    "cpu",
    "cpu",
    "CNN epoch on the CPU, --precision bf16-mixed vs 32-true",
    {"precision": "bf16-mixed"},
    "same accuracy (within 1%); time reported",
)
_option_row(
    "compile-cnn-cpu",
    "cpu",
    "cpu",
    "CNN epoch on the CPU, --compile vs eager (loop time; compile time apart)",
    {"compile": True},
    "same accuracy (within 1%); time reported",
)


# -- 601 attention: char-gpt on the CPU ------------------------------------------------------------
def _char_gpt_steps(s: Settings) -> int:
    """Steps timed per run: the recipe's first 200 (its schedule set for those), 20 with --quick."""
    return 20 if s.quick else 200


def _char_gpt_warmup(steps: int) -> int:
    """The recipe's 100 warm-up steps, or half a --quick run's (a longer warm-up is refused)."""
    return min(100, steps // 2)


@row("step-char-gpt", "cpu", "shared-trainer step, char-gpt (nanoGPT's CPU recipe, batch 12 x 64)")
def step_char_gpt(s: Settings) -> Result:
    from benchmarks import baselines

    steps = _char_gpt_steps(s)
    result = Result(
        "step-char-gpt",
        f"step, char-gpt lesson vs a plain loop of the same model ({steps} steps, same batches)",
        unit="ms/step",
        target="<= +3%; same losses",
    )
    from zoo_core import create_dataset, create_model
    from zoo_core.plugin.discovery import get_zoo

    x, y = create_dataset("tiny-shakespeare").train.tensors

    def zoo() -> dict[str, Any]:
        with run_folder() as tmp:
            sets = ["log_every=1", f"scheduler.warmup_steps={_char_gpt_warmup(steps)}"]
            run, _ = train("char-gpt", out=tmp / "run", device="cpu", steps=steps, sets=sets)
        return {"value": run.loop_seconds / run.step * 1e3, "losses": [r["loss"] for r in run.history]}

    lr = get_zoo().models.get("char-gpt").recipe["lr"]  # the lesson's, and a tenth of it at the end

    def hand() -> dict[str, Any]:
        return baselines.char_gpt(
            x,
            y,
            steps=steps,
            model=lambda: create_model("char-gpt"),
            lr=lr,
            min_lr=lr / 10,
            warmup=_char_gpt_warmup(steps),
        )

    zs, bs = paired(zoo, hand, s.repeats(5, 1), warmup=0 if s.quick else 1, log=s.log)
    return _overhead(result, zs, bs, limit_ratio=1.03)


def _char_gpt_option_row(id: str, figure: str, changed: dict[str, Any], target: str) -> None:
    """A row: char-gpt's first steps with ``changed`` against 32-true eager, side by side."""

    @row(id, "cpu", figure)
    def measure(s: Settings) -> Result:
        steps = _char_gpt_steps(s)
        result = Result(id, f"{figure} ({steps} steps)", unit="ms/step", target=target)

        def one(options: dict[str, Any]) -> Callable[[], dict[str, Any]]:
            def run() -> dict[str, Any]:
                with run_folder() as tmp:
                    warm = [f"scheduler.warmup_steps={_char_gpt_warmup(steps)}"]
                    done, _ = train(
                        "char-gpt", out=tmp / "run", device="cpu", steps=steps, sets=warm, **options
                    )
                return {
                    "value": done.loop_seconds / done.step * 1e3,
                    "eval_loss": done.metrics["eval_loss"],
                    "compile_seconds": done.compile_seconds,
                }

            return run

        zs, bs = paired(
            one(changed), one({}), s.repeats(3 if "compile" not in changed else 1, 1), warmup=0, log=s.log
        )
        _paired_medians(result, zs, bs)
        gap = abs(median([z["eval_loss"] for z in zs]) - median([b["eval_loss"] for b in bs]))
        compiled = [z["compile_seconds"] for z in zs if z["compile_seconds"]]
        extra = f"; compile {median(compiled):.1f} s apart from the loop" if compiled else ""
        result.status = verdict(gap <= 0.03)
        result.notes = (
            f"{1 / result.ratio:.2f}x the speed of 32-true eager{extra}; eval_loss "
            f"{median([z['eval_loss'] for z in zs]):.4f} vs {median([b['eval_loss'] for b in bs]):.4f} "
            f"(within 0.03: {'yes' if gap <= 0.03 else 'NO'}); {_cpu_features()}"
        )
        return result


_char_gpt_option_row(
    "bf16-char-gpt-cpu",
    "char-gpt on the CPU, --precision bf16-mixed vs 32-true",
    {"precision": "bf16-mixed"},
    "eval_loss within 0.03; >= 1.5x the speed on a CPU with native bfloat16 (reported elsewhere)",
)
_char_gpt_option_row(
    "compile-char-gpt-cpu",
    "char-gpt on the CPU, --compile vs eager (loop time; compile time apart)",
    {"compile": True},
    "eval_loss within 0.03; time reported",
)


# -- 701 vision: torchvision's resnet18 on 32x32 images ----------------------------------------------
def _cifar_from_digits(root: Path, out: Path) -> Path:
    """The MNIST split's digits as CIFAR-10's own files (python batches of 3x32x32 bytes), so the row
    reads 32x32 colour images through the real ``cifar10`` loader without a download."""
    import pickle

    import torch
    import torch.nn.functional as F

    from benchmarks import baselines

    folder = out / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def rows(train: bool) -> tuple[Any, list[int]]:
        images, labels = baselines.mnist_tensors(root, train=train)
        padded = F.pad(images, (2, 2, 2, 2)).expand(-1, 3, -1, -1)  # 28 -> 32 pixels, grey -> RGB
        return (padded * 255).round().to(torch.uint8).reshape(len(images), -1).numpy(), labels.tolist()

    data, labels = rows(train=True)
    per = -(-len(labels) // 5)
    for i in range(5):
        part = {"data": data[i * per : (i + 1) * per], "labels": labels[i * per : (i + 1) * per]}
        (folder / f"data_batch_{i + 1}").write_bytes(pickle.dumps(part, protocol=2))
    data, labels = rows(train=False)
    (folder / "test_batch").write_bytes(pickle.dumps({"data": data, "labels": labels}, protocol=2))
    names = {"label_names": [str(d) for d in range(10)]}
    (folder / "batches.meta").write_bytes(pickle.dumps(names, protocol=2))
    return out


def _resnet18_steps(s: Settings, n: int) -> int:
    """One epoch of batches of 64 (the vision recipe), 10 steps with --quick."""
    return 10 if s.quick else -(-n // 64)


def _resnet18_epoch(root: str, steps: int, **options: Any) -> dict[str, Any]:
    """``zoo train resnet18 --dataset cifar10`` for ``steps``: ms per step, its losses and accuracy."""
    with run_folder() as tmp:
        run, _ = train(
            "resnet18",
            out=tmp / "run",
            device="cpu",
            dataset="cifar10",
            data_root=root,
            steps=steps,
            **options,
        )
    return {
        "value": run.loop_seconds / run.step * 1e3,
        "losses": [r["loss"] for r in run.history if "loss" in r],
        "accuracy": run.metrics["accuracy"],
    }


@row("step-resnet18-cpu", "cpu", "shared-trainer epoch, torchvision resnet18 on 32x32 images (batch 64)")
def step_resnet18_cpu(s: Settings) -> Result:
    from benchmarks import baselines
    from zoo_core import create_dataset, create_model

    with run_folder() as data_root:
        root = str(_cifar_from_digits(mnist_root(s.mnist), data_root))
        splits = create_dataset("cifar10", data_root=root, download=False)
        images, labels = splits.train.tensors
        steps = _resnet18_steps(s, len(images))
        result = Result(
            "step-resnet18-cpu",
            f"resnet18 epoch on 32x32 images vs a plain loop of the same model ({steps} steps, same batches)",
            unit="ms/step",
            target="<= +3%; same losses",
        )

        def zoo() -> dict[str, Any]:
            return _resnet18_epoch(root, steps, sets=["log_every=1"])

        def hand() -> dict[str, Any]:
            return baselines.cnn_on_batches(
                images,
                labels,
                steps=steps,
                batch_size=64,
                model=lambda: create_model("resnet18", **splits.implies),
            )

        zs, bs = paired(zoo, hand, s.repeats(3, 1), warmup=0 if s.quick else 1, log=s.log)
    return _overhead(result, zs, bs, limit_ratio=1.03)


def _resnet18_option_row(id: str, figure: str, changed: dict[str, Any]) -> None:
    """A row: resnet18's epoch on 32x32 images with ``changed`` against the default (fp32, NCHW)."""

    @row(id, "cpu", figure)
    def measure(s: Settings) -> Result:
        with run_folder() as data_root:
            root = str(_cifar_from_digits(mnist_root(s.mnist), data_root))
            steps = _resnet18_steps(s, 8000)

            zs, bs = paired(
                lambda: _resnet18_epoch(root, steps, **changed),
                lambda: _resnet18_epoch(root, steps),
                s.repeats(3, 1),
                warmup=0,
                log=s.log,
            )
        result = Result(
            id, f"{figure} ({steps} steps)", unit="ms/step", target="same accuracy (within 1%); time reported"
        )
        _paired_medians(result, zs, bs)
        same, words = _accuracy_check(
            [z["accuracy"] for z in zs], [b["accuracy"] for b in bs], tolerance=0.01
        )
        result.status = verdict(same)
        result.notes = f"{1 / result.ratio:.2f}x the speed of the default; {words}; {_cpu_features()}"
        return result


_resnet18_option_row(
    "bf16-resnet18-cpu",
    "resnet18 on 32x32 images, --precision bf16-mixed vs 32-true",
    {"precision": "bf16-mixed"},
)
_resnet18_option_row(
    "channels-last-resnet18-cpu",
    "resnet18 on 32x32 images, --set model.channels_last=true vs NCHW",
    {"sets": ["model.channels_last=true"]},
)


@row("infer-cnn-cpu", "cpu", "CNN inference, a batch of 1,000 digits: eager vs .pt2 vs onnxruntime")
def infer_cnn_cpu(s: Settings) -> Result:
    """The CNN lesson's forward pass on 1,000 digits, three ways, each call timed in turn."""
    import torch

    import zoo_core
    from benchmarks.common import quiet_gc
    from zoo_core.serve.export import export_onnx, export_pt2, largest_difference

    result = Result(
        "infer-cnn-cpu",
        "CNN inference, 1,000 digits: exported .pt2 (zoo) vs eager PyTorch",
        unit="ms",
        target="<= 1.10x; all three agree",
    )
    try:
        from zoo_core.serve.export import require_onnx

        ort = require_onnx()
    except Exception as exc:
        raise Skip(f"onnxruntime is not installed ({exc})") from exc
    with run_folder() as tmp:
        try:  # the real test digits when they are here, and a net trained briefly on them
            root = mnist_root(s.mnist)
            run, _ = train("cnn", out=tmp / "run", device="cpu", steps=50, data_root=str(root))
            model = zoo_core.load_model(run.run_dir)
            digits = zoo_core.create_dataset("mnist", data_root=str(root)).eval.tensors[0][:1000]
            source = "the first 1,000 MNIST test digits, net trained 50 steps"
        except Skip:
            model = zoo_core.create_model("cnn").eval()
            digits = torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0))
            source = "1,000 random 28x28 images (no MNIST here), untrained net"
        example = (digits[:4],)
        export_pt2(model, example, tmp / "cnn.pt2", {})
        export_onnx(model, example, tmp / "cnn.onnx", {})
        program = torch.export.load(tmp / "cnn.pt2").module()
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()  # the same threads as torch
        session = ort.InferenceSession(str(tmp / "cnn.onnx"), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        feed = {name: digits.numpy()}
        ways = {
            "eager": lambda: model(digits),
            "pt2": lambda: program(digits),
            "onnxruntime": lambda: torch.from_numpy(session.run(None, feed)[0]),
        }

        def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
            with torch.no_grad():
                start = time.perf_counter()
                out = fn()
                return (time.perf_counter() - start) * 1e3, out

        outputs = {k: timed(fn)[1] for k, fn in ways.items()}  # warm-up round
        samples: dict[str, list[float]] = {k: [] for k in ways}
        order = list(ways)
        for i in range(s.repeats(21, 2)):
            for k in order[i % 3 :] + order[: i % 3]:  # who goes first rotates
                ms, outputs[k] = quiet_gc(lambda k=k: timed(ways[k]))
                samples[k].append(ms)
            s.log(f"repeat {i + 1}: " + "  ".join(f"{k} {v[-1]:.2f} ms" for k, v in samples.items()))
    eager = outputs["eager"]
    checks = {k: largest_difference(eager, [outputs[k]]) for k in ("pt2", "onnxruntime")}
    agree = all(ok for _, ok in checks.values())
    same_digits = all(torch.equal(outputs[k].argmax(1), eager.argmax(1)) for k in checks)
    ms = {k: median(v) for k, v in samples.items()}
    result.zoo, result.baseline = ms["pt2"], ms["eager"]
    result.ratio = median([p / e for p, e in zip(samples["pt2"], samples["eager"], strict=True)])
    ort_ratio = median([o / e for o, e in zip(samples["onnxruntime"], samples["eager"], strict=True)])
    result.status = verdict(result.ratio <= 1.10 and agree and same_digits)
    result.notes = (
        f"eager {fmt(ms['eager'])} ms, .pt2 {fmt(ms['pt2'])} ms ({result.ratio:.2f}x), onnxruntime "
        f"{fmt(ms['onnxruntime'])} ms ({ort_ratio:.2f}x) per 1,000 digits; largest difference from eager "
        + ", ".join(f"{k} {d:.2g}" for k, (d, _) in checks.items())
        + f"; same digits: {'yes' if same_digits else 'NO'}; {source}"
    )
    result.data = {"samples_ms": samples, "median_ms": ms, "onnxruntime_ratio": ort_ratio, "source": source}
    return result


# -- GPU rows ---------------------------------------------------------------------------------------
@row("gan-cuda", "gpu", "`zoo train gan --device cuda`, 10,000 steps")
def gan_cuda(s: Settings) -> Result:
    from benchmarks import baselines

    result = Result(
        "gan-cuda",
        "`zoo train gan --device cuda` (CUDA graph) vs eager loop",
        unit="steps/s",
        target=">= 10x; same D score, in-bounds",
    )
    device = need_cuda()
    steps = 1000 if s.quick else 10_000
    seeds = {"zoo": 0, "baseline": 0}
    notices: list[str] = []

    def zoo(n: int = steps) -> dict[str, Any]:
        with run_folder() as tmp:
            run, said = train("gan", out=tmp / "run", device="cuda", steps=n, seed=seeds["zoo"])
        notices[:] = said
        seeds["zoo"] += 1
        return {"value": run.step / run.loop_seconds, "metrics": run.metrics, "said": said}

    def eager(n: int = steps) -> dict[str, Any]:
        out = baselines.gan(n, seed=seeds["baseline"], device=device)
        seeds["baseline"] += 1
        return out

    # warm-up round with few steps (CUDA context, cuBLAS handles), then the timed runs
    eager(200)
    zoo(200)
    seeds.update(zoo=0, baseline=0)
    zs, bs = paired(zoo, eager, s.repeats(3, 1), warmup=0, log=s.log)
    zoo_rate, base_rate = median([z["value"] for z in zs]), median([b["value"] for b in bs])
    ratio = median([z["value"] / b["value"] for z, b in zip(zs, bs, strict=True)])
    mean = _mean_metrics
    zm, bm = mean([z["metrics"] for z in zs]), mean([b["metrics"] for b in bs])
    # "within noise": over seeds 0-2 (10,000 steps on the CPU) the D score spreads by about 0.01
    # and the in-bounds share by about 0.02; the means of 3 seeds must agree within 0.05 each
    close = abs(zm["d_score"] - bm["d_score"]) <= 0.05 and abs(zm["in_bounds"] - bm["in_bounds"]) <= 0.05
    captured = any("step captured" in line for line in notices)
    result.zoo, result.baseline, result.ratio = zoo_rate, base_rate, ratio
    result.status = verdict(ratio >= 10 and close and captured)
    result.notes = (
        f"D score {zm['d_score']:.3f} vs {bm['d_score']:.3f} (equilibrium -1.386), in bounds "
        f"{zm['in_bounds']:.1%} vs {bm['in_bounds']:.1%} ({'close' if close else 'NOT CLOSE'}); "
        + (notices[0] if notices else "zoo said nothing about CUDA graphs")
    )
    result.data = {"zoo": zs, "baseline": [{k: v for k, v in b.items() if k != "d_losses"} for b in bs]}
    return result


def _mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}


@row("epoch-cnn-cuda", "gpu", "CNN lesson, one epoch on the GPU, batch 50")
def epoch_cnn_cuda(s: Settings) -> Result:
    from benchmarks import baselines

    result = Result(
        "epoch-cnn-cuda",
        "CNN lesson, one epoch on the GPU (batch 50)",
        unit="s",
        target="zoo <= 0.5 s; same accuracy",
    )
    device = need_cuda()
    root = mnist_root(s.mnist)
    seeds = {"zoo": 0, "baseline": 0}
    notices: list[str] = []

    def zoo() -> dict[str, Any]:
        with run_folder() as tmp:
            run, said = train("cnn", out=tmp / "run", device="cuda", data_root=str(root), seed=seeds["zoo"])
        notices[:] = said
        seeds["zoo"] += 1
        return {"value": run.loop_seconds, "accuracy": run.metrics["accuracy"], "run_seconds": run.seconds}

    def eager() -> dict[str, Any]:
        out = baselines.cnn_tutorial_epoch(root, seed=seeds["baseline"], device=device)
        seeds["baseline"] += 1
        return out

    eager()  # warm-up: CUDA context, cuDNN
    zoo()
    seeds.update(zoo=0, baseline=0)
    zs, bs = paired(zoo, eager, s.repeats(3, 1), warmup=0, log=s.log)
    zoo_s, base_s = median([z["value"] for z in zs]), median([b["value"] for b in bs])
    ratio = median([z["value"] / b["value"] for z, b in zip(zs, bs, strict=True)])
    same, words = _accuracy_check([z["accuracy"] for z in zs], [b["accuracy"] for b in bs])
    captured = any("step captured" in line for line in notices)
    result.zoo, result.baseline, result.ratio = zoo_s, base_s, ratio
    result.status = verdict(zoo_s <= 0.5 and same and captured)
    result.notes = f"{1 / ratio:.1f}x faster; {words}; " + (
        notices[0] if notices else "zoo said nothing about CUDA graphs"
    )
    result.data = {"zoo": zs, "baseline": bs}
    return result


_option_row(
    "bf16-cnn-cuda",
    "gpu",
    "cuda",
    "CNN epoch on CUDA, bf16-mixed + CUDA graph vs 32-true + graph",
    {"precision": "bf16-mixed"},
    "same accuracy (within 1%); time reported",
)
_option_row(
    "compile-cnn-cuda",
    "gpu",
    "cuda",
    "CNN epoch on CUDA, --compile (reduce-overhead) vs the CUDA graph",
    {"compile": True, "sets": ["compile_mode=reduce-overhead"]},
    "same accuracy (within 1%); time reported",
)


# -- running rows ---------------------------------------------------------------------------------------
def select(words: list[str]) -> list[Row]:
    """Rows named by id or group (``cpu``, ``gpu``, ``all``), in table order."""
    if not words:
        return list(ROWS)
    wanted: set[str] = set()
    for word in words:
        for part in filter(None, (p.strip() for p in word.split(","))):
            matches = [r.id for r in ROWS if part in (r.id, r.group, "all")]
            if not matches:
                known = ", ".join(r.id for r in ROWS)
                raise SystemExit(f"unknown row {part!r}; rows: {known}; groups: cpu, gpu, all")
            wanted.update(matches)
    return [r for r in ROWS if r.id in wanted]


def run_row(entry: Row, settings: Settings) -> Result:
    settings.log(f"{entry.id}: {entry.figure}")
    try:
        return entry.run(settings)
    except Skip as skip:
        return Result(entry.id, entry.figure, status="SKIP", notes=str(skip))
    except Exception as exc:  # one broken row must not lose the others
        import traceback

        detail = traceback.format_exc(limit=-3)
        settings.log(detail)
        return Result(
            entry.id,
            entry.figure,
            status="ERROR",
            notes=f"{type(exc).__name__}: {exc}",
            data={"traceback": detail},
        )


def table(results: list[Result]) -> str:
    headers = ["ROW", "FIGURE", "UNIT", "ZOO", "BASELINE", "RATIO", "TARGET", "RESULT"]
    rows = [
        [
            r.row,
            r.figure,
            r.unit or "-",
            fmt(r.zoo),
            fmt(r.baseline),
            (f"{r.ratio:.3g}x" if r.ratio else "-"),
            r.target or "-",
            r.status,
        ]
        for r in results
    ]
    notes = [f"  {r.row}: {r.notes}" for r in results if r.notes]
    return "\n".join([text_table(rows, headers)] + ([""] + notes if notes else []))
