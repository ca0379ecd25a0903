"""What every row shares: settings, paired timing, results, the MNIST folder, running zoo in-process."""

from __future__ import annotations

import contextlib
import gc
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
#: The MNIST split the digit rows use: 8,000 train / 2,000 test images in torchvision's layout.
DEFAULT_MNIST = Path("..") / "shared" / "data" / "mnist-split"
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class Skip(Exception):
    """A row that cannot run here (no CUDA device, no MNIST files); the message says why."""


@dataclass
class Settings:
    """The command line's choices, shared by every row."""

    quick: bool = False
    repeat: int | None = None  # None: each row's own default
    threads: int = 1
    mnist: str | None = None
    verbose: bool = True

    def repeats(self, full: int, quick: int = 1) -> int:
        return self.repeat if self.repeat is not None else (quick if self.quick else full)

    def log(self, text: str) -> None:
        if self.verbose:
            print(f"  {text}", flush=True)


@dataclass
class Result:
    """One row of the table: zoo's figure, the baseline's, their ratio, the target and the verdict."""

    row: str
    figure: str
    unit: str = ""
    zoo: float | None = None
    baseline: float | None = None
    ratio: float | None = None  # zoo / baseline, in ``unit``
    target: str = ""
    status: str = "SKIP"  # PASS | FAIL | SKIP | ERROR
    notes: str = ""
    data: dict[str, Any] = field(default_factory=dict)  # samples and checks, for the JSON file

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def median(values: list[float]) -> float:
    return statistics.median(values)


def paired(
    zoo: Callable[[], dict[str, Any]],
    baseline: Callable[[], dict[str, Any]],
    repeat: int,
    *,
    warmup: int = 1,
    log: Callable[[str], None] | None = None,
    key: str = "value",
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run ``baseline`` and ``zoo`` side by side ``repeat`` times, alternating which goes first.

    ``warmup`` untimed rounds come first (imports, allocator, first-call costs). Each call returns
    a dict of its measurements; the lists come back in run order.
    """
    for _ in range(warmup):
        baseline()
        zoo()
    zs, bs = [], []
    for i in range(repeat):
        if i % 2 == 0:
            b = quiet_gc(baseline)
            z = quiet_gc(zoo)
        else:
            z = quiet_gc(zoo)
            b = quiet_gc(baseline)
        zs.append(z)
        bs.append(b)
        if log is not None:
            log(f"repeat {i + 1}/{repeat}: zoo {z[key]:.6g}  baseline {b[key]:.6g}")
    return zs, bs


def quiet_gc(fn: Callable[[], Any]) -> Any:
    """Call ``fn`` with Python's cyclic garbage collector paused, after a collection (as ``timeit``
    does): otherwise a collection of the garbage left by earlier runs lands in a timed loop."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return fn()
    finally:
        if was_enabled:
            gc.enable()


def pin_threads(threads: int) -> int:
    """Give torch ``threads`` intra-op threads (0: torch's own default); returns the number used."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


# -- MNIST -----------------------------------------------------------------------------------------
def mnist_root(option: str | None) -> Path:
    """The folder holding ``MNIST/raw`` (the option, ``$ZOO_BENCH_MNIST`` or the default); Skip if absent.

    A path to the ``MNIST/raw`` folder itself is accepted too.
    """
    text = option or os.environ.get("ZOO_BENCH_MNIST") or str(DEFAULT_MNIST)
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = (REPO / path).resolve()
    if path.name == "raw" and path.parent.name == "MNIST":
        path = path.parent.parent
    raw = path / "MNIST" / "raw"
    missing = [name for name in MNIST_FILES if not (raw / name).is_file()]
    if missing:
        raise Skip(f"no MNIST in {raw} (missing {', '.join(missing)}); pass --mnist DIR or ZOO_BENCH_MNIST")
    return path


def need_cuda() -> Any:
    """The CUDA device, or Skip."""
    import torch

    if not torch.cuda.is_available():
        built = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
        raise Skip(f"no CUDA device (torch {torch.__version__}, {built})")
    return torch.device("cuda")


def sync(device: Any) -> None:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        torch.cuda.synchronize(device)


# -- running zoo in-process ------------------------------------------------------------------------
def figures_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def run_folder() -> Iterator[Path]:
    """A throwaway folder for zoo's run folders."""
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as tmp:
        yield Path(tmp)


def train(model: str, *, out: Path, **settings: Any) -> tuple[Any, list[str]]:
    """``zoo train`` in this process (``train_model``); returns the result and the lines it printed
    that start with ``cuda graphs:`` (what it said about capturing the step)."""
    from zoo_core.training.loop import train_model

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        result = train_model(model, out=out, quiet=False, **settings)
    said = [line for line in buffer.getvalue().splitlines() if line.startswith("cuda graphs:")]
    return result, said


def seconds(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"
