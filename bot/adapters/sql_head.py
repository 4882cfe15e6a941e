"""The newest schema revision this code knows, without importing Alembic.

Every command checks the schema at start (``SqlStore.check_schema``). A database already at the
newest revision, the usual case, is recognised by one SELECT of ``alembic_version`` against
``HEAD``; only a new, older, newer or pre-Alembic database goes on to ``sql_migrations``
(Alembic's own reading of ``versions/``). tests/adapters/test_sql_head.py holds ``HEAD`` equal
to Alembic's head, so adding a revision without moving it here fails the tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # HEAD alone is read without SQLAlchemy (`status` on SQLite: bot.adapters.sqlite_reader)
    from sqlalchemy import Connection

HEAD = "0012"  # the newest revision in sql_migrations/versions/ (a test keeps the two equal)


def at_head(conn: Connection) -> bool:
    """Whether this database is stamped at ``HEAD`` and nothing else."""
    from sqlalchemy import inspect, text

    if not inspect(conn).has_table("alembic_version"):
        return False
    stamped = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return list(stamped) == [HEAD]
