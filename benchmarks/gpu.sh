#!/usr/bin/env bash
# The GPU evidence, in one go, on a CUDA machine without network access:
#   bash benchmarks/gpu.sh [MNIST_DIR]        (default: .data/mnist-split, or $ZOO_BENCH_MNIST)
# MNIST_DIR holds MNIST/raw/ (the MNIST/raw folder itself is accepted too). QUICK=1 makes every
# part short (a smoke test). Its python3 must already have torch (with CUDA), torchvision, pluggy,
# attrs, click and safetensors; zoo is installed from this checkout without dependencies.
#
# Steps: install zoo; say which packages are missing; the CUDA-graph tests (tests/test_graphs.py,
# the capture test included); benchmarks/gpu.py (save on CUDA and reload on the CPU, resume a
# graphed run on the CPU, every lesson briefly on CUDA, graphed and eager); `zoo train` from the
# command line; char-gpt's GPU recipe (nanoGPT's train_shakespeare_char.py, val loss 1.47 there,
# 5,000 steps) and a sample of it; and last the table's GPU rows (GAN 10,000 steps graphed vs an
# eager hand loop, one CNN epoch graphed vs an eager DataLoader loop, bf16-mixed and --compile
# against it).
# Results go to .bench/ (and to $OUT if set).
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
MNIST="${1:-${ZOO_BENCH_MNIST:-.data/mnist-split}}"
QUICK="${QUICK:-0}"
started=$(date +%s)
status=0
step() { printf '\n==== %s (%ss)\n' "$1" "$(($(date +%s) - started))"; }

step "install zoo (no dependencies, no network)"
if ! "$PY" -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e . 2>/tmp/zoo-pip.log; then
    if grep -q "externally-managed" /tmp/zoo-pip.log; then
        "$PY" -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation \
            --break-system-packages -e . || { cat /tmp/zoo-pip.log; exit 2; }
    else
        cat /tmp/zoo-pip.log
        exit 2
    fi
fi
"$PY" - <<'EOF' || exit 2
import importlib, shutil, sys
import torch
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
if not torch.cuda.is_available():
    sys.exit("no CUDA device: this script is for a GPU machine")
print(f"GPU: {torch.cuda.get_device_name(0)}")
missing = []
for name in ("torchvision", "pluggy", "attrs", "click", "safetensors", "numpy", "pytest", "tqdm", "matplotlib"):
    try:
        importlib.import_module(name)
    except ImportError:
        missing.append(name)
print("missing: " + (", ".join(missing) or "nothing"))
if "tqdm" in missing:
    print("  tqdm is only imported for the progress bar on a terminal; piped output needs none")
if "matplotlib" in missing:
    print("  matplotlib: 'zoo train' fails after training when it draws figures; the measurements switch them off")
print(f"zoo console script: {shutil.which('zoo')}")
EOF

step "CUDA-graph tests (tests/test_graphs.py)"
"$PY" -m pytest -q -p no:cacheprovider tests/test_graphs.py || status=1

step "save/reload, resume, every lesson on CUDA (benchmarks/gpu.py)"
lesson_steps=60
[ "$QUICK" = 1 ] && lesson_steps=20
"$PY" -m benchmarks.gpu --mnist "$MNIST" --steps "$lesson_steps" --json .bench/gpu-extras.json || status=1

step "zoo train from the command line, on CUDA"
if "$PY" -c "import matplotlib" 2>/dev/null; then
    zoo=("$PY" -c "from zoo_core.cli import main; main()")
    rm -rf .bench/cli-regression
    "${zoo[@]}" train regression --device cuda --out .bench/cli-regression --json || status=1
    "${zoo[@]}" eval .bench/cli-regression --device cpu || status=1
else
    echo "skipped: matplotlib is missing, and 'zoo train' needs it for its figures"
fi

step "the loop's options on CUDA: bf16-mixed, 16-mixed, schedules, --compile, --nproc 1 (nccl)"
if "$PY" -c "import matplotlib" 2>/dev/null; then
    zoo=("$PY" -c "from zoo_core.cli import main; main()")
    n=0
    for options in "--precision bf16-mixed" "--precision 16-mixed" \
        "--scheduler cosine --accumulate 2 --grad-clip 1" "--compile" "--nproc 1"; do
        n=$((n + 1))
        rm -rf ".bench/options-$n"
        echo "zoo train gan --device cuda --steps 300 $options"
        # shellcheck disable=SC2086  # the options are words on purpose
        "${zoo[@]}" train gan --device cuda --steps 300 $options --out ".bench/options-$n" -q || status=1
        "${zoo[@]}" eval ".bench/options-$n" --device cpu || status=1
    done
else
    echo "skipped: matplotlib is missing, and 'zoo train' needs it for its figures"
fi

step "char-gpt, nanoGPT's GPU recipe (6 layers, 6 heads, 384 wide, block 256, batch 64, dropout 0.2; its 1.47)"
if "$PY" -c "import matplotlib" 2>/dev/null; then
    zoo=("$PY" -c "from zoo_core.cli import main; main()")
    gpt_steps=5000
    [ "$QUICK" = 1 ] && gpt_steps=200
    rm -rf .bench/char-gpt-cuda
    # the training windows are views on the CPU; on CUDA they are copied out (about 4 GB at block 256)
    "${zoo[@]}" train char-gpt --device cuda --steps "$gpt_steps" --batch-size 64 --precision bf16-mixed \
        --set n_layer=6 --set n_head=6 --set n_embd=384 --set block_size=256 --set dropout=0.2 \
        --out .bench/char-gpt-cuda --json || status=1
    "${zoo[@]}" predict .bench/char-gpt-cuda "ROMEO:" --max-new-tokens 200 --seed 1 --device cuda || status=1
else
    echo "skipped: matplotlib is missing, and 'zoo train' needs it for its figures"
fi

step "the table's GPU rows (python -m benchmarks gpu)"
quick_flag=()
[ "$QUICK" = 1 ] && quick_flag=(--quick)
"$PY" -m benchmarks gpu ${quick_flag[@]+"${quick_flag[@]}"} --mnist "$MNIST" --json .bench/gpu-table.json || status=1

if [ -n "${OUT:-}" ] && [ -d "${OUT}" ]; then
    cp .bench/gpu-extras.json .bench/gpu-table.json "$OUT"/ 2>/dev/null || true
fi
printf '\n(gpu.sh: %ss in all, exit %s)\n' "$(($(date +%s) - started))" "$status"
exit "$status"
