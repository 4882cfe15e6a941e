"""Timers get a scope (what they belong to within their case); existing ones belong to the whole case.

Was migration 4. A database whose first revision already built ``timers`` with the column is left as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    if "scope" not in {column["name"] for column in sa.inspect(op.get_bind()).get_columns("timers")}:
        op.add_column("timers", sa.Column("scope", sa.String(200), nullable=False, server_default=""))
