"""The schema check at start knows a current database without Alembic (``bot.adapters.sql_head``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.adapters import sql_migrations as migrations
from bot.adapters.sql_head import HEAD
from bot.adapters.sql_store import SqlStore
from bot.config import ConfigError


def test_the_head_constant_is_alembics_own_head_of_the_versions_folder() -> None:
    # A revision added to versions/ without moving HEAD would let an older database through.
    assert migrations.head() == HEAD


def test_a_current_database_passes_and_an_older_or_newer_one_is_still_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    store = SqlStore(url)
    try:
        assert store.check_schema() == HEAD  # a new database is created at the head
        assert store.check_schema() == HEAD  # and then known as current
    finally:
        store.dispose()
    for revision, said in (("0001", "older than"), ("9999", "newer than")):
        with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
            db.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        store = SqlStore(url)
        try:
            with pytest.raises(ConfigError, match=f"schema at revision {revision}, {said} this strategy-bot"):
                store.check_schema()
        finally:
            store.dispose()
