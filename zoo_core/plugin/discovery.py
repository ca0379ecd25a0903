"""Find plugins through the ``zoo`` entry-point group and let each fill the registries on its own."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable
from importlib import metadata
from types import ModuleType
from typing import Any

import attrs
import pluggy

from zoo_core.plugin import hookspecs
from zoo_core.plugin.errors import PluginError, debugging, switch
from zoo_core.plugin.registry import KINDS, PLURAL, Entry, Registry, Source

ENTRY_POINT_GROUP = "zoo"
#: the distribution whose plugins count as zoo's own (the lessons, ``standard``, ``mnist``)
BUILTIN_DISTRIBUTION = "zoo"
REGISTRY_HOOKS = {kind: f"register_{PLURAL[kind]}" for kind in KINDS}
# zoo's own commands: a plugin command with one of these names is refused, never swapped in.
CORE_COMMANDS = frozenset(
    "list info plugins train eval runs compare compare-formats predict export push check new-plugin".split()
)


def _env_list(name: str) -> set[str] | None:
    """A comma list from the environment; ``None`` when unset, empty set when set but empty."""
    value = os.environ.get(name)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _distribution(ep: metadata.EntryPoint) -> tuple[str, str]:
    """The name and version of the distribution that declares ``ep`` (empty when unknown)."""
    dist = getattr(ep, "dist", None)
    return (dist.metadata["Name"], dist.version) if dist else ("", "")


def _load_order(ep: metadata.EntryPoint) -> tuple[str, int, str]:
    """By name; for a name two distributions share, zoo's own first, then by distribution."""
    distribution = _distribution(ep)[0]
    return (ep.name, 0 if distribution == BUILTIN_DISTRIBUTION else 1, distribution)


def strict() -> bool:
    """``ZOO_STRICT_PLUGINS=1`` turns a failing plugin into an error (for plugin authors)."""
    return switch("ZOO_STRICT_PLUGINS")


@attrs.define
class PluginInfo:
    """What ``zoo plugins`` reports about one plugin."""

    name: str
    module: str
    distribution: str = ""
    version: str = ""
    status: str = "loaded"  # loaded | failed | incompatible | blocked | skipped
    error: str = ""
    registered: dict[str, list[str]] = attrs.field(factory=dict)
    commands: list[str] = attrs.field(factory=list)
    warnings: list[str] = attrs.field(factory=list)  # e.g. a hook function without @hookimpl

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def installed(
    *, say: Callable[[str], None] | None = None
) -> dict[str, tuple[metadata.EntryPoint, PluginInfo]]:
    """Installed plugins, not loaded, by the one name that discovery, isolation and ``zoo check`` share."""
    found: dict[str, tuple[metadata.EntryPoint, PluginInfo]] = {}
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=_load_order):
        distribution, version = _distribution(ep)
        name = ep.name
        if name in found:
            if found[name][1].distribution == distribution:  # the same distribution twice on sys.path
                continue
            name = f"{distribution or ep.value}/{ep.name}"
            if say is not None:
                taken = found[ep.name][1].distribution
                say(
                    f"zoo: plugin name '{ep.name}' is taken by {taken or 'another plugin'}; "
                    f"the one from {distribution or ep.value} is loaded as '{name}' "
                    f"(its entries are '{name}:NAME')"
                )
            if name in found:
                continue
        info = PluginInfo(name=name, module=ep.value, distribution=distribution, version=version)
        found[name] = (ep, info)
    return found


def _object_info(plugin: Any, fallback: str = "plugin") -> PluginInfo:
    """A plugin object's info: named after its module, class or type, lower case, without dots."""
    name = str(getattr(plugin, "__name__", None) or type(plugin).__name__ or fallback)
    return PluginInfo(name=name.rpartition(".")[2].lower(), module=name)


