"""The emergency action a request names (domain.md §2) survives the store, sealed or not, and old rows read."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.adapters import sql_schema as t
from bot.adapters.sql_store import SqlStore
from bot.domain.model import CaseState, EmergencyAction, Kind, RequestDetails, Requester
from bot.sealing import Sealer, new_key

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
DETAILS = RequestDetails(
    n_numbers=("N146782",),
    surname="Bond",
    requester=Requester("Alex Morgan", "Team Manager", "01632 960123", "alex.morgan@council.example"),
    emergency_action=EmergencyAction("police protection", date(2026, 11, 25), time(15, 30)),
)


@pytest.mark.parametrize("sealed", [False, True])
def test_the_emergency_action_is_stored_and_read_back(tmp_path: Path, sealed: bool) -> None:
    sealer = Sealer([new_key()]) if sealed else None
    store = SqlStore(f"sqlite:///{tmp_path / 's.sqlite3'}", sealer=sealer)
    store.migrate(NOW)
    with store.transaction() as tx:
        case = tx.add_case(Kind.STANDARD, CaseState.BOOKED, DETAILS, "<r@council.example>", NOW, NOW)
        tx.update_case(case.case_id, NOW, details=DETAILS)
    with store.transaction() as tx:
        found = tx.case(case.case_id)
    assert found is not None and found.details == DETAILS
    store.dispose()


def test_details_stored_before_the_field_existed_read_as_no_emergency_action(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 's.sqlite3'}")
    store.migrate(NOW)
    with store.transaction() as tx:
        case = tx.add_case(Kind.STANDARD, CaseState.BOOKED, DETAILS, "<r@council.example>", NOW, NOW)
        row = tx.conn.execute(t.cases.select().where(t.cases.c.case_id == case.case_id)).one()
        old = json.loads(row.details)
        del old["emergency_action"]
        tx.conn.execute(update(t.cases).where(t.cases.c.case_id == case.case_id).values(details=json.dumps(old)))
    with store.transaction() as tx:
        found = tx.case(case.case_id)
    assert found is not None and found.details.emergency_action is None
    store.dispose()
