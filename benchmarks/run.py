"""``python -m benchmarks``: run the rows, print the table, write the figures as JSON.

Every figure is a median of several runs; every comparison is measured side by side in the same
process (zoo and its baseline alternate), with the same torch thread count on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, Settings, pin_threads
from benchmarks.rows import ROWS, run_row, select, table


def parse(argv: list[str] | None) -> argparse.Namespace:
    rows = "\n".join(f"  {r.id:<15} {r.group}  {r.figure}" for r in ROWS)
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="zoo's figures next to plain PyTorch baselines, measured side by side.",
        epilog=f"rows (groups: cpu, gpu, all):\n{rows}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "rows", nargs="*", help="row ids or groups to run (default: all; CUDA rows skip without a GPU)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="short runs, one repeat: a smoke test, not a measurement"
    )
    parser.add_argument("--repeat", type=int, default=None, help="repeats per row (default: each row's own)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for both sides of every row (0: torch's default) [1]",
    )
    parser.add_argument(
        "--mnist",
        default=None,
        help="folder holding MNIST/raw (or $ZOO_BENCH_MNIST) [../shared/data/mnist-split]",
    )
    parser.add_argument(
        "--json", dest="json_path", default=None, help="where to write the results [.bench/TIME.json]"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the table")
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def machine(threads: int) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": threads,
    }
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.list:
        for r in ROWS:
            print(f"{r.id:<15} {r.group}  {r.figure}")
        return 0
    chosen = select(args.rows)
    threads = pin_threads(args.threads)
    settings = Settings(
        quick=args.quick, repeat=args.repeat, threads=threads, mnist=args.mnist, verbose=not args.quiet
    )
    info = machine(threads)
    started = time.perf_counter()
    results = [run_row(r, settings) for r in chosen]
    elapsed = time.perf_counter() - started
    print()
    where = f"{info['processor']}, {info['cpus']} CPUs" + (f", {info['gpu']}" if "gpu" in info else "")
    mode = "quick (a smoke test, not a measurement)" if args.quick else "full"
    print(f"zoo benchmarks: {where}; torch {info['torch']}, {threads} thread(s); {mode}; {elapsed:.0f} s")
    print(table(results))
    path = Path(args.json_path) if args.json_path else REPO / ".bench" / time.strftime("%Y%m%d-%H%M%S.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": info,
        "command": [sys.executable, "-m", "benchmarks", *(argv if argv is not None else sys.argv[1:])],
        "quick": args.quick,
        "seconds": elapsed,
        "rows": [r.to_dict() for r in results],
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\nresults: {path}")
    return 1 if any(r.status in ("FAIL", "ERROR") for r in results) else 0
