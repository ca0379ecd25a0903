"""A pytest plugin for zoo and plugin authors: load plugins in isolation and check their entries.

It is registered through the ``pytest11`` entry point, so its fixtures are available in any test
suite once zoo is installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from zoo_core.plugins import Zoo, set_zoo


@pytest.fixture
def make_zoo() -> Iterator[Callable[..., Zoo]]:
    """``make_zoo(plugin, ...)`` makes a zoo of just those plugin objects, current for the test."""
    previous = set_zoo(None)
    made: list[Zoo] = []

    def factory(*plugins: Any) -> Zoo:
        zoo = Zoo.from_plugins(plugins)
        set_zoo(zoo)
        made.append(zoo)
        return zoo

    yield factory
    set_zoo(previous)
