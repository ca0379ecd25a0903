"""Choosing the accelerator: ``auto`` explains its pick; an unavailable device is an error."""

from __future__ import annotations

import platform
import re
from typing import Any

from zoo_core.plugin.errors import ZooError

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def pick_device(request: str = "auto") -> tuple[Any, str]:
    """The ``torch.device`` for ``request`` and a sentence saying why it was chosen."""
    import torch

    request = (request or "auto").strip().lower()
    if not _DEVICE.match(request):
        raise ZooError(f"--device {request!r} is not a device; use auto, cpu, cuda, cuda:N or mps")
    cuda_ok = torch.cuda.is_available()
    mps_ok = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if request == "auto":
        if cuda_ok:
            return torch.device("cuda"), f"auto: picked cuda ({torch.cuda.get_device_name(0)})"
        if mps_ok:
            return torch.device("mps"), "auto: picked mps (Apple GPU); no CUDA device found"
        return torch.device("cpu"), "auto: picked cpu; no CUDA or MPS device found"
    if request == "cpu":
        return torch.device("cpu"), "cpu, as asked"
    if request == "mps":
        if not mps_ok:
            raise ZooError(
                "--device mps: no MPS (Apple GPU) device is available here; use --device cpu or auto"
            )
        return torch.device("mps"), "mps, as asked"
    if not cuda_ok:
        built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "built without CUDA"
        raise ZooError(
            f"--device {request}: no CUDA device is available (torch {torch.__version__}, {built}); "
            "use --device cpu or auto"
        )
    index = int(request.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise ZooError(f"--device {request}: only {count} CUDA device(s) here (cuda:0..cuda:{count - 1})")
    return torch.device("cuda", index), f"{request} ({torch.cuda.get_device_name(index)}), as asked"


def environment(device: Any) -> dict[str, Any]:
    """Versions and hardware that a run folder records so the run can be repeated."""
    import torch

    from zoo_core.plugin.hookspecs import VERSION

    env: dict[str, Any] = {
        "zoo": VERSION,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "threads": torch.get_num_threads(),
    }
    if getattr(device, "type", "") == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cudnn"] = torch.backends.cudnn.version()
    return env
