"""The recent emails of a few purposes through an index (issue 18).

The reply caps count the short replies (triage, help, missing information, command refused) sent
in the last hour to a sender and in the last minute overall; the quarantine notice counts its
own in the last hour. ``purpose IN (...) AND created_at >= :since`` without a recipient read
through ``ix_outbox_purpose``, i.e. every email of those purposes ever sent, for each message
handled that may be answered. ``ix_outbox_recent`` (purpose, created_at) reads only the recent
ones. A database whose first revision built the tables as defined now has the index already
(``checkfirst``).
"""

from __future__ import annotations

from alembic import op

from bot.adapters import sql_schema as t

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    index = next(index for index in t.outbox.indexes if index.name == "ix_outbox_recent")
    index.create(op.get_bind(), checkfirst=True)
