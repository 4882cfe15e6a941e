"""One TOML table of the user's file over the same table of the defaults, with typed, checked reads.

A key the user leaves out takes its value from the defaults file; a key with no default
there is required, unless the caller says how to derive it (``derived``) or it is optional
(read as None). Errors name the full dotted key, the bad value and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any

from bot.config.defaults import DEFAULTS_FILE
from bot.config.errors import ConfigError

EMAIL = re.compile(r"^[^@\s<>\"]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_NOTHING = object()


class Table:
    """A view on one table that reports errors with the full dotted key and refuses unknown keys."""

    def __init__(self, data: Mapping[str, Any], defaults: Mapping[str, Any], prefix: str, base: Path) -> None:
        self._data = data
        self._defaults = defaults
        self._prefix = prefix
        self._base = base
        self._used: set[str] = set()

    def key(self, name: str) -> str:
        """``name`` as the administrator finds it in the file: ``inbox.imap.port``."""
        return f"{self._prefix}.{name}" if self._prefix else name

    def fail(self, name: str, value: Any, expected: str) -> ConfigError:
        return ConfigError(f"{self.key(name)}: got {value!r}; expected {expected}")

    def _raw(self, name: str, derived: Any = _NOTHING) -> Any:
        self._used.add(name)
        if name in self._data:
            return self._data[name]
        if name in self._defaults:
            return self._defaults[name]
        if derived is _NOTHING:
            raise ConfigError(f"{self.key(name)}: missing; this key is required")
        return derived

    def has(self, name: str) -> bool:
        """Whether the user's file has ``name``: the defaults of an optional table do not switch it on."""
        return name in self._data

    def table(self, name: str, required: bool = True) -> Table:
        self._used.add(name)
        value = self._data.get(name)
        if value is None:
            if required:
                raise ConfigError(f"{self.key(name)}: missing; expected a [{self.key(name)}] table")
            value = {}
        if not isinstance(value, Mapping):
            raise self.fail(name, value, "a table")
        defaults = self._defaults.get(name, {})
        return Table(value, defaults if isinstance(defaults, Mapping) else {}, self.key(name), self._base)

    def tables(self, name: str) -> list[Table]:
        """An array of tables (``[[people.ds_contacts]]``); absent is an empty list."""
        self._used.add(name)
        value = self._data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(name, value, f"a list of tables ([[{self.key(name)}]])")
        return [Table(v, {}, f"{self.key(name)}[{i}]", self._base) for i, v in enumerate(value)]

    def string(self, name: str, derived: Any = _NOTHING) -> str:
        value = self._raw(name, derived)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, value, "a non-empty string")
        return value.strip()

    def optional_string(self, name: str) -> str | None:
        value = self._raw(name, None)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(name, value, "a string")
        return value.strip() or None

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self._raw(name)
        if value not in choices:
            raise self.fail(name, value, "one of " + ", ".join(repr(c) for c in choices))
        return str(value)

    def email(self, name: str, derived: Any = _NOTHING) -> str:
        value = self._raw(name, derived)
        if not isinstance(value, str) or not EMAIL.match(value.strip()):
            raise self.fail(name, value, "an email address such as 'name@police.example'")
        return value.strip().lower()

    def integer(self, name: str, minimum: int = 0, maximum: int | None = None, derived: Any = _NOTHING) -> int:
        value = self._raw(name, derived)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < minimum
            or (maximum is not None and value > maximum)
        ):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"{minimum} or more"
            raise self.fail(name, value, f"a whole number {bound}")
        return value

    def number(self, name: str, minimum: float = 0.0) -> float:
        value = self._raw(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise self.fail(name, value, f"a number, {minimum:g} or more")
        return float(value)

    def boolean(self, name: str) -> bool:
        value = self._raw(name)
        if not isinstance(value, bool):
            raise self.fail(name, value, "true or false")
        return value

    def clock_time(self, name: str) -> time:
        value = self._raw(name)
        match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
        if not match:
            raise self.fail(name, value, 'a 24-hour time as "HH:MM", e.g. "16:00"')
        return time(int(match[1]), int(match[2]))

    def _under_base(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self._base / path

    def path(self, name: str) -> Path:
        return self._under_base(self.string(name))

    def optional_path(self, name: str) -> Path | None:
        value = self.optional_string(name)
        return None if value is None else self._under_base(value)

    def string_list(self, name: str) -> list[str]:
        value = self._raw(name)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(name, value, "a list of strings")
        return [v.strip() for v in value]

    def domains(self, name: str) -> tuple[str, ...]:
        values = self.string_list(name)
        for value in values:
            if not DOMAIN.match(value):
                raise self.fail(name, value, 'a list of mail domains such as "council.example"')
        if not values:
            raise self.fail(name, values, "at least one domain")
        return tuple(v.lower() for v in values)

    def check_unknown(self) -> None:
        """Refuse a key nothing read: a misspelt key would otherwise silently keep its default."""
        unknown = sorted(set(self._data) - self._used)
        if unknown:
            raise ConfigError(
                f"{self.key(unknown[0])}: unknown key; check its spelling against bot/config/{DEFAULTS_FILE}, "
                "which lists every key"
            )
