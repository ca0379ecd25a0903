"""A deliberately broken zoo plugin: it imports a dependency that is not installed.

zoo must still work with it installed: ``zoo list`` prints one line on stderr naming the plugin,
``zoo plugins`` shows it as failed, and every other plugin loads as usual.
"""

import zoo_example_missing_dependency  # noqa: F401  (deliberately not installed anywhere)

from zoo_core import hookimpl


@hookimpl
def register_models(registry):
    registry.add("never-registered", factory="zoo_broken:missing", summary="never seen", tags=["broken"])
