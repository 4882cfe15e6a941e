"""The audit history can be added to, never changed or deleted, whatever code runs. Was migration 3.

A trigger on both engines refuses UPDATE and DELETE (and, on PostgreSQL, TRUNCATE); INSERT is
allowed, which is how ``strategy-bot migrate --from-sqlite`` copies the history.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"

MESSAGE = "the history is append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation'; END $$"
        )
        op.execute(
            "CREATE TRIGGER history_no_change BEFORE UPDATE OR DELETE ON history "
            "FOR EACH ROW EXECUTE FUNCTION history_append_only()"
        )
        op.execute(
            "CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history "
            "FOR EACH STATEMENT EXECUTE FUNCTION history_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER history_no_{verb.lower()} BEFORE {verb} ON history "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
