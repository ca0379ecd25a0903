"""Config files: ``--config`` reads a TOML or JSON file of settings; ``--print-config`` writes one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from zoo_core import settings
from zoo_core.config import SECTIONS, RunConfig
from zoo_core.errors import ZooError
from zoo_core.settings import fits, kind_of


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
            text = path.read_text()
        except OSError as exc:
            raise ZooError(f"--config {path}: cannot read it ({exc.strerror or exc})") from exc
        try:
            if path.suffix.lower() == ".toml":
                data: Any = _toml().loads(text)
            else:
                data = json.loads(text)
        except ValueError as exc:
            kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
            raise ZooError(f"--config {path}: not valid {kind} ({exc})") from exc
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

    def apply(self, params: dict[str, dict[str, Any]], loop: dict[str, Any]) -> None:
        """Set the file's section settings and loop values over the recipe's, checking each one."""
        for section in SECTIONS:
            for key, value in self.values.get(f"{section}_params", {}).items():
                if key not in params[section]:
                    valid = ", ".join(sorted(params[section])) or "none"
                    raise ZooError(
                        f"--config {self.path}: unknown setting '{section}_params.{key}'; valid: {valid}"
                    )
                params[section][key] = self._typed(f"{section}_params.{key}", value, params[section][key])
        saved_loop = self.values.get("loop", {})
        for key, value in saved_loop.items():
            if key not in settings.NAMES:
                raise ZooError(
                    f"--config {self.path}: unknown key 'loop.{key}'; valid: {', '.join(settings.NAMES)}"
                )
            if _is_none(value) and settings.optional(key):
                loop[key] = None
            else:
                loop[key] = self._typed(f"loop.{key}", value, settings.like(key))
        if "epochs" in saved_loop and "steps" not in saved_loop:
            loop["steps"] = None  # the file's length replaces the recipe's
        if "steps" in saved_loop and "epochs" not in saved_loop:
            loop["epochs"] = None

    def _typed(self, where: str, value: Any, like: Any) -> Any:
        """``value`` when it has the type of the setting's default ``like`` (numbers as floats)."""
        if like is None and _is_none(value):
            return None
        if not fits(value, like):
            raise ZooError(f"--config {self.path}: '{where}' must be {kind_of(like)}, not {value!r}")
        if isinstance(like, float):
            return float(value)
        return type(like)(value) if isinstance(like, tuple) else value


def _is_none(value: Any) -> bool:
    """None in a file: JSON's null, or the string "none" (TOML has no null)."""
    return value is None or (isinstance(value, str) and value.strip().lower() == "none")


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
