"""The house by layers: zoo_core's packages import only downward, and no module imports itself in a circle.

A module may import its own layer and the layers below it (type-only imports included: a tie is a tie).
The public modules at the top (``zoo_core``, ``zoo_core.testing``, ``zoo_core.__main__``) gather the
layers for plugins and scripts; nothing inside a layer imports them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "zoo_core"
#: bottom to top; the kernel is the first four
LAYERS = ("plugin", "config", "store", "training", "serve", "author", "cli")
KERNEL = LAYERS[:4]
FACADES = {"zoo_core", "zoo_core.testing", "zoo_core.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(CORE.rglob("*.py")) if "templates" not in p.parts}


def imports_of(path: Path, known: set[str], source: str | None = None) -> set[str]:
    """Every zoo_core module ``path`` imports, at any depth of the file (lazy and type-only ones too)."""
    found: set[str] = set()
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    text = path.read_text() if source is None else source
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != here:
                found.add(name)
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(path, set(mods)) for name, path in mods.items()}


def upward(imports: dict[str, set[str]]) -> list[str]:
    """``a -> b`` for each import from a lower layer to a higher one, or into a facade."""
    bad = []
    for module, targets in imports.items():
        layer = layer_of(module)
        if layer is None:
            continue
        for target in sorted(targets):
            other = layer_of(target)
            if target in FACADES or (other is not None and LAYERS.index(other) > LAYERS.index(layer)):
                bad.append(f"{module} -> {target}")
    return bad


def circles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The import graph's strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in imports.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(imports):
        if v not in index:
            visit(v)
    return found


def test_every_module_lives_in_a_layer_or_is_a_facade():
    strays = [m for m in modules() if layer_of(m) is None and m not in FACADES]
    assert not strays, f"put each module in one of {LAYERS}: {strays}"


def test_imports_only_point_down():
    bad = upward(graph())
    assert not bad, "imports that point up (move the code down, or pass the value in):\n" + "\n".join(bad)


def test_no_import_circles():
    assert circles(graph()) == []


def test_the_kernel_reads_on_its_own():
    imports = graph()
    for module, targets in imports.items():
        if layer_of(module) in KERNEL:
            assert all(layer_of(t) in KERNEL for t in targets), (module, targets)


def test_the_checks_catch_an_upward_import_and_a_circle():
    imports = {
        "zoo_core.plugin.a": {"zoo_core.serve.b"},
        "zoo_core.serve.b": {"zoo_core.plugin.a"},
        "zoo_core.store.c": {"zoo_core"},
    }
    assert upward(imports) == ["zoo_core.plugin.a -> zoo_core.serve.b", "zoo_core.store.c -> zoo_core"]
    assert circles(imports) == [["zoo_core.plugin.a", "zoo_core.serve.b"]]


@pytest.mark.parametrize(
    "source",
    ["from zoo_core.store import runs", "from ..store import runs", "import zoo_core.store.runs.x"],
)
def test_imports_are_read_in_every_spelling(source):
    known = {"zoo_core.store", "zoo_core.store.runs", "zoo_core.training.loop"}
    lazy = f"def f():\n    {source}\n"  # inside a function: found all the same
    assert imports_of(CORE / "training" / "loop.py", known, lazy) == {"zoo_core.store.runs"}


# -- what plugins may import ------------------------------------------------------------------------
PUBLIC = {"zoo_core", "zoo_core.testing"}
OUTSIDE = [CORE.parent / "plugins", CORE.parent / "examples", CORE / "author" / "templates"]


def zoo_imports(text: str) -> set[str]:
    """The zoo_core modules a plugin's source names in its imports (templates are read as Python)."""
    found = set()
    for line in text.splitlines():
        words = line.strip().split()
        if len(words) >= 2 and words[0] in ("from", "import") and words[1].split(".")[0] == "zoo_core":
            found.add(words[1].rstrip(","))
    return found


def test_plugins_examples_and_the_scaffold_import_only_the_public_api():
    files = [p for root in OUTSIDE for p in root.rglob("*") if p.suffix in (".py", ".tmpl") and p.is_file()]
    assert len(files) > 40
    bad = {f"{p.relative_to(CORE.parent)}: {m}" for p in files for m in zoo_imports(p.read_text()) - PUBLIC}
    assert not bad, "import these from zoo_core (export them there if they are missing):\n" + "\n".join(
        sorted(bad)
    )


def test_the_scan_sees_an_internal_import():
    assert zoo_imports("import zoo_core\nfrom zoo_core.store.runs import find_run\n") == {
        "zoo_core",
        "zoo_core.store.runs",
    }


def test_every_public_name_resolves_without_torch():
    import subprocess
    import sys

    program = (
        "import sys, zoo_core\n"
        "missing = [n for n in zoo_core.__all__ if not hasattr(zoo_core, n)]\n"
        "assert not missing, missing\n"
        "assert 'torch' not in sys.modules, 'importing the public API imported torch'\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
