"""Registries of models, datasets, optimizers, trainers and schedulers, filled by plugins, found by name."""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from zoo_core.plugin.errors import AmbiguousName, PluginError, ZooError, first_line

KINDS = ("model", "dataset", "optimizer", "trainer", "scheduler")
PLURAL = {kind: f"{kind}s" for kind in KINDS}
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_FACTORY_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_MODEL_ONLY = ("dataset", "optimizer", "trainer", "scheduler", "recipe", "predictor", "expects")
#: how a model's ``expects`` compares a measured metric with its bound
COMPARISONS = {">=": float.__ge__, "<=": float.__le__, ">": float.__gt__, "<": float.__lt__}


def _frozen_mapping(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


@attrs.frozen(eq=False)
class Entry:
    """One registered thing: enough to list it without importing it, and to build it by name."""

    name: str
    kind: str
    factory: Callable[..., Any] | str
    plugin: str = ""
    distribution: str = ""
    version: str = ""
    summary: str = ""
    lesson: str = ""
    tags: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    defaults: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    dataset: str | None = None
    optimizer: str | None = None
    trainer: str | None = None
    scheduler: str | None = None
    recipe: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    predictor: Callable[..., Any] | str | None = None
    expects: dict[str, tuple[str, float]] = attrs.field(factory=dict, converter=_frozen_mapping)
    lr: float | None = None
    checked_as: str | None = None

    @property
    def qualname(self) -> str:
        """``plugin:name``, which always resolves even when two plugins share a name."""
        return f"{self.plugin}:{self.name}" if self.plugin else self.name

    def load(self) -> Callable[..., Any]:
        """Resolve a ``"module:attr"`` factory on first use, so listing never imports it."""
        return self._resolve(self.factory, "factory")

    def load_predictor(self) -> Callable[..., Any] | None:
        """The model's predictor class (``zoo predict``/``zoo export``), imported on first use; None if unset."""
        return None if self.predictor is None else self._resolve(self.predictor, "predictor")

    def _resolve(self, target: Callable[..., Any] | str, what: str) -> Callable[..., Any]:
        if callable(target):
            return target
        module_name, _, attr = target.partition(":")
        where = f"{self.kind} '{self.qualname}': cannot load {what} {target!r}"
        try:
            obj: Any = importlib.import_module(module_name)
        except ImportError as exc:
            missing = getattr(exc, "name", None) or ""
            if missing and (module_name + ".").startswith(missing + "."):
                raise ZooError(
                    f"{where}: there is no module {missing!r}; fix the name plugin '{self.plugin}' "
                    "registers, or reinstall the plugin"
                ) from exc
            if isinstance(exc, ModuleNotFoundError) and missing:
                raise ZooError(
                    f"{where}: it needs {missing!r}, which is not installed: pip install {missing}"
                ) from exc
            raise ZooError(
                f"{where} ({type(exc).__name__}: {exc}); reinstall plugin '{self.plugin}'"
            ) from exc
        for part in attr.split("."):
            if not hasattr(obj, part):
                raise ZooError(
                    f"{where}: {getattr(obj, '__name__', module_name)!r} has no {part!r}; fix the name "
                    f"plugin '{self.plugin}' registers{suggest(part, [n for n in dir(obj) if n[:1] != '_'])}"
                )
            obj = getattr(obj, part)
        if not callable(obj):
            raise ZooError(f"{self.kind} '{self.qualname}': {what} {target!r} is not callable")
        return obj

    def params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The entry's defaults with ``overrides`` applied; unknown keys list the valid ones."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            valid = ", ".join(sorted(self.defaults)) or "none"
            raise ZooError(
                f"{self.kind} '{self.name}' has no setting {', '.join(map(repr, unknown))}; "
                f"valid settings: {valid}"
            )
        return {**self.defaults, **overrides}

    def create(self, **overrides: Any) -> Any:
        """Build the thing with its defaults and ``overrides``."""
        params = self.params(overrides)
        with warnings.catch_warnings():  # a zero-width layer is refused below, in one line
            warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
            built = self.call(**params)
        if self.kind == "model":
            _refuse_empty(self, built, params)
        return built

    def call(self, *args: Any, **params: Any) -> Any:
        """Call the factory; a failure is one line naming the entry and its settings, not a traceback."""
        factory = self.load()
        try:
            return factory(*args, **params)
        except ZooError:
            raise
        except Exception as exc:
            raise ZooError(
                f"{self.kind} '{self.qualname}' could not be built with {_settings(params)}: "
                f"{first_line(exc)}"
            ) from exc

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (the factory as its import path)."""
        data = {
            "name": self.name,
            "qualname": self.qualname,
            "kind": self.kind,
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "summary": self.summary,
            "lesson": self.lesson,
            "tags": list(self.tags),
            "factory": _import_path(self.factory),
            "defaults": self.defaults,
        }
        if self.kind == "model":
            data.update(
                dataset=self.dataset,
                optimizer=self.optimizer,
                trainer=self.trainer,
                scheduler=self.scheduler,
                recipe=self.recipe,
                predictor=None if self.predictor is None else _import_path(self.predictor),
                expects={k: list(v) for k, v in self.expects.items()},
            )
        if self.kind == "optimizer":
            data["lr"] = self.lr
        if self.checked_as is not None:
            data["checked_as"] = self.checked_as
        return data


def _lazy(target: object) -> bool:
    """A callable, or a ``"module:attr"`` string to import on first use."""
    return callable(target) or (isinstance(target, str) and bool(_FACTORY_PATH.match(target)))


def _import_path(target: Callable[..., Any] | str) -> str:
    """A factory or predictor as its ``"module:attr"`` path, for listings."""
    if callable(target):
        return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', '?')}"
    return target


def _settings(params: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items() if not hasattr(v, "__next__"))
    return shown[:300] or "its defaults"


def _refuse_empty(entry: Entry, model: Any, params: Mapping[str, Any]) -> None:
    """A model with an empty weight (a zero-width layer) cannot learn: say so before training it."""
    named = getattr(model, "named_parameters", None)
    if not callable(named):
        return
    for name, param in named():
        if param.numel() == 0:
            raise ZooError(
                f"model '{entry.qualname}' built with {_settings(params)} has an empty weight "
                f"{name} of shape {tuple(param.shape)}; give its sizes values of 1 or more"
            )


def _expectations(who: str, name: str, expects: Mapping[str, Any] | None) -> dict[str, tuple[str, float]]:
    """A model's ``expects``, checked: ``{metric: (comparison, bound)}`` with a comparison zoo knows."""
    if expects is None:
        return {}
    if not isinstance(expects, Mapping):
        raise PluginError(
            f"{who}: expects of model '{name}' must be a mapping, e.g. {{'accuracy': ('>=', 0.9)}}"
        )
    out = {}
    for metric, rule in expects.items():
        ok = isinstance(rule, (tuple, list)) and len(rule) == 2 and rule[0] in COMPARISONS
        if not ok or isinstance(rule[1], bool) or not isinstance(rule[1], (int, float)):
            raise PluginError(
                f"{who}: expects[{metric!r}] of model '{name}' is {rule!r}; write (comparison, number) "
                f"with a comparison among {', '.join(COMPARISONS)}, e.g. ('>=', 0.9)"
            )
        out[str(metric)] = (rule[0], float(rule[1]))
    return out


def expectation(expects: Mapping[str, Any]) -> str:
    """``accuracy >= 0.94, mse <= 0.01``: a model's declared results, as one line."""
    return ", ".join(f"{metric} {op} {bound:g}" for metric, (op, bound) in expects.items())


def suggest(name: str, known: Iterable[str]) -> str:
    """``; did you mean 'a', 'b'?`` for the known names close to a mistyped one (or nothing)."""
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def natural_key(text: str) -> list[Any]:
    """Sort key that puts ``mlp2`` before ``mlp10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


@attrs.frozen
class Source:
    """Who registers: stamped on every entry a plugin's hooks add."""

    plugin: str = ""
    distribution: str = ""
    version: str = ""


class Registry:
    """All entries of one kind; a name may come from several plugins, ``plugin:name`` picks one."""

    def __init__(self, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown registry kind {kind!r}; expected one of {KINDS}")
        #: what the zoo did not load, in words (``; not loaded: ...``): where a missing name may be
        self.not_loaded: Callable[[], str] = str
        self.kind = kind
        self._entries: dict[str, list[Entry]] = {}
        self._source = Source()

    def scoped(self, source: Source) -> Registry:
        """This registry as one plugin's hooks see it: the same entries, its own stamp on new ones."""
        view = Registry(self.kind)
        view._entries, view._source = self._entries, source
        return view

    def __repr__(self) -> str:
        return f"<Registry {PLURAL[self.kind]}: {len(self)} entries>"

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.list())

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        plugin, _, bare = name.rpartition(":")
        return any(not plugin or e.plugin == plugin for e in self._entries.get(bare, ()))

    def add(
        self,
        name: str,
        factory: Callable[..., Any] | str,
        *,
        summary: str = "",
        lesson: str = "",
        tags: tuple[str, ...] | list[str] = (),
        defaults: Mapping[str, Any] | None = None,
        dataset: str | None = None,
        optimizer: str | None = None,
        trainer: str | None = None,
        scheduler: str | None = None,
        recipe: Mapping[str, Any] | None = None,
        predictor: Callable[..., Any] | str | None = None,
        expects: Mapping[str, tuple[str, float]] | None = None,
        lr: float | None = None,
        checked_as: str | None = None,
    ) -> Entry:
        """Register ``name``; ``factory`` is a callable or a lazy ``"module:attr"`` string."""
        src = self._source
        who = f"plugin '{src.plugin}'" if src.plugin else "registration"
        model_only = (dataset, optimizer, trainer, scheduler, recipe, predictor, expects)
        self._check(
            who, name, factory, predictor, dict(zip(_MODEL_ONLY, model_only, strict=True)), lr, defaults
        )
        if checked_as is not None and (
            not isinstance(checked_as, str) or not _NAME.match(checked_as) or checked_as == name
        ):
            raise PluginError(
                f"{who}: checked_as of {self.kind} '{name}' is {checked_as!r}; name another "
                f"{self.kind} of the same plugin, the one whose checks stand for this one's"
            )
        for existing in self._entries.get(name, ()):
            if existing.plugin == src.plugin:
                raise PluginError(f"{who} registers {self.kind} '{name}' twice")
        entry = Entry(
            name=name,
            kind=self.kind,
            factory=factory,
            plugin=src.plugin,
            distribution=src.distribution,
            version=src.version,
            summary=summary,
            lesson=lesson,
            tags=tuple(tags),
            defaults=defaults,
            dataset=dataset,
            optimizer=optimizer,
            trainer=trainer,
            scheduler=scheduler,
            recipe=recipe,
            predictor=predictor,
            expects=_expectations(who, name, expects),
            lr=None if lr is None else float(lr),
            checked_as=checked_as,
        )
        self._entries.setdefault(name, []).append(entry)
        return entry

    def _check(
        self,
        who: str,
        name: Any,
        factory: Any,
        predictor: Any,
        model_only: Mapping[str, Any],
        lr: Any,
        defaults: Any,
    ) -> None:
        """Refuse a declaration that would fail later, naming the plugin, the entry and the field."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise PluginError(
                f"{who}: {self.kind} name {name!r} is invalid; use lower-case letters, digits, "
                "'.', '_' or '-'"
            )
        for what, target in (("factory", factory), ("predictor", predictor)):
            if (what == "factory" or target is not None) and not _lazy(target):
                raise PluginError(
                    f"{who}: {self.kind} '{name}' needs a callable {what} or a 'module:attr' string, "
                    f"got {target!r}"
                )
        given = [k for k, v in model_only.items() if v]
        if self.kind != "model" and given:
            raise PluginError(f"{who}: {', '.join(given)} only apply to models, not to {self.kind} '{name}'")
        if lr is not None and self.kind != "optimizer":
            raise PluginError(f"{who}: lr only applies to optimizers, not to {self.kind} '{name}'")
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0):
            raise PluginError(f"{who}: lr of optimizer '{name}' must be a positive number, got {lr!r}")
        if defaults is not None and "lr" in defaults and self.kind == "optimizer":
            raise PluginError(
                f"{who}: optimizer '{name}' has 'lr' among its defaults; declare it as "
                f"registry.add(..., lr={defaults['lr']!r})"
            )
        if defaults is not None and not isinstance(defaults, Mapping):
            raise PluginError(f"{who}: defaults of {self.kind} '{name}' must be a mapping")

    def get(self, name: str) -> Entry:
        """Find ``name`` or ``plugin:name``; unknown or ambiguous names raise with suggestions."""
        plugin, _, bare = name.rpartition(":")
        candidates = self._entries.get(bare, [])
        if plugin:
            candidates = [e for e in candidates if e.plugin == plugin]
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            options = ", ".join(f"'{e.qualname}'" for e in candidates)
            raise AmbiguousName(
                f"{self.kind} name '{bare}' is ambiguous: plugins "
                f"{', '.join(repr(e.plugin) for e in candidates)} all register it; use {options}"
            )
        known = sorted(
            {e.name for es in self._entries.values() for e in es}
            | {e.qualname for es in self._entries.values() for e in es}
        )
        raise ZooError(
            f"unknown {self.kind} '{name}'{suggest(name, known)} (see 'zoo list {PLURAL[self.kind]}')"
            f"{self.not_loaded()}"
        )

    def list(self, *patterns: str, plugin: str | None = None) -> list[Entry]:
        """Entries whose name (or ``plugin:name``) matches any glob, naturally sorted."""
        found = [
            e
            for es in self._entries.values()
            for e in es
            if (plugin is None or e.plugin == plugin)
            and (
                not patterns
                or any(fnmatch.fnmatchcase(e.name, p) or fnmatch.fnmatchcase(e.qualname, p) for p in patterns)
            )
        ]
        return sorted(found, key=lambda e: (natural_key(e.name), e.plugin))

    def discard_plugin(self, plugin: str) -> None:
        """Forget everything ``plugin`` registered (used when one of its hooks fails)."""
        for name in list(self._entries):
            kept = [e for e in self._entries[name] if e.plugin != plugin]
            if kept:
                self._entries[name] = kept
            else:
                del self._entries[name]

    def registered_by(self, plugin: str) -> list[str]:
        """Names that ``plugin`` registered here."""
        return [e.name for e in self.list(plugin=plugin)]
