"""The N numbers of one case through an index (issue 18).

A correction of a case's details (the reply supplying a missing one, §2) and the retention purge
replace the case's rows in ``case_numbers``: ``DELETE ... WHERE case_id = ?``. The table's only
index starts with the N number, so that delete read every N number of every case ever received;
``ix_case_numbers_case`` reads the case's own one or two. A database whose first revision built
the tables as defined now has the index already (``checkfirst``).
"""

from __future__ import annotations

from alembic import op

from bot.adapters import sql_schema as t

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    index = next(index for index in t.case_numbers.indexes if index.name == "ix_case_numbers_case")
    index.create(op.get_bind(), checkfirst=True)
