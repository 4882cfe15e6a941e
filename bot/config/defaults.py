"""The packaged files: the defaults of every key and the fictional example that is the embedded default."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

DEFAULTS_FILE = "defaults.toml"
EXAMPLE_FILE = "example.toml"


def packaged_text(name: str) -> str:
    """The text of one of this package's TOML files."""
    return resources.files("bot.config").joinpath(name).read_text(encoding="utf-8")


@cache
def defaults() -> dict[str, Any]:
    """The parsed defaults file, read once on first use (not at import); callers only read it."""
    return tomllib.loads(packaged_text(DEFAULTS_FILE))


def default_of(table: str, key: str) -> Any:
    """The default of ``table.key`` (a dotted table name, e.g. "inbox.imap") as the defaults file spells it."""
    found: Any = defaults()
    for part in table.split("."):
        found = found[part]
    return found[key]
