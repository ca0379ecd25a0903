"""``python -m benchmarks.sweep``: what ``zoo sweep`` finds on the regression lesson, and two workers' wall time.

1. The recipe (lr 0.2, 10 hidden units, 200 steps) against 30-trial sweeps over ``lr`` (1e-3..1,
   log) and ``n_hidden`` (4..64): TPE and random search, each with seeds 0, 1 and 2 (the seed is
   the sampler's and every run's). Every figure is a best eval_loss, evaluated every 20 steps.
2. The same 12-trial study (random search, no pruning) finished by one ``zoo sweep`` process, then
   by two sharing one SQLite storage: wall seconds of each.

``--steps N`` trains every run for N steps instead of 200 (cheaper, say so when quoting);
``--trials`` and ``--seeds`` change part 1's size. Results go to ``.bench/sweep.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

import zoo_core
from benchmarks.common import REPO
from zoo_plugins.sweep.space import parse_all
from zoo_plugins.sweep.study import Sweep

SPACE = ["lr=1e-3..1:log", "n_hidden=4..64:int"]


def recipe(steps: int, seed: int, out: Path) -> float:
    """The recipe's best eval_loss, evaluated as the trials are."""
    zoo_core.train("regression", steps=steps, seed=seed, eval_every=steps // 10, device="cpu", out=out)
    return zoo_core.read_json(out / "summary.json")["best"]["value"]


def best(sampler: str, trials: int, steps: int, seed: int, out: Path) -> float:
    """The best eval_loss a sweep of ``trials`` trials finds."""
    summary = Sweep(
        "regression",
        parse_all(SPACE),
        out,
        trials=trials,
        options={"steps": steps, "seed": seed, "device": "cpu"},
        sampler=sampler,
        say=lambda line: None,
    ).run()
    return summary["best"]["value"]


def workers(n: int, trials: int, steps: int, root: Path) -> float:
    """Wall seconds for ``n`` ``zoo sweep`` processes to finish one ``trials``-trial study."""
    db = f"sqlite:///{root / f'{n}.db'}"
    command = [
        str(Path(sys.executable).with_name("zoo")), "sweep", "regression", "--trials", str(trials),
        *(a for s in SPACE for a in ("--search", s)), "--sampler", "random", "--pruner", "none",
        "--steps", str(steps), "--device", "cpu", "--storage", db, "--study", "w", "--out", str(root / f"w{n}"),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ZOO_RUNS_DIR": str(root / "runs")}
    started = time.perf_counter()
    procs = [subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env) for _ in range(n)]
    if any(p.wait() != 0 for p in procs):
        raise SystemExit(f"a worker of {n} failed")
    seconds = time.perf_counter() - started
    done = optuna.load_study(study_name="w", storage=db).trials
    assert len({t.number for t in done}) == len(done) >= trials
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--worker-trials", type=int, default=12)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    results: dict = {"steps": args.steps, "trials": args.trials}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["ZOO_RUNS_DIR"] = str(root / "runs")
        for seed in range(args.seeds):
            row = {
                "recipe": recipe(args.steps, seed, root / f"recipe{seed}"),
                "tpe": best("tpe", args.trials, args.steps, seed, root / f"tpe{seed}"),
                "random": best("random", args.trials, args.steps, seed, root / f"random{seed}"),
            }
            results.setdefault("seeds", []).append(row)
            print(f"seed {seed}: " + "  ".join(f"{k} {v:.5f}" for k, v in row.items()), flush=True)
        seeds = results["seeds"]
        results["median"] = {k: statistics.median(r[k] for r in seeds) for k in ("recipe", "tpe", "random")}
        results["tpe_beats_recipe"] = all(r["tpe"] <= r["recipe"] for r in seeds)
        results["tpe_beats_random_median"] = results["median"]["tpe"] < results["median"]["random"]
        one = workers(1, args.worker_trials, args.steps, root)
        two = workers(2, args.worker_trials, args.steps, root)
        results["workers"] = {"1": round(one, 2), "2": round(two, 2), "speedup": round(one / two, 2)}
    print(json.dumps({k: v for k, v in results.items() if k != "seeds"}, indent=2))
    out = REPO / ".bench" / "sweep.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
