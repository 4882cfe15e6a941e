"""The SQL store on each engine the bot supports: SQLite in the test's folder, or a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.sql_store import SqlStore

# Parametrize a fixture or test with these: the PostgreSQL case starts a real server (marked `servers`).
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.servers)]


def url_for(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if engine == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """A store on ``request.param``'s engine, its database new and created as at the first start; disposed after."""
    made = SqlStore(url_for(str(request.param), request, tmp_path))
    made.check_schema()
    yield made
    made.dispose()
