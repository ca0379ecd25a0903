"""The house rules: lessons stand alone, only the CLI imports click, functions stay short or say why.

A lesson takes its parts from itself and the shared plugins only, and no module of a lesson imports
another lesson's package; so blocking a lesson costs that lesson alone, and blocking a shared plugin
refuses exactly the lessons that use it, in one line, while the others train.
"""

from __future__ import annotations

import ast
import importlib.util
from importlib import metadata
from pathlib import Path

import pytest

import zoo_core
from zoo_core.config.resolver import resolve
from zoo_core.plugin.discovery import ENTRY_POINT_GROUP, Zoo, set_zoo
from zoo_core.training import loop as training

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
#: the built-in plugins of shared parts that lessons may depend on
SHARED = {"standard", "mnist"}
#: settings that keep one or two steps of each model quick (small data, small evaluations)
QUICK = {
    "gan": ["dataset.n=128", "dataset.n_eval=16", "trainer.eval_samples=16"],
    "conditional-gan": ["dataset.n=128", "dataset.n_eval=16", "trainer.eval_samples=16"],
    "char-gpt": ["warmup_steps=1", "n_layer=1", "n_embd=16", "n_head=2"],
}
HAVE_GYM = importlib.util.find_spec("gymnasium") is not None


def builtin_plugins() -> dict[str, str]:
    """Entry-point name -> module of every plugin this package ships."""
    return {
        ep.name: ep.value
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.value.startswith("zoo_plugins.")
    }


