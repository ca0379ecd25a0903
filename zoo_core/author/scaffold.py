"""``zoo new-plugin NAME``: write a ready plugin package from the templates in ``templates/plugin``.

The package registers one small model and one dataset, trains with zoo's own ``supervised``
trainer and ``adam`` optimizer, and has tests that use zoo's pytest fixtures. Template files end in
``.tmpl``; ``{{key}}`` in their text and ``PACKAGE`` in their paths are filled in from the name.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from zoo_core.plugin.errors import ZooError
from zoo_core.plugin.hookspecs import API_VERSION, VERSION

TEMPLATES = Path(__file__).parent / "templates" / "plugin"
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_KEY = re.compile(r"\{\{(\w+)\}\}")


def plugin_names(name: str) -> dict[str, str]:
    """Everything the templates name, derived from the plugin name (``my-waves``)."""
    if not _NAME.match(name or ""):
        raise ZooError(
            f"plugin name {name!r} is invalid: use lower-case letters and digits, words joined by "
            "'-' (for example 'waves' or 'my-waves')"
        )
    if name == "zoo" or name.startswith("zoo-"):
        raise ZooError(f"plugin name {name!r}: leave out the 'zoo-' prefix; the package is called zoo-NAME")
    package = "zoo_" + name.replace("-", "_")
    if keyword.iskeyword(package):  # cannot happen with the prefix, kept for clarity
        raise ZooError(f"plugin name {name!r} gives the Python keyword {package!r}")
    return {
        "name": name,
        "dist": f"zoo-{name}",
        "package": package,
        "model": name,
        "dataset": f"{name}-sine",
        "Class": "".join(part.capitalize() for part in name.split("-")),
        "zoo_version": VERSION,
        "api_version": str(API_VERSION),
    }


def render(text: str, values: dict[str, str]) -> str:
    """Fill ``{{key}}`` placeholders; an unknown key is a bug in a template."""

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"template placeholder {{{{{key}}}}} has no value")
        return values[key]

    return _KEY.sub(fill, text)


def _target(relative: Path, values: dict[str, str]) -> Path:
    parts = []
    for part in relative.parts:
        part = part.removesuffix(".tmpl").replace("PACKAGE", values["package"])
        if part.startswith("dot-"):
            part = "." + part[len("dot-") :]
        parts.append(part)
    return Path(*parts)


def new_plugin(name: str, directory: str | Path | None = None) -> tuple[Path, list[Path]]:
    """Write the package for plugin ``name`` into ``directory`` (default ``./zoo-NAME``).

    Returns the folder and the files written. An existing non-empty folder is refused.
    """
    values = plugin_names(name)
    root = Path(directory) if directory is not None else Path(values["dist"])
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ZooError(f"{root}: already exists and is not empty; choose a new folder with --dir")
    if not TEMPLATES.is_dir():
        raise ZooError(f"zoo's plugin templates are missing ({TEMPLATES}); reinstall zoo")
    sources = sorted(p for p in TEMPLATES.rglob("*.tmpl") if p.is_file())
    rendered = [(_target(p.relative_to(TEMPLATES), values), render(p.read_text(), values)) for p in sources]
    written = []
    try:
        for relative, text in rendered:
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    except OSError as exc:
        raise ZooError(f"cannot write the plugin package into {root} ({exc.strerror or exc})") from exc
    return root, written