class Zoo:
    """The registries plus the plugins that filled them."""

    def __init__(self) -> None:
        self.registries = {kind: Registry(kind) for kind in KINDS}
        for registry in self.registries.values():
            registry.not_loaded = self.not_loaded
        self.plugins: dict[str, PluginInfo] = {}
        self.commands: dict[str, Any] = {}  # command name -> (plugin name, click command)
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)

    # -- the registries by name, so a typo is an AttributeError, not a KeyError at run time ----
    @property
    def models(self) -> Registry:
        return self.registries["model"]

    @property
    def datasets(self) -> Registry:
        return self.registries["dataset"]

    @property
    def optimizers(self) -> Registry:
        return self.registries["optimizer"]

    @property
    def trainers(self) -> Registry:
        return self.registries["trainer"]

    @property
    def schedulers(self) -> Registry:
        return self.registries["scheduler"]

    # -- loading -------------------------------------------------------------------------
    @classmethod
    def discover(cls) -> Zoo:
        """Load every installed plugin, honouring ZOO_LOAD_PLUGINS and ZOO_BLOCK_PLUGINS."""
        zoo = cls()
        allow, block = _env_list("ZOO_LOAD_PLUGINS"), _env_list("ZOO_BLOCK_PLUGINS") or set()
        for name, (ep, info) in installed(say=lambda text: print(text, file=sys.stderr)).items():
            if allow is not None and name not in allow:
                info.status = "skipped"
            elif name in block:
                info.status = "blocked"
            if info.status != "loaded":
                zoo.plugins[name] = info
                continue
            zoo._load_entry_point(ep, info)
        return zoo

    @classmethod
    def from_plugins(cls, plugins: Iterable[Any]) -> Zoo:
        """A zoo made of the given plugin objects only (modules, classes, instances): for tests."""
        zoo = cls()
        for i, plugin in enumerate(plugins):
            zoo.add_plugin(plugin, _object_info(plugin, f"plugin{i}"))
        return zoo

    @classmethod
    def isolated(cls, plugin: str | ModuleType | Any, *, builtins: bool = True) -> tuple[Zoo, PluginInfo]:
        """A zoo of one plugin (plus zoo's own unless ``builtins=False``) and its info, so that a
        plugin's tests and ``zoo check`` see only what it and zoo register.

        ``plugin`` is an installed plugin's name, an importable module name, or a plugin object (a
        module, class or instance with hook implementations); the environment's ZOO_LOAD_PLUGINS
        and ZOO_BLOCK_PLUGINS do not apply. A plugin that fails to load raises ``PluginError``.
        """
        found = installed()
        entry_point = found.get(plugin) if isinstance(plugin, str) else None
        if entry_point is None and isinstance(plugin, str):
            plugin = _import_plugin(plugin, found)
        info = entry_point[1] if entry_point else _object_info(plugin)
        zoo = cls()
        if builtins:
            for ep, builtin in found.values():
                if builtin.name != info.name and builtin.distribution == BUILTIN_DISTRIBUTION:
                    zoo._load_entry_point(ep, builtin)
        if entry_point:
            zoo._load_entry_point(*entry_point)
        else:
            zoo.add_plugin(plugin, info)
        if info.status != "loaded":
            raise PluginError(f"plugin '{info.name}' {info.status}: {info.error}")
        return zoo, info

    def _load_entry_point(self, ep: metadata.EntryPoint, info: PluginInfo) -> PluginInfo:
        """Import an installed plugin and add it; an import that fails is that plugin's failure."""
        self.plugins[info.name] = info
        try:
            module = ep.load()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a broken plugin, even one calling sys.exit, must not break zoo
            self._fail(info, exc)
            return info
        return self.add_plugin(module, info)

    def add_plugin(self, plugin: Any, info: PluginInfo) -> PluginInfo:
        """Register one plugin object and run its hooks; a failure is contained to that plugin."""
        self.plugins[info.name] = info
        supported = getattr(plugin, "ZOO_API_VERSIONS", None)
        if supported is not None:
            versions = (supported,) if isinstance(supported, int) else supported
            if not isinstance(versions, (tuple, list, set, frozenset)) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in versions
            ):
                self._fail(
                    info,
                    PluginError(f"ZOO_API_VERSIONS must be a tuple of ints such as (1,), not {supported!r}"),
                )
                return info
            if not set(versions) & set(hookspecs.SUPPORTED_API_VERSIONS):
                info.status = "incompatible"
                provided = ", ".join(map(str, hookspecs.SUPPORTED_API_VERSIONS))
                info.error = (
                    f"needs zoo plugin API {', '.join(map(str, sorted(versions)))}; "
                    f"this zoo provides {provided}"
                )
                if set(versions) <= {1}:
                    info.error += (
                        ": port it (a trainer's loss(), or manual = True with opt.backward/opt.step) "
                        "and declare ZOO_API_VERSIONS = (2,)"
                    )
                self._report(info)
                return info
        try:
            try:
                self.pm.register(plugin, name=info.name)
            except pluggy.PluginValidationError as exc:
                raise PluginError(_validation_reason(exc)) from exc
            self._check_hook_names()
            self._run_hooks(plugin, info)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit from a hook is contained too
            self._fail(info, exc)
            return info
        for warning in unmarked_hooks(plugin):
            info.warnings.append(warning)
            print(f"zoo: plugin '{info.name}' ({self._label(info)}): warning: {warning}", file=sys.stderr)
        return info

    def _check_hook_names(self) -> None:
        """A misspelled hook name is an error, not a silently ignored function (pluggy's check)."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            unknown = re.search(r"unknown hook '(\w+)'", str(exc))
            known = ", ".join(sorted(REGISTRY_HOOKS.values()) + ["register_commands"])
            what = unknown.group(1) if unknown else _validation_reason(exc)
            raise PluginError(f"unknown hook {what}; zoo's hooks are: {known}") from exc

    def _hook(self, plugin: Any, name: str) -> Any:
        """``pm.hook.NAME`` restricted to ``plugin``: its implementations, through pluggy."""
        others = [p for p in self.pm.get_plugins() if p is not plugin]
        return self.pm.subset_hook_caller(name, remove_plugins=others)

    def _run_hooks(self, plugin: Any, info: PluginInfo) -> None:
        source = Source(plugin=info.name, distribution=info.distribution, version=info.version)
        for kind, hook_name in REGISTRY_HOOKS.items():
            self._hook(plugin, hook_name)(registry=self.registries[kind].scoped(source))
        self._collect_commands(plugin, info)
        info.registered = {
            PLURAL[k]: names for k, r in self.registries.items() if (names := r.registered_by(info.name))
        }

    def _collect_commands(self, plugin: Any, info: PluginInfo) -> None:
        import click  # only the command line needs click; keep it off the library path

        staging = click.Group(name=info.name)
        self._hook(plugin, "register_commands")(cli=staging)
        for cmd_name in staging.commands:
            if cmd_name in CORE_COMMANDS:
                raise PluginError(f"command '{cmd_name}' would replace zoo's own command; rename it")
            if cmd_name in self.commands:
                other = self.commands[cmd_name][0]
                raise PluginError(f"command '{cmd_name}' is already added by plugin '{other}'")
        for cmd_name, command in staging.commands.items():
            self.commands[cmd_name] = (info.name, command)
            info.commands.append(cmd_name)

    def not_loaded(self) -> str:
        """``; not loaded: ...`` naming the plugins that are not loaded and why, or nothing."""
        why = {
            "blocked": "blocked by ZOO_BLOCK_PLUGINS",
            "skipped": "not in ZOO_LOAD_PLUGINS",
            "failed": "failed to load, see 'zoo plugins'",
            "incompatible": "incompatible, see 'zoo plugins'",
        }
        groups: dict[str, list[str]] = {}
        for info in self.plugins.values():
            if info.status in why:
                groups.setdefault(info.status, []).append(info.name)
        said = [
            f"{', '.join(names) if len(names) <= 3 else f'{len(names)} plugins'} ({why[status]})"
            for status, names in groups.items()
        ]
        return f"; not loaded: {'; '.join(said)}" if said else ""

    def _fail(self, info: PluginInfo, exc: BaseException) -> None:
        for registry in self.registries.values():
            registry.discard_plugin(info.name)
        for cmd_name in info.commands:
            self.commands.pop(cmd_name, None)
        info.commands = []
        info.registered = {}
        if self.pm.is_registered(self.pm.get_plugin(info.name)):
            self.pm.unregister(name=info.name)
        info.status = "failed"
        info.error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        if isinstance(exc, SystemExit):
            info.error = f"called sys.exit({'' if exc.code is None else repr(exc.code)})"
        if strict():
            raise PluginError(f"plugin '{info.name}' ({self._label(info)}) failed: {info.error}") from exc
        self._report(info)
        if debugging():
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)

    @staticmethod
    def _label(info: PluginInfo) -> str:
        return f"{info.distribution} {info.version}".strip() or info.module

    def entries_named(self, name: str, kinds: Iterable[str] = KINDS) -> list[Entry]:
        """The entries called ``name`` (or ``plugin:name``) in the ``kinds`` registries; an
        ambiguous bare name raises ``AmbiguousName``."""
        found = []
        for kind in kinds:
            if name in self.registries[kind]:
                found.append(self.registries[kind].get(name))  # AmbiguousName when several plugins
        return found

    def _report(self, info: PluginInfo) -> None:
        print(
            f"zoo: plugin '{info.name}' ({self._label(info)}) {info.status}: {info.error}",
            file=sys.stderr,
        )


def _validation_reason(exc: pluggy.PluginValidationError) -> str:
    """pluggy's several-line refusal as one line that names the parameter to rename."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    hook = next((h for h in (*REGISTRY_HOOKS.values(), "register_commands") if f"'{h}'" in lines[0]), None)
    definition = next(
        (line.partition(": ")[2] for line in lines if line.startswith("hookimpl definition")), ""
    )
    if hook is None or "can not be found in the hookspec" not in str(exc):
        return "; ".join(lines)
    expected = getattr(hookspecs, hook).__code__.co_varnames[0]
    return (
        f"hook {definition or hook}: zoo calls hooks by keyword, so its parameter must be named as the "
        f"hook's: {hook}({expected})"
    )


