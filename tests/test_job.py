"""How a worker of a torchrun job ends: its exit handlers and output, then no interpreter finalization.

Each case runs in a child Python (``os._exit`` would end pytest). An object of the child's
``__main__`` whose ``__del__`` writes a file shows whether Python's finalization ran: it runs
when the interpreter clears ``__main__`` at shutdown, never under ``os._exit``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo_core.training.parallel.job import TORCHRUN_ENV

CHILD = """
import atexit, sys
from pathlib import Path

folder = Path(sys.argv[1])

class Finalized:
    def __del__(self):
        (folder / "finalized").write_text("yes")

marker = Finalized()
atexit.register(lambda: (folder / "atexit").write_text("yes"))
sys.stdout.write("buffered, no newline")  # still in the buffer when the process ends
"""

WORKER_ENV = {
    "RANK": "0",
    "WORLD_SIZE": "1",
    "LOCAL_RANK": "0",
    "MASTER_ADDR": "127.0.0.1",
    "MASTER_PORT": "1",
}


def child(tmp_path: Path, ending: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    return subprocess.run(
        [sys.executable, "-c", CHILD + ending, str(tmp_path)],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=120,
    )


def test_the_worker_environment_names_every_variable_torchrun_sets():
    assert sorted(WORKER_ENV) == sorted(TORCHRUN_ENV)


@pytest.mark.parametrize(
    ("code", "status", "stderr"), [(7, 7, ""), (None, 0, ""), ("worker gave up", 1, "worker gave up")]
)
def test_leave_runs_the_exit_handlers_flushes_and_exits_without_finalization(tmp_path, code, status, stderr):
    result = child(tmp_path, f"from zoo_core.training.parallel.job import leave\nleave({code!r})\n")
    assert result.returncode == status, result.stderr
    assert result.stdout == "buffered, no newline"
    assert result.stderr.strip() == stderr
    assert (tmp_path / "atexit").exists()
    assert not (tmp_path / "finalized").exists()


def test_the_control_a_plain_exit_does_finalize(tmp_path):
    """Without this, the marker could be broken and the cases above would pass for nothing."""
    result = child(tmp_path, "sys.exit(7)\n")
    assert result.returncode == 7
    assert (tmp_path / "atexit").exists()
    assert (tmp_path / "finalized").read_text() == "yes"


@pytest.mark.parametrize(("args", "status"), [(["--version"], 0), (["train", "no-such-model"], 2)])
def test_zoo_in_a_worker_ends_through_leave_with_its_exit_code(tmp_path, args, status):
    ending = f"from zoo_core.cli import main\nsys.argv = ['zoo', *{args!r}]\nmain()\n"
    result = child(tmp_path, ending, WORKER_ENV)
    assert result.returncode == status, result.stderr
    assert not (tmp_path / "finalized").exists()
    if status:
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("zoo: error:"), result.stderr
    else:
        assert "zoo, version" in result.stdout


def test_zoo_outside_a_job_exits_as_usual(tmp_path):
    ending = "from zoo_core.cli import main\nsys.argv = ['zoo', '--version']\nmain()\n"
    result = child(tmp_path, ending)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "finalized").read_text() == "yes"
