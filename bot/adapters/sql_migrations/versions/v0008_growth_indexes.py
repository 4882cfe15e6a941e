"""Indexes for every per-request query, and each case's N numbers in their own table (issue 18).

The local calendar's look-ups read ``ix_calendar_events_end`` (events ending after the day
asked for), the reply caps and the send rate read the outbox's recent rows only, and the
cases of a child are found through ``case_numbers`` instead of a LIKE over every case. A
database whose first revision built the tables as defined now has the indexes already
(``checkfirst``); ``case_numbers`` is filled from the cases already there.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import select

from bot.adapters import sql_schema as t

revision = "0008"
down_revision = "0007"

INDEXES = (
    (t.calendar_events, "ix_calendar_events_end"),
    (t.outbox, "ix_outbox_created"),
    (t.outbox, "ix_outbox_recipient"),
    (t.outbox, "ix_outbox_sent_at"),
)


def upgrade() -> None:
    conn = op.get_bind()
    for table, name in INDEXES:
        next(index for index in table.indexes if index.name == name).create(conn, checkfirst=True)
    t.metadata.create_all(conn, tables=[t.case_numbers])
    rows = conn.execute(select(t.cases.c.case_id, t.cases.c.n_numbers)).all()
    numbers = [
        {"n_number": n, "case_id": row.case_id} for row in rows for n in dict.fromkeys(row.n_numbers.split(",")) if n
    ]
    if numbers:
        conn.execute(t.case_numbers.insert(), numbers)