def _import_plugin(name: str, found: dict[str, Any]) -> ModuleType:
    """The module ``name``, for a plugin that is not installed; else a ``PluginError`` that helps."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        known = ", ".join(sorted(found)) or "none"
        raise PluginError(
            f"no plugin {name!r}: it is neither an installed 'zoo' entry point (installed: "
            f"{known}) nor an importable module ({exc}); did you 'pip install -e .' your package?"
        ) from exc


def unmarked_hooks(plugin: Any) -> list[str]:
    """``register_*`` functions of a plugin that lack ``@hookimpl``, which zoo would never call."""
    marker = f"{hookspecs.PROJECT}_impl"
    found = []
    for attr in sorted(dir(plugin)):
        if not attr.startswith("register_"):
            continue
        value = getattr(plugin, attr, None)
        if not (inspect.isfunction(value) or inspect.ismethod(value)) or hasattr(value, marker):
            continue
        if isinstance(plugin, ModuleType) and value.__module__ != plugin.__name__:
            continue  # imported from elsewhere, not this plugin's own function
        found.append(
            f"{attr} is not marked with @hookimpl, so zoo never calls it; decorate it with @zoo_core.hookimpl"
        )
    return found


_ZOO: Zoo | None = None


def get_zoo() -> Zoo:
    """The process-wide zoo, discovered from entry points on first use."""
    global _ZOO
    if _ZOO is None:
        _ZOO = Zoo.discover()
    return _ZOO


def set_zoo(zoo: Zoo | None) -> Zoo | None:
    """Swap the process-wide zoo (tests, notebooks); returns the previous one."""
    global _ZOO
    previous, _ZOO = _ZOO, zoo
    return previous
