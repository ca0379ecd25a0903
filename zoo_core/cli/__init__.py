"""The ``zoo`` command line; each command lives in the module named for what it does."""

from zoo_core.cli.app import cli, main

__all__ = ["cli", "main"]
