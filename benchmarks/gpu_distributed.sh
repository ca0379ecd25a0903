#!/usr/bin/env bash
# Prove the nccl path of data-parallel training on one CUDA GPU, and print a one-line result.
#
#   bash benchmarks/gpu_distributed.sh            # on a machine with a CUDA GPU
#   DEVICE=cpu bash benchmarks/gpu_distributed.sh # the same check over gloo, anywhere
#
# It trains lesson 301 (regression, 200 full-batch steps, generated data: no download) twice on
# the same device: once as a single process, once as a torchrun job of one worker
# (zoo train --nproc 1, which joins an nccl process group on cuda:0 and wraps the model in
# DistributedDataParallel). Both must end with the same loss and weights (float tolerance), the
# job must record backend nccl, and its checkpoint must load in a single process.
# Needs the project installed in the Python it runs (pip install -e .); PYTHON picks the Python.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
DEVICE=${DEVICE:-cuda}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! "$PY" -c "import importlib.metadata as m, sys; sys.exit(0 if any(e.name == 'regression' for e in m.entry_points(group='zoo')) else 1)" 2>/dev/null; then
    "$PY" -m pip install --quiet --no-deps --no-build-isolation -e . >/dev/null
fi

"$PY" -m zoo_core train regression --device "$DEVICE" --out "$work/one" --json >"$work/one.json"
"$PY" -m zoo_core train regression --device "$DEVICE" --nproc 1 --out "$work/ddp" --json >"$work/ddp.json"

"$PY" - "$work" "$DEVICE" <<'PY'
import json
import sys
from pathlib import Path

from safetensors.torch import load_file

from zoo_core.store.checkpoint import load_model

work, device = Path(sys.argv[1]), sys.argv[2]
one, ddp = (json.loads((work / f"{name}.json").read_text()) for name in ("one", "ddp"))
env = json.loads((work / "ddp" / "config.json").read_text())["environment"]
want = "nccl" if device.startswith("cuda") else "gloo"
a, b = load_file(str(work / "one" / "model.safetensors")), load_file(str(work / "ddp" / "model.safetensors"))
diff = max(float((a[k].double() - b[k].double()).abs().max()) for k in a) if sorted(a) == sorted(b) else float("inf")
load_model(work / "ddp", device="cpu")  # the job's checkpoint loads in a single process
loss_one, loss_ddp = one["metrics"]["loss"], ddp["metrics"]["loss"]
ok = (
    env.get("distributed") == {"world": 1, "backend": want}
    and ddp["device"].startswith(device)
    and diff < 1e-4
    and abs(loss_one - loss_ddp) <= 1e-4 * max(1.0, abs(loss_one))
)
print(
    f"gpu-distributed: {'OK' if ok else 'FAIL'} backend={env.get('distributed', {}).get('backend')} "
    f"world={env.get('distributed', {}).get('world')} device={ddp['device']} ({ddp['device_reason']}) "
    f"loss single={loss_one:.6g} ddp={loss_ddp:.6g} max_weight_diff={diff:.2e} "
    f"seconds single={one['seconds']:.1f} ddp={ddp['seconds']:.1f} gpu={env.get('gpu', '-')}"
)
sys.exit(0 if ok else 1)
PY
