"""``python -m benchmarks.gpu``: the CUDA evidence beside the table's GPU rows.

1. the environment: torch, the GPU, and which optional packages are missing;
2. save on CUDA, reload on the CPU: a model trained with ``--device cuda`` (its step replayed as a
   CUDA graph) is rebuilt from ``model.safetensors`` on the CPU and gives the GPU's outputs;
3. resume on the CPU: a GAN run interrupted on CUDA (graphed, Adam switched to capturable) goes on
   from its checkpoint on the CPU;
4. every lesson, briefly, with ``--device cuda``: graphed and with ``--no-cuda-graphs``, wall time,
   steps per second, what zoo said about the graph, and the final metrics of both.

It prints one small table per part and writes them all as JSON. Run by ``benchmarks/gpu.sh``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    Skip,
    mnist_root,
    run_folder,
    train,
)
from zoo_core.plugin.text import table


def environment() -> dict[str, Any]:
    import torch

    missing = []
    for name in (
        "tqdm",
        "matplotlib",
        "numpy",
        "torchvision",
        "safetensors",
        "pluggy",
        "attrs",
        "click",
        "pytest",
    ):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
        "missing_packages": missing,
    }
    print(f"torch {info['torch']} (CUDA {info['cuda']}), GPU: {info['gpu']}, cuDNN {info['cudnn']}")
    if missing:
        print(f"missing packages: {', '.join(missing)}")
    if "tqdm" in missing:
        print("  tqdm: zoo imports it only for a progress bar on a terminal; these runs print plain lines")
    if "matplotlib" in missing:
        print("  matplotlib: 'zoo train' draws its figures after training and fails without it")
    return info


def save_on_cuda_reload_on_cpu(mnist: Path | None) -> dict[str, Any]:
    """Train regression on CUDA, then rebuild it on the CPU from model.safetensors alone."""
    import torch

    import zoo_core
    from zoo_core.serve.evaluation import evaluate_run

    with run_folder() as tmp:
        run, said = train("regression", out=tmp / "run", device="cuda")
        gpu_model = zoo_core.load_model(run.run_dir, device="cuda")
        cpu_model = zoo_core.load_model(run.run_dir, device="cpu")
        x = torch.linspace(-1, 1, 101).unsqueeze(1)
        with torch.no_grad():
            on_gpu, on_cpu = gpu_model(x.cuda()).cpu(), cpu_model(x)
        weights_equal = all(
            torch.equal(a.cpu(), b)
            for a, b in zip(gpu_model.state_dict().values(), cpu_model.state_dict().values(), strict=True)
        )
        evaluated = evaluate_run(run.run_dir, device="cpu")
    out = {
        "device": run.device,
        "cuda_graphs": said,
        "weights_identical": weights_equal,
        "max_output_difference": float((on_gpu - on_cpu).abs().max()),
        "metrics_on_cuda": run.metrics,
        "metrics_reloaded_on_cpu": evaluated["metrics"],
    }
    mse_gpu, mse_cpu = run.metrics.get("eval_loss"), evaluated["metrics"].get("eval_loss")
    out["ok"] = bool(
        weights_equal and out["max_output_difference"] < 1e-5 and math.isclose(mse_gpu, mse_cpu, rel_tol=1e-4)
    )
    print(
        table(
            [
                [
                    "regression",
                    run.device,
                    "yes" if weights_equal else "NO",
                    f"{out['max_output_difference']:.2e}",
                    f"{mse_gpu:.6g}",
                    f"{mse_cpu:.6g}",
                    "PASS" if out["ok"] else "FAIL",
                ]
            ],
            [
                "MODEL",
                "TRAINED ON",
                "SAME WEIGHTS",
                "MAX |OUT DIFF|",
                "MSE (CUDA)",
                "MSE (CPU, RELOADED)",
                "RESULT",
            ],
        )
    )
    if said:
        print(f"  {said[0]}")
    return out


def resume_on_cpu() -> dict[str, Any]:
    """A GAN run cut at step 200 of 400 on CUDA (graphed) goes on from its checkpoint on the CPU."""
    from zoo_core.training.loop import Interrupted, train_model

    def cut(step: int) -> None:
        if step == 200:
            os.kill(os.getpid(), signal.SIGINT)

    with run_folder() as tmp:
        run_dir = tmp / "run"
        try:
            train("gan", out=run_dir, device="cuda", steps=400, on_step=cut)
            return {"ok": False, "error": "the run was not interrupted"}
        except Interrupted as exc:
            message = str(exc)
        resumed = train_model(resume=run_dir, device="cpu")
        ok = resumed.step == 400 and all(math.isfinite(v) for v in resumed.metrics.values())
    out = {
        "interrupted": message,
        "resumed_step": resumed.step,
        "device": resumed.device,
        "metrics": resumed.metrics,
        "ok": ok,
    }
    print(
        table(
            [
                [
                    "gan",
                    "cuda, steps 1-200",
                    f"{resumed.device}, to step {resumed.step}",
                    f"{resumed.metrics.get('d_score', float('nan')):.3f}",
                    "PASS" if ok else "FAIL",
                ]
            ],
            ["MODEL", "FIRST PART", "RESUMED ON", "D SCORE", "RESULT"],
        )
    )
    return out


def lessons(mnist: Path | None, steps: int) -> list[dict[str, Any]]:
    """Every model entry, ``steps`` steps on CUDA, graphed and eager."""
    from zoo_core.plugin.discovery import get_zoo

    rows, table = [], []
    for entry in get_zoo().models.list():
        item: dict[str, Any] = {"model": entry.qualname}
        if entry.dataset == "mnist" and mnist is None:
            item["status"] = "SKIP (no MNIST)"
            rows.append(item)
            table.append([entry.name, "-", "-", "-", "-", "SKIP: no MNIST", "-"])
            continue
        for mode, sets in (("graphed", []), ("eager", ["cuda_graphs=false"])):
            try:
                with run_folder() as tmp:
                    started = time.perf_counter()
                    run, said = train(
                        entry.qualname,
                        out=tmp / "run",
                        device="cuda",
                        steps=steps,
                        sets=sets,
                        data_root=str(mnist) if mnist else None,
                    )
                    wall = time.perf_counter() - started
                item[mode] = {
                    "wall_s": wall,
                    "steps_per_s": run.step / run.loop_seconds if run.loop_seconds else None,
                    "said": said,
                    "metrics": run.metrics,
                }
            except Exception as exc:
                item[mode] = {
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(limit=-4),
                }
        rows.append(item)
        g, e = item.get("graphed", {}), item.get("eager", {})
        if "error" in g or "error" in e:
            item["status"] = "ERROR"
            table.append([entry.name, "-", "-", "-", "-", (g.get("error") or e.get("error"))[:60], "-"])
            continue
        item["status"] = "ok"
        said = g["said"][0] if g["said"] else "(nothing said)"
        said = said.replace("cuda graphs: ", "").split(" and replayed")[0]
        key = next(iter(g["metrics"]), None)
        shown = f"{key}={g['metrics'][key]:.4g} / {e['metrics'].get(key, float('nan')):.4g}" if key else "-"
        table.append(
            [
                entry.name,
                f"{g['wall_s']:.1f}",
                f"{g['steps_per_s']:.0f}",
                f"{e['steps_per_s']:.0f}",
                shown,
                said[:70],
                "ok",
            ]
        )
    print(
        table(
            table,
            [
                "MODEL",
                "WALL s",
                "STEPS/s GRAPHED",
                "STEPS/s EAGER",
                "FIRST METRIC GRAPHED / EAGER",
                "CUDA GRAPHS",
                "RUN",
            ],
        )
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=None, help="folder holding MNIST/raw [../shared/data/mnist-split]")
    parser.add_argument("--steps", type=int, default=60, help="steps per lesson run [60]")
    parser.add_argument("--json", dest="json_path", default=str(REPO / ".bench" / "gpu-extras.json"))
    args = parser.parse_args(argv)

    import torch

    print("== environment")
    report: dict[str, Any] = {"environment": environment()}
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to do here")
        return 0
    try:
        mnist: Path | None = mnist_root(args.mnist)
    except Skip as skip:
        print(f"MNIST rows skipped: {skip}")
        mnist = None
    failed = False
    for title, name, fn in (
        ("save on CUDA, reload on the CPU", "save_reload", lambda: save_on_cuda_reload_on_cpu(mnist)),
        ("interrupt on CUDA, resume on the CPU", "resume_on_cpu", resume_on_cpu),
        (
            f"every lesson, {args.steps} steps on CUDA, graphed and eager",
            "lessons",
            lambda: lessons(mnist, args.steps),
        ),
    ):
        print(f"\n== {title}")
        started = time.perf_counter()
        try:
            report[name] = fn()
        except Exception as exc:
            traceback.print_exc()
            report[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(f"({time.perf_counter() - started:.0f} s)")
        part = report[name]
        if isinstance(part, dict) and part.get("ok") is False:
            failed = True
        if isinstance(part, list) and any(r.get("status") == "ERROR" for r in part):
            failed = True
    path = Path(args.json_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nresults: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
