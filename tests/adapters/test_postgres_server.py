"""The test PostgreSQL itself: a real server, a fresh database per test, nothing shared between them."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.support.postgres import PostgresServer


def test_each_database_is_fresh_and_apart(postgres: PostgresServer, postgres_url: str) -> None:
    other_url = postgres.create_database()
    assert other_url != postgres_url
    first, other = create_engine(postgres_url), create_engine(other_url)
    try:
        with first.begin() as conn:
            assert conn.execute(text("select version()")).scalar_one().startswith("PostgreSQL")
            conn.execute(text("create table seen (n integer)"))
            conn.execute(text("insert into seen values (1)"))
        with other.begin() as conn:
            tables = conn.execute(text("select count(*) from pg_tables where tablename = 'seen'")).scalar_one()
        assert tables == 0
    finally:
        first.dispose()
        other.dispose()
