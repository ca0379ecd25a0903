"""Whether this process is one worker of a torchrun job, and how such a worker ends.

Kept apart from ``worker`` so that every ``zoo`` command can ask cheaply.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from typing import NoReturn

#: torchrun sets these in every worker; all of them present means "I am one worker of a job".
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def launched() -> bool:
    """True in a process that torchrun (or ``zoo train --nproc``) started as one worker of a job."""
    return all(key in os.environ for key in TORCHRUN_ENV)


def leave(code: object = 0) -> NoReturn:
    """End this worker as ``sys.exit(code)`` would, without the interpreter's finalization.

    A gloo thread may still be letting go of a finished collective's tensors when the main thread
    exits; once Python is finalizing, that release cannot take the GIL and the worker aborts
    (SIGABRT, "terminate called without an active exception") after a run that succeeded. So the
    exit handlers run (the process group's teardown among them) and the output is flushed while
    Python is whole, then the process ends at once, as Python's multiprocessing ends its children.
    """
    status = code if isinstance(code, int) else 0 if code is None else 1
    if not isinstance(code, int) and code is not None:
        print(code, file=sys.stderr)  # what sys.exit("message") prints
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


__all__ = ["TORCHRUN_ENV", "launched", "leave"]
