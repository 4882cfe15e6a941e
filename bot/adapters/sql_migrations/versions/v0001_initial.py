"""The first tables: messages, cases, bookings, the local calendar, the outbox, the history, timers.

Built as the tables are defined now (``bot.adapters.sql_schema``); a later revision that adds a
column first looks whether this one already made it. Was migration 1 before Alembic.
"""

from __future__ import annotations

from alembic import op

from bot.adapters import sql_schema as t

revision = "0001"
down_revision = None


def upgrade() -> None:
    tables = [t.messages, t.cases, t.bookings, t.calendar_events, t.outbox, t.history, t.timers]
    t.metadata.create_all(op.get_bind(), tables=tables)
