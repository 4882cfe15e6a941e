"""The local calendar refuses overlapping events in the database itself, whoever writes.

Events get ``may_overlap`` (an urgent meeting may sit on top of a rota slot, domain.md §4). On
PostgreSQL an exclusion constraint refuses a second event whose time range meets a live one's,
so two instances racing for the last slot cannot both have it: the loser's insert waits for the
winner's commit, then fails, and the calendar adapter turns that into "slot taken". The table is
one calendar (the bot's), so the constraint is on the time range alone, and a range type's own
GiST operator class serves it: no extension (``btree_gist``) to allow-list on a managed server.
Cancelled events are deleted, so every row is live. On SQLite the adapter's look-before-write
guard stays, as one writer holds the database at a time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"


def upgrade() -> None:
    bind = op.get_bind()
    if "may_overlap" not in {column["name"] for column in sa.inspect(bind).get_columns("calendar_events")}:
        op.add_column("calendar_events", sa.Column("may_overlap", sa.Integer, nullable=False, server_default="0"))
    if bind.dialect.name != "postgresql":
        return
    # Instants are ISO-8601 text with their offset; read that way the cast depends on no setting,
    # which is what IMMUTABLE promises (an index expression must be).
    op.execute(
        "CREATE FUNCTION strategy_instant(text) RETURNS timestamptz LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
        "AS $$ SELECT $1::timestamptz $$"
    )
    op.execute(
        "ALTER TABLE calendar_events ADD CONSTRAINT calendar_events_no_overlap EXCLUDE USING gist "
        '(tstzrange(strategy_instant(start), strategy_instant("end")) WITH &&) WHERE (may_overlap = 0)'
    )
