"""The database's schema as Alembic revisions (``versions/``), run from the code: no alembic.ini.

``upgrade`` brings a database to the newest revision this code knows (``strategy-bot migrate``);
``check`` is what every command does at start: a new, empty database is created, one at the
newest revision is used, one older is refused with the command to run, one newer than the code
(made by a later strategy-bot) is refused outright.

Databases made before Alembic kept a ``schema_version`` table (versions 1-5, the old hand-written
steps); ``upgrade`` recognises one, stamps it at the matching revision and upgrades from there.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, select, text

from bot.adapters import sql_schema as t
from bot.config import ConfigError

log = logging.getLogger(__name__)

SCRIPTS = Path(__file__).resolve().parent
# The old schema_version number -> the revision that does the same step.
LEGACY = {1: "0001", 2: "0002", 3: "0003", 4: "0004", 5: "0005"}
# Any fixed number: two instances starting together on a new PostgreSQL database take turns.
_LOCK = 0x5B07_0015
# Alembic keeps the running migration in module globals (alembic.context, alembic.op): two
# threads of one process migrating at once (the daemon's and its board's stores) would mix them.
_IN_PROCESS = threading.Lock()


@dataclass(frozen=True)
class Revision:
    current: str | None  # None: a new, empty database
    head: str
    legacy: bool = False  # made before Alembic (schema_version), not stamped yet

    @property
    def new(self) -> bool:
        return self.current is None


def _config(conn: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = conn
    return cfg


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    found = _scripts().get_current_head()
    assert found is not None, "no revisions in bot/adapters/sql_migrations/versions"
    return found


def known(revision: str) -> bool:
    return any(script.revision == revision for script in _scripts().walk_revisions())


def revision(conn: Connection) -> Revision:
    """Where this database stands."""
    names = set(inspect(conn).get_table_names())
    current = MigrationContext.configure(conn).get_current_revision() if "alembic_version" in names else None
    if current is not None:
        return Revision(current, head())
    if "schema_version" in names:
        number = conn.execute(select(t.schema_version.c.version).order_by(t.schema_version.c.version.desc())).scalar()
        if number in LEGACY:
            return Revision(LEGACY[number], head(), legacy=True)
        if number is not None:
            raise ConfigError(
                f"database: schema version {number} (before Alembic) is newer than this strategy-bot knows; "
                "install the strategy-bot that made it"
            )
    if names - {"schema_version", "alembic_version"}:
        raise ConfigError(
            "database: it has tables but no strategy-bot schema version; "
            "point [store] at the bot's own database or at an empty one"
        )
    return Revision(None, head())


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        # Held to the end of the transaction: a second instance waits, then finds it done.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})


def upgrade(conn: Connection) -> str:
    """Bring the database (in the open transaction ``conn``) to the newest revision; that revision."""
    with _IN_PROCESS:
        return _upgrade(conn)


def _upgrade(conn: Connection) -> str:
    _lock(conn)
    where = revision(conn)
    if where.current is not None and not known(where.current):
        raise _newer(where)
    cfg = _config(conn)
    if where.legacy:
        log.info("database made before Alembic: stamped at revision %s", where.current)
        command.stamp(cfg, str(where.current))
    if where.current != where.head:
        command.upgrade(cfg, "head")
        log.info("database schema upgraded from %s to %s", where.current or "nothing", where.head)
    return where.head


def check(conn: Connection) -> str:
    """At start: create a new database, use a current one, refuse an older or a newer one."""
    where = revision(conn)
    if where.new:
        return upgrade(conn)
    if where.current == where.head and not where.legacy:
        return where.head
    if where.current is not None and not known(where.current):
        raise _newer(where)
    raise ConfigError(
        f"database: schema at revision {where.current}, older than this strategy-bot's {where.head}; "
        "back it up, then run: strategy-bot migrate"
    )


def _newer(where: Revision) -> ConfigError:
    return ConfigError(
        f"database: schema at revision {where.current}, newer than this strategy-bot knows (its newest is "
        f"{where.head}); upgrade strategy-bot to the version that made it"
    )
