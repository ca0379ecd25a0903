"""The ``zoo`` command line: the group in ``app``, each command in the module named for its use."""

from zoo_core.cli import authoring, catalog, models, runs, train  # noqa: F401  (they register their commands)
from zoo_core.cli.app import cli, main

__all__ = ["cli", "main"]
