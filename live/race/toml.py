"""Reading a race's or an event's TOML file: typed values that name their dotted key when wrong."""

from __future__ import annotations

import builtins
import math
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from live.race.errors import RaceError


def read_toml(path: Path, missing: str) -> TomlDoc:
    """The TOML file at ``path``; ``missing``: what to say if there is none."""
    if not path.is_file():
        raise RaceError(path, "", f"file not found; {missing}")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RaceError(path, "", f"not valid TOML: {exc}") from exc
    return TomlDoc(path, doc)


class TomlDoc:
    """Typed access to a parsed TOML document that reports the dotted key on error."""

    _MISSING = object()

    def __init__(self, path: Path, doc: dict[str, Any]) -> None:
        self.path = path
        self.doc = doc

    def get(self, key: str, default: object = None) -> object:
        node: object = self.doc
        for part in key.replace("]", "").replace("[", ".").split("."):
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return default
        return node

    def _need(self, key: str, default: object) -> object:
        value = self.get(key, self._MISSING)
        if value is self._MISSING:
            if default is not self._MISSING:
                return default
            raise RaceError(self.path, key, "missing")
        return value

    def str(self, key: builtins.str, default: object = _MISSING) -> builtins.str:
        value = self._need(key, default)
        if not isinstance(value, str) or not value.strip():
            raise RaceError(self.path, key, f"must be a non-empty string, got {value!r}")
        return value.strip()

    def number(self, key: builtins.str, default: object = _MISSING, positive: bool = False) -> float:
        value = self._need(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RaceError(self.path, key, f"must be a number, got {value!r}")
        if not math.isfinite(value):
            raise RaceError(self.path, key, f"must be a finite number, got {value!r}")
        if positive and value <= 0:
            raise RaceError(self.path, key, f"must be greater than 0, got {value!r}")
        return float(value)

    def list(self, key: builtins.str) -> builtins.list[Any]:
        value = self.get(key, [])
        if not isinstance(value, list):
            raise RaceError(self.path, key, "must be an array of tables")
        return value

    def date(self, key: builtins.str) -> date:
        value = self._need(key, self._MISSING)
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError as exc:
            raise RaceError(self.path, key, f"must be a date YYYY-MM-DD, got {value!r}") from exc

    def time(self, key: builtins.str) -> time:
        value = self._need(key, self._MISSING)
        if isinstance(value, time):
            return value
        try:
            return time.fromisoformat(str(value))
        except ValueError as exc:
            raise RaceError(self.path, key, f"must be a local time HH:MM:SS, got {value!r}") from exc

    def identifier(self, key: builtins.str) -> builtins.str:
        """An id that goes into Redis keys and URLs: letters, digits, '-' and '_'."""
        value = self.str(key)
        if not value.replace("-", "").replace("_", "").isalnum():
            raise RaceError(self.path, key, f"{value!r} must use only letters, digits, '-' and '_'")
        return value

    def zone(self, key: builtins.str) -> ZoneInfo:
        name = self.str(key)
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise RaceError(self.path, key, f"unknown time zone {name!r}") from exc
