"""Indexes for `status` and `metrics` on a store holding years of work (issue 18).

`status` reads the open cases through ``ix_cases_state`` (``state IN`` the open states) and the
bookings not yet over through ``ix_bookings_live`` and the quarantined messages through
``ix_messages_outcome``, instead of every case and booking ever made;
`metrics` counts the cases by kind and state and the emails by purpose and status from
``ix_cases_state`` and ``ix_outbox_purpose`` alone. A database whose first revision built the
tables as defined now has the indexes already (``checkfirst``).
"""

from __future__ import annotations

from alembic import op

from bot.adapters import sql_schema as t

revision = "0009"
down_revision = "0008"

INDEXES = (
    (t.messages, "ix_messages_outcome"),
    (t.cases, "ix_cases_state"),
    (t.bookings, "ix_bookings_live"),
    (t.outbox, "ix_outbox_purpose"),
)


def upgrade() -> None:
    conn = op.get_bind()
    for table, name in INDEXES:
        next(index for index in table.indexes if index.name == name).create(conn, checkfirst=True)
