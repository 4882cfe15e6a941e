"""The compliance record (domain.md §5): one row per case, N numbers only. Was migration 5."""

from __future__ import annotations

from alembic import op

from bot.adapters import sql_schema as t

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    t.metadata.create_all(op.get_bind(), tables=[t.compliance])