def test_the_shared_plugins_are_built_in():
    assert SHARED <= set(builtin_plugins())
    assert {"supervised", "schedulers", "conditional-gan"}.isdisjoint(builtin_plugins())


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny MNIST files (the lesson tests' fake digits): the digit lessons train on them offline."""
    from tests.plugins.conftest import write_mnist

    return write_mnist(tmp_path_factory.mktemp("mnist-data"), n_train=64, n_test=32)


@pytest.fixture(scope="module")
def parts() -> dict[str, set[str]]:
    """Every built-in model (bare name) -> the plugins its recipe's parts come from, its own included."""
    previous = set_zoo(Zoo.discover())
    try:
        found = {}
        for entry in zoo_core.get_zoo().models:
            if entry.plugin in builtin_plugins() and (HAVE_GYM or entry.name != "dqn"):
                config = resolve(entry.qualname, device="cpu")
                qualnames = (config.model, config.dataset, config.optimizer, config.trainer, config.scheduler)
                found[entry.name] = {q.partition(":")[0] for q in qualnames if ":" in q}
        return found
    finally:
        set_zoo(previous)


def test_a_lesson_takes_its_parts_from_itself_and_the_shared_plugins_only(parts):
    """With the import scan below, why blocking one lesson cannot take a part from another."""
    wrong = {name: sorted(used - SHARED) for name, used in parts.items() if len(used - SHARED) != 1}
    assert not wrong, wrong
    assert {"regression", "cnn", "gan"} <= set(parts)


@pytest.mark.parametrize("blocked", sorted(SHARED))
def test_blocking_a_shared_plugin_refuses_its_users_in_one_line_and_trains_the_others(
    blocked, parts, mnist_root, tmp_path, monkeypatch
):
    monkeypatch.setenv("ZOO_BLOCK_PLUGINS", blocked)
    monkeypatch.delenv("ZOO_LOAD_PLUGINS", raising=False)
    monkeypatch.setattr(training, "draw_figures", lambda *args, **kwargs: [])
    previous = set_zoo(Zoo.discover())
    try:
        assert zoo_core.get_zoo().plugins[blocked].status == "blocked"
        users = sorted(name for name, used in parts.items() if blocked in used)
        others = sorted(set(parts) - set(users))
        assert users, blocked  # every lesson uses standard; the digit lessons alone use mnist
        for name in users:
            with pytest.raises(zoo_core.ZooError) as caught:
                zoo_core.train(name, steps=1, out=tmp_path / name, device="cpu", quiet=True)
            message = str(caught.value)
            assert "\n" not in message and message.endswith(
                f"; not loaded: {blocked} (blocked by ZOO_BLOCK_PLUGINS)"
            ), (name, message)
            assert not (tmp_path / name).exists(), name  # refused before a run folder was made
        for name in others:
            result = zoo_core.train(
                name,
                steps=2,
                sets=QUICK.get(name, []),
                out=tmp_path / name,
                device="cpu",
                quiet=True,
                data_root=str(mnist_root),
            )
            assert result.step == 2 and result.history, name
    finally:
        set_zoo(previous)


@pytest.mark.parametrize("blocked", ["regression", "gan"])
def test_blocking_a_lesson_leaves_every_other_model_registered(blocked, parts, monkeypatch):
    monkeypatch.setenv("ZOO_BLOCK_PLUGINS", blocked)
    monkeypatch.delenv("ZOO_LOAD_PLUGINS", raising=False)
    zoo = Zoo.discover()
    assert zoo.plugins[blocked].status == "blocked"
    kept = {e.name for e in zoo.models if e.plugin in builtin_plugins()}
    assert kept >= {name for name, used in parts.items() if blocked not in used}
    assert not {name for name, used in parts.items() if blocked in used} & kept


def imported_modules(path: Path) -> set[str]:
    """Every module name an ``import`` or ``from ... import`` in the file names (relative resolved)."""
    package = "zoo_plugins." + path.parent.name
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")[: 3 - node.level] if node.level else []
            base = ".".join(parts + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_no_lesson_imports_another_lesson():
    packages = {module.split(".")[1] for module in builtin_plugins().values()}
    lessons = packages - SHARED
    crossings = []
    for package in sorted(lessons):
        for path in sorted((PLUGINS / package).rglob("*.py")):
            for name in imported_modules(path):
                parts = name.split(".")
                if parts[0] == "zoo_plugins" and len(parts) > 1 and parts[1] not in {package, *SHARED}:
                    crossings.append(f"{path.relative_to(PLUGINS)} imports {name}")
    assert not crossings, "\n".join(crossings)


def test_the_scan_sees_a_crossing(tmp_path):
    lesson = tmp_path / "dropout"
    lesson.mkdir()
    (lesson / "lesson.py").write_text(
        "from zoo_plugins.optimizers.lesson import Race\nfrom . import figures\nimport zoo_plugins.gan\n"
    )
    names = imported_modules(lesson / "lesson.py")
    assert {"zoo_plugins.optimizers.lesson", "zoo_plugins.dropout.figures", "zoo_plugins.gan"} <= names


def test_factory_strings_stay_inside_the_plugin():
    """Entries name factories and predictors by ``module:attr``; a lesson's point into itself or the shared parts."""
    zoo = Zoo.discover()
    wrong = []
    for kind, registry in zoo.registries.items():
        for entry in registry:
            module = builtin_plugins().get(entry.plugin)
            if module is None or entry.plugin in SHARED:
                continue
            for ref in (entry.factory, getattr(entry, "predictor", None)):
                if isinstance(ref, str) and ref.startswith("zoo_plugins."):
                    owner = ref.split(":")[0].split(".")[1]
                    if owner not in {module.split(".")[1], *SHARED}:
                        wrong.append(f"{kind} {entry.plugin}:{entry.name} -> {ref}")
    assert not wrong, "\n".join(wrong)


CORE = Path(zoo_core.__file__).resolve().parent
#: the size a module or function may grow to before it should be split (or say why not)
FUNCTION_LINES = 80


def _core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_only_the_command_line_imports_click_when_imported():
    """Library modules stay usable without the CLI: click is imported at module level only in cli/."""
    offenders = []
    for path in _core_modules():
        if "cli" in path.relative_to(CORE).parts:
            continue
        for node in ast.parse(path.read_text()).body:  # module level, outside `if TYPE_CHECKING:`
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if any(n == "click" or n.startswith("click.") for n in names):
                offenders.append(str(path.relative_to(CORE)))
    assert not offenders, f"import click inside the functions that need it: {offenders}"


def test_functions_stay_small_or_say_why():
    """A function over FUNCTION_LINES lines is split, or says at its top why it is long ("Long on
    purpose"). Modules are kept small by idea, in layers (tests/test_layers.py), not by a count."""
    big = []
    for path in _core_modules():
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LINES and "Long on purpose" not in (ast.get_docstring(node) or ""):
                    big.append(f"{path.relative_to(CORE)}:{node.lineno} {node.name} ({length} lines)")
    assert not big, f"split these, or say at their top why they are long: {big}"
