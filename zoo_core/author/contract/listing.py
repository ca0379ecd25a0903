"""``python -m zoo_core.author.contract.listing NAME [MODULE]``: list a plugin's entries in a fresh
interpreter and print, as one JSON line, whether that imported torch and from where.

``zoo check`` runs it (``plugin.check_listing``) so that torch already imported by the check
itself cannot hide a plugin that imports torch just to be listed. MODULE, when given, is
loaded as the plugin NAME; otherwise NAME is found among the installed plugins.
"""

from __future__ import annotations

import importlib
import importlib.abc
import json
import sys
import traceback
from typing import Any

#: where torch was first imported from (``file:line``), once it is
_FOUND: dict[str, str] = {}


class _Spy(importlib.abc.MetaPathFinder):
    """Notes the frame that first imports torch, and finds nothing itself."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "torch" and not _FOUND:
            frames = [f for f in traceback.extract_stack()[:-1] if "importlib" not in f.filename]
            if frames:
                _FOUND["by"] = f"{frames[-1].filename}:{frames[-1].lineno}"
        return None


def listing(name: str, module: str) -> dict[str, Any]:
    """Load the plugin, list its entries as ``zoo list`` does, and say whether torch came with it."""
    from zoo_core.plugin.discovery import PluginInfo, Zoo, get_zoo, set_zoo
    from zoo_core.plugin.registry import KINDS

    if module:
        zoo = Zoo()
        zoo.add_plugin(importlib.import_module(module), PluginInfo(name=name, module=module))
        set_zoo(zoo)
    zoo = get_zoo()
    info = zoo.plugins.get(name)
    entries = [e.to_dict() for kind in KINDS for e in zoo.registries[kind].list(plugin=name)]
    for kind in KINDS:  # everything zoo list shows, not only this plugin's rows
        zoo.registries[kind].list()
    return {
        "status": info.status if info else "missing",
        "error": info.error if info else "",
        "entries": len(entries),
        "torch": "torch" in sys.modules,
        "by": _FOUND.get("by", ""),
    }


def main(argv: list[str]) -> None:
    """Watch for torch before the plugin loads, then print the listing's one JSON line."""
    sys.meta_path.insert(0, _Spy())
    name, module = argv[0], argv[1] if len(argv) > 1 else ""
    print(json.dumps(listing(name, module)))


if __name__ == "__main__":
    main(sys.argv[1:])
