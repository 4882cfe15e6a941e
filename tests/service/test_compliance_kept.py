"""Issue 18: the compliance record a unit of work writes is the one its case's store rows make.

The unit makes each record from what it wrote and read of the case in that unit (not read back
from the store): after a replay of many kinds of change (bookings moved, made complex, cancelled,
a mobile family, a further discussion, children already known, urgent meetings, minutes, outcomes,
timers fired, cases closed) every case's stored record is checked against the record made from
the store's own rows of the case at the instant the record was written. (About 5 s on a busy
machine: five days of timers fire, each a unit of work, and every record is checked after each.)
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.config import load_config
from bot.domain.compliance import ComplianceRecord, compliance_record
from bot.replay import Replay, load
from tests.support.replays import write_received
from tests.support.requests_mail import london, reply_email, request_email

TM = "Alex Morgan <alex.morgan@council.example>"
DS = "DS Sam Carver <sam.carver@police.example>"


def standard(at: datetime, n: str, tag: str, **fields: object) -> tuple[datetime, bytes]:
    mail = request_email(
        at, subject=f"Strategy discussion {n}", n_number=n, message_id=f"<s.{tag}@council.example>", **fields
    )  # type: ignore[arg-type]
    return at, mail


def urgent(at: datetime, n: str, tag: str) -> tuple[datetime, bytes]:
    return at, request_email(at, subject=f"URGENT S47 ENQUIRY {n}", n_number=n, message_id=f"<u.{tag}@council.example>")


def reply(at: datetime, case: str, purpose: str, line: str, sender: str = TM) -> tuple[datetime, bytes]:
    return at, reply_email(at, f"{case}.{purpose}.1", line, sender, f"Strategy discussion {case}")


def scenario() -> list[tuple[datetime, bytes]]:
    return [
        standard(london("2026-11-23 09:00"), "N111111", "1"),  # SD000001
        standard(london("2026-11-23 09:10"), "N222222", "2"),  # SD000002
        standard(london("2026-11-23 09:20"), "N111111", "3"),  # SD000003: N111111 already known
        urgent(london("2026-11-23 09:30"), "N222222", "4"),  # SD000004: a booked child, urgent
        standard(london("2026-11-23 09:40"), "N555555", "5", phone=None, reason=None),  # SD000005: details missing
        urgent(london("2026-11-23 09:50"), "N666666", "6"),  # SD000006
        reply(london("2026-11-23 10:20"), "SD000006", "duty_referral", "CONTACTED 14:00", DS),
        reply(london("2026-11-23 10:30"), "SD000001", "confirmation", "COMPLEX"),
        reply(london("2026-11-23 10:40"), "SD000003", "confirmation", "RESCHEDULE"),
        reply(london("2026-11-23 10:50"), "SD000002", "confirmation", "CANCEL"),
        reply(london("2026-11-23 14:40"), "SD000006", "duty_referral", "HELD", DS),
        reply(london("2026-11-24 11:00"), "SD000003", "confirmation", "MOVED mash@receiving.othercounty.example"),
        reply(london("2026-11-25 11:00"), "SD000001", "confirmation", "MINUTES SHARED"),
        reply(london("2026-11-25 11:10"), "SD000001", "confirmation", "OUTCOME joint S47"),
        reply(london("2026-11-26 12:00"), "SD000001", "confirmation", "S47 RECORDED"),
        reply(london("2026-11-26 12:10"), "SD000001", "confirmation", "FURTHER"),
        reply(london("2026-11-27 09:00"), "SD000006", "duty_referral", "OUTCOME single S47"),
        reply(london("2026-11-27 09:10"), "SD000001", "confirmation", "ICPC HELD"),
    ]


def records_and_made(engine: Replay) -> tuple[list[ComplianceRecord], list[ComplianceRecord], dict[str, list[str]]]:
    """Every stored record, and each made from its case's rows at the record's instant; the cases' actions."""
    policy = engine.bot.service.setup.policy
    with engine.bot.store.transaction() as tx:
        records = tx.compliance_records()
        actions = {r.case_id: [h.action for h in tx.history(r.case_id)] for r in records}
        made = []
        for record in records:
            case = tx.case(record.case_id)
            assert case is not None
            booking, timers = tx.booking_for(case.case_id), tx.timers_for(case.case_id)
            history = tx.history(case.case_id)
            made.append(compliance_record(case, booking, history, timers, policy, record.updated_at))
    return records, made, actions


def test_every_stored_record_is_the_one_the_cases_rows_make(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    paths = [write_received(folder / f"{n:03d}.eml", raw, at) for n, (at, raw) in enumerate(scenario())]
    engine = Replay(load_config(None, base=tmp_path))
    try:
        steps = 0
        # After each message and each timer fired: a later unit rewriting a record must not hide a wrong one.
        for _ in engine.run(load(paths), london("2026-11-27 16:00")):
            records, made, actions = records_and_made(engine)
            assert records == made
            steps += 1
    finally:
        engine.close()
    # The replay went where it was meant to: each kind of change happened.
    assert steps > len(scenario()) and len(records) >= 7
    done = {action for lines in actions.values() for action in lines}
    for action in ("booked", "moved", "cancelled", "contacted", "held", "minutes_recorded", "outcome", "closed"):
        assert action in done, (action, actions)
    for action in ("s47_recorded", "icpc_held", "linked"):
        assert action in actions["SD000001"], actions["SD000001"]
