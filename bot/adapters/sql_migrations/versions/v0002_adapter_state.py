"""What a mail adapter remembers across restarts (IMAP's last UID, Graph's delta link). Was migration 2."""

from __future__ import annotations

from alembic import op

from bot.adapters import sql_schema as t

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    t.metadata.create_all(op.get_bind(), tables=[t.adapter_state])
