"""Config files: ``--config`` reads a TOML or JSON file of settings; ``--print-config`` writes one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from zoo_core.config import settings
from zoo_core.config.runconfig import SECTIONS, RunConfig
from zoo_core.plugin.errors import ZooError, first_line


@attrs.define
class ConfigFile:
    """A config file (TOML or JSON, a run's ``config.json`` too): the resolved config's keys, any subset."""

    path: str
    values: dict[str, Any]

    @classmethod
    def read(cls, path: str | Path) -> ConfigFile:
        """Parse ``path`` and check its keys and their types; mistakes name the file and the key."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ZooError(f"--config {path}: cannot read it ({exc.strerror or exc})") from exc
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        try:
            text = raw.decode("utf-8")
            data: Any = _toml().loads(text) if kind == "TOML" else json.loads(text)
        except UnicodeDecodeError as exc:
            raise ZooError(f"--config {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep to be settings
            raise ZooError(f"--config {path}: not valid {kind} ({first_line(exc)})") from exc
        if isinstance(data, dict) and isinstance(data.get("config"), dict):
            data = data["config"]  # a run folder's config.json: the config and what ran it
        if not isinstance(data, dict):
            raise ZooError(f"--config {path}: expected a table of settings at the top")
        fields = {f.name: f for f in attrs.fields(RunConfig)}
        for key, value in data.items():
            if key not in fields:
                raise ZooError(f"--config {path}: unknown key '{key}'; valid keys: {', '.join(fields)}")
            want = dict if key.endswith("_params") or key in ("loop", "implied") else str
            want = list if key == "given" else want
            if not (isinstance(value, want) or (key == "data_root" and value is None)):
                kind = {dict: "a table", list: "a list"}.get(want, "a string")
                raise ZooError(f"--config {path}: '{key}' must be {kind}, not {value!r}")
        return cls(str(path), data)

    @property
    def _at(self) -> str:
        return f"--config {self.path}:"

    def apply(self, params: dict[str, dict[str, Any]], loop: dict[str, Any]) -> None:
        """Set the file's section settings and loop values over the recipe's, checking each one."""
        for section in SECTIONS:
            for key, value in self.values.get(f"{section}_params", {}).items():
                if key not in params[section]:
                    valid = ", ".join(sorted(params[section])) or "none"
                    raise ZooError(
                        f"--config {self.path}: unknown setting '{section}_params.{key}'; valid: {valid}"
                    )
                params[section][key] = settings.typed(
                    value, params[section][key], f"{self._at} '{section}_params.{key}'"
                )
        saved_loop = self.values.get("loop", {})
        if not any(settings.is_none(saved_loop.get(k, None)) for k in ("steps", "epochs")):
            raise ZooError(
                f"--config {self.path}: give either loop.epochs or loop.steps, not both "
                "(set the other to none, or leave it out)"
            )
        for key, value in saved_loop.items():
            if key not in settings.NAMES:
                raise ZooError(
                    f"--config {self.path}: unknown key 'loop.{key}'; valid: {', '.join(settings.NAMES)}"
                )
            if settings.is_none(value) and settings.optional(key):
                loop[key] = None
            elif isinstance(value, str) and value in settings.words(key):
                loop[key] = value
            else:
                loop[key] = settings.typed(value, settings.like(key), f"{self._at} 'loop.{key}'")
        if "epochs" in saved_loop and "steps" not in saved_loop:
            loop["steps"] = None  # the file's length replaces the recipe's
        if "steps" in saved_loop and "epochs" not in saved_loop:
            loop["epochs"] = None


def _toml() -> Any:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    return tomllib


def to_toml(config: RunConfig) -> str:
    """The resolved config as TOML, a template for ``--config`` (None is written as "none")."""
    import tomli_w

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return "none" if value is None else value

    data = {k: plain(v) for k, v in config.to_dict().items() if v is not None}
    return tomli_w.dumps(data)
