"""The outbox's emails of one case and purpose through an index (issue 18).

Every email the bot queues for a case takes its Message-ID from the number of the case's earlier
emails of the same purpose. Through ``ix_outbox_purpose`` that count read every email of the
purpose ever sent, so each request cost more than the one before; ``ix_outbox_case`` reads the
case's own few. A database whose first revision built the tables as defined now has the index
already (``checkfirst``).
"""

from __future__ import annotations

from alembic import op

from bot.adapters import sql_schema as t

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    index = next(index for index in t.outbox.indexes if index.name == "ix_outbox_case")
    index.create(op.get_bind(), checkfirst=True)
