"""Every lesson's full default recipe on the CPU, measured beside the tutorial's figures.

    python -m benchmarks.lessons [--data-root ../shared/data/mnist-split] [--only cnn,gan] [--json FILE]

Prints one table: lesson, run, metric, ours, the tutorial's figure, the target, wall time. The MNIST
rows need the digits (torchvision layout); without them they are skipped, with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MNIST = REPO.parent / "shared" / "data" / "mnist-split"

# (lesson, model, extra flags, metric, tutorial's figure, target as (op, value) or None)
ROWS: list[tuple[str, str, dict[str, Any], str, str, tuple[str, float] | None]] = [
    ("301 regression", "regression", {}, "eval_loss", "0.005-0.012", ("<", 0.013)),
    ("302 classification", "classification", {}, "accuracy", "1.00", (">=", 0.99)),
    ("303 quick build", "regression-seq", {}, "eval_loss", "as 301", ("<", 0.013)),
    ("303 quick build", "classification-seq", {}, "accuracy", "as 302", (">=", 0.99)),
    ("304 save/reload", "save-reload", {}, "eval_loss", "fits", None),
    ("306 optimizers", "optimizers", {}, "mse_sgd", "~0.07", None),
    ("306 optimizers", "optimizers", {}, "mse_momentum", "~0.011", None),
    ("306 optimizers", "optimizers", {}, "mse_rmsprop", "~0.011", None),
    ("306 optimizers", "optimizers", {}, "mse_adam", "~0.011", None),
    ("401 CNN", "cnn", {"epochs": 1}, "accuracy", "~0.98 (60k)", (">=", 0.94)),
    ("401 CNN", "cnn", {"epochs": 8}, "accuracy", "-", (">=", 0.98)),
    ("402 RNN classifier", "rnn-classifier", {"epochs": 1}, "accuracy", "~0.95 (60k)", None),
    ("402 RNN classifier", "rnn-classifier", {"epochs": 8}, "accuracy", "-", (">=", 0.95)),
    ("403 RNN regressor", "rnn-regressor", {}, "mse", "-", None),
    ("404 autoencoder", "autoencoder", {}, "eval_loss", "~0.035 (60k)", None),
    ("405 DQN", "dqn", {}, "eval_reward", "rewards in the hundreds", (">=", 195)),
    ("406 GAN", "gan", {}, "d_real", "~0.5", None),
    ("406 GAN", "gan", {}, "d_score", "-1.386", None),
    ("406 GAN", "gan", {}, "in_bounds", "~0.93", None),
    ("406 conditional GAN", "conditional-gan", {}, "class_accuracy", "~0.96", None),
    ("503 dropout", "dropout", {}, "train_mse_plain", "far below test", None),
    ("503 dropout", "dropout", {}, "test_mse_plain", "-", None),
    ("503 dropout", "dropout", {}, "train_mse_dropout", "-", None),
    ("503 dropout", "dropout", {}, "test_mse_dropout", "gap narrows", None),
    ("504 batch norm", "batchnorm", {}, "test_mse_plain", "stuck (label var.)", None),
    ("504 batch norm", "batchnorm", {}, "test_mse_bn", "learns", None),
    ("601 attention", "char-gpt", {}, "eval_loss", "1.899 (nanoGPT, 3 seeds)", ("<=", 1.90)),
    ("601 attention", "char-gpt", {"lr": 1e-3}, "eval_loss", "nanoGPT's own lr", None),
]
MNIST_MODELS = {"cnn", "rnn-classifier", "autoencoder"}


def _check(value: float, target: tuple[str, float] | None) -> str:
    if target is None:
        return ""
    op, bound = target
    ok = {"<": value < bound, "<=": value <= bound}.get(op, value >= bound)
    return f"{op} {bound:g} {'PASS' if ok else 'FAIL'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=os.environ.get("ZOO_DATA_ROOT", str(DEFAULT_MNIST)))
    parser.add_argument("--only", default="", help="comma list of models to run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (pinned)")
    parser.add_argument("--json", dest="json_path", default=None, help="also write the rows as JSON")
    args = parser.parse_args(argv)

    import torch

    import zoo_core

    torch.set_num_threads(args.threads)
    only = {m for m in args.only.split(",") if m}
    have_mnist = (Path(args.data_root) / "MNIST" / "raw").is_dir()
    runs: dict[tuple[str, str], Any] = {}
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        for lesson, model, flags, metric, tutorial, target in ROWS:
            if only and model not in only:
                continue
            key = (model, json.dumps(flags, sort_keys=True))
            if model in MNIST_MODELS and not have_mnist:
                table.append([lesson, model, metric, "SKIP", tutorial, f"no MNIST at {args.data_root}", ""])
                continue
            if key not in runs:
                started = time.perf_counter()
                out = Path(tmp) / f"{model}-{len(runs)}"
                result = zoo_core.train(model, device="cpu", out=out, data_root=args.data_root, **flags)
                runs[key] = (result, time.perf_counter() - started)
                print(f"ran {model} {flags or ''} in {runs[key][1]:.1f}s", file=sys.stderr)
            result, seconds = runs[key]
            value = result.metrics[metric]
            label = model + "".join(f" --{k} {v}" for k, v in flags.items())
            table.append(
                [lesson, label, metric, f"{value:.4g}", tutorial, _check(value, target), f"{seconds:.1f}"]
            )
    headers = ["LESSON", "RUN", "METRIC", "ZOO", "TUTORIAL", "TARGET", "WALL s"]
    widths = [max(len(str(r[i])) for r in [headers, *table]) for i in range(len(headers))]
    for row in [headers, *table]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if args.json_path:
        Path(args.json_path).write_text(
            json.dumps([dict(zip(headers, r, strict=True)) for r in table], indent=2)
        )
    return 1 if any("FAIL" in r[5] for r in table) else 0


if __name__ == "__main__":
    sys.exit(main())
