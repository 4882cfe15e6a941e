"""The schema check at start knows a current database without Alembic (``bot.adapters.sql_head``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bot.adapters import sql_migrations as migrations
from bot.adapters.sql_head import HEAD, at_head
from bot.adapters.sql_store import SqlStore
from bot.config import ConfigError
from tests.support.stores import ENGINES, url_for


def test_the_head_constant_is_alembics_own_head_of_the_versions_folder() -> None:
    # A revision added to versions/ without moving HEAD would let an older database through.
    assert migrations.head() == HEAD


@pytest.mark.parametrize("engine", ENGINES)
def test_a_current_database_is_known_by_its_stamp_and_an_older_or_newer_one_is_still_refused(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    store = SqlStore(url_for(engine, request, tmp_path))
    try:
        with store.engine.begin() as conn:
            assert not at_head(conn)  # a new database: no stamp yet
        assert store.check_schema() == HEAD  # created at the head
        with store.engine.begin() as conn:
            assert at_head(conn)  # from now on one SELECT says so
        assert store.check_schema() == HEAD
        for revision, said in (("0001", "older than"), ("9999", "newer than")):
            with store.engine.begin() as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
                assert not at_head(conn)
            with pytest.raises(ConfigError, match=f"schema at revision {revision}, {said} this strategy-bot"):
                store.check_schema()
    finally:
        store.dispose()
