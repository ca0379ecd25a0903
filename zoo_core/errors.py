"""The one exception type that reaches users as a one-line message instead of a traceback."""

from __future__ import annotations


class ZooError(Exception):
    """A problem the user can fix: printed as one line on stderr, exit code 2, no traceback."""

    exit_code = 2


class RunFailed(ZooError):
    """Training began and cannot go on (a diverged loss, a full disk): the run folder is marked failed."""


class PluginError(ZooError):
    """A plugin broke the contract (bad registration, duplicate name, failing hook)."""
