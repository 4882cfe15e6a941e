"""Issue 13 items 6 and 7 on the simulated clock: quorum and attendance, and cases that close (domain.md §5)."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import load_config
from bot.daemon import Daemon
from bot.domain.model import RequestDetails
from bot.mail.rendering import MailRenderer
from bot.replay import Replay, load
from bot.status import render_status
from bot.wiring import Bot
from tests.service.test_mail_rendering import common, confirmation, words
from tests.support.replays import replay, sent, write_received
from tests.support.requests_mail import StepClock, london, reply_email, request_email

LONDON = ZoneInfo("Europe/London")
TM = "Alex Morgan <alex.morgan@council.example>"
MONDAY = london("2026-11-23 09:00")  # booked Wed 25 Nov 10:00–10:15


def request(at: datetime = MONDAY, **fields: Any) -> tuple[datetime, bytes]:
    return at, request_email(at, message_id="<req.1@council.example>", **fields)


def from_tm(at: datetime, first_line: str) -> tuple[datetime, bytes]:
    return at, reply_email(at, "SD000001.confirmation.1", first_line, TM, "Strategy discussion N146782")


def closed(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["at"], e["case"], e["reason"]) for e in events if e["event"] == "closed"]


# -- item 7: closing a case ----------------------------------------------------------------------


def test_a_cancelled_case_closes_at_the_next_check_and_leaves_status(tmp_path: Path) -> None:
    events = replay(tmp_path, [request(), from_tm(MONDAY + timedelta(hours=1), "CANCEL")], london("2026-11-27 12:00"))
    assert [e["event"] for e in events if e["event"] in ("booked", "cancelled")] == ["booked", "cancelled"]
    # The next check on the simulated clock is the daily agenda's, Wed 25 Nov 09:00.
    assert closed(events) == [(london("2026-11-25 09:00").isoformat(), "SD000001", "cancelled")]
    assert {"at", "event", "case", "reason"} == set(next(e for e in events if e["event"] == "closed"))


def test_a_held_case_with_minutes_and_outcome_closes_once_its_timers_are_done(tmp_path: Path) -> None:
    after = london("2026-11-25 12:00")  # the discussion was Wed 25 Nov 10:00
    messages = [
        request(),
        from_tm(after, "MINUTES SHARED"),
        from_tm(after + timedelta(minutes=5), "OUTCOME child in need"),
    ]
    events = replay(tmp_path, messages, london("2026-12-31 12:00"))
    [(at, case, reason)] = closed(events)
    assert (case, reason) == ("SD000001", "held, minutes and outcome recorded")
    last_timer = max(s.at for s in sent(events, LONDON) if s.case == "SD000001")
    assert datetime.fromisoformat(at) >= last_timer  # closed at the first check with nothing pending
    assert datetime.fromisoformat(at) < london("2026-12-10 09:00")  # not the 30-day fallback


def test_a_case_nobody_finishes_closes_after_close_after_days_with_no_timer_pending(tmp_path: Path) -> None:
    events = replay(tmp_path, [request()], london("2027-01-08 12:00"))
    emails = [s for s in sent(events, LONDON) if s.case == "SD000001"]
    last = max(s.at for s in emails)  # the minutes chase's last email: nothing pending after it
    assert last == london("2026-11-26 10:15") and emails[-1].purpose == "minutes_overdue"
    # 30 days later is Sat 26 Dec; replay checks after each timer, and the next is the weekly compliance
    # report of Mon 28 Dec 08:30 (a bank holiday: no daily agenda until Wed 30 Dec).
    assert closed(events) == [
        (london("2026-12-28 08:30").isoformat(), "SD000001", "nothing pending and no event for 30 days")
    ]


def test_a_closed_case_leaves_status_and_is_purged_after_the_retention_period(tmp_path: Path) -> None:
    config = load_config(None, base=tmp_path)
    paths = [write_received(tmp_path / f"{n:03d}.eml", raw, at) for n, (at, raw) in enumerate([request()])]
    paths.append(
        write_received(
            tmp_path / "001.eml", from_tm(MONDAY + timedelta(hours=1), "CANCEL")[1], MONDAY + timedelta(hours=1)
        )
    )
    engine = Replay(config, tmp_path / "state")
    try:
        events = [e for _, _, batch in engine.run(load(paths), london("2026-11-26 12:00")) for e in batch]
        assert closed(events) == [(london("2026-11-25 09:00").isoformat(), "SD000001", "cancelled")]
        bot = engine.bot
        assert "SD000001" not in render_status(bot, london("2026-11-26 12:00"))
        retention = config.privacy.retention_days
        assert bot.service.purge(london("2026-11-25 09:00") + timedelta(days=retention - 1))[0] == 0
        with bot.store.transaction() as tx:
            case = tx.case("SD000001")
            assert case is not None and case.details.requester.name == "Alex Morgan"  # not yet purged
        purged, _ = bot.service.purge(london("2026-11-25 09:00") + timedelta(days=retention, hours=1))
        assert purged == 1
        with bot.store.transaction() as tx:
            case = tx.case("SD000001")
            assert case is not None and case.state.value == "closed"
            assert case.details == RequestDetails(n_numbers=("N146782",))
            assert [h.action for h in tx.history("SD000001")][-1] == "purged"
    finally:
        engine.close()


# -- item 6: quorum and attendance ---------------------------------------------------------------

SW = "jo.bloggs@council.example"
HEALTH = "health.safeguarding@nhs.example"
SCHOOL = "dsl@school.council.example"
TM_ADDRESS = "alex.morgan@council.example"


def with_social_worker(at: datetime = MONDAY, line: str = f"Social worker: Jo Bloggs, {SW}") -> tuple[datetime, bytes]:
    raw = request_email(at, message_id="<req.1@council.example>")
    return at, raw.replace(b"Children's surname: Bond", f"Children's surname: Bond\n{line}".encode())


def ical_reply(at: datetime, attendee: str, partstat: str) -> tuple[datetime, bytes]:
    """An attendee's answer as a calendar client sends it: METHOD:REPLY to the organiser."""
    msg = EmailMessage()
    msg["From"] = attendee
    msg["To"] = "referrals@police.example"
    msg["Subject"] = f"{partstat.title()}: Strategy discussion N146782"
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = f"<answer.{partstat}.{at:%H%M%S}@nhs.example>"
    msg["Authentication-Results"] = "mx.police.example; dmarc=pass header.from=" + attendee.split("@")[1]
    msg.set_content("Answered.\n")
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n"
        "UID:SD000001@police.example\r\nDTSTAMP:20261123T100000Z\r\n"
        f"ATTENDEE;PARTSTAT={partstat}:mailto:{attendee}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    msg.add_alternative(ics, subtype="calendar", params={"method": "REPLY"})
    return at, bytes(msg)


def outlook_declined(at: datetime, sender: str) -> tuple[datetime, bytes]:
    """Outlook's "Declined:" mail with no calendar part, in the confirmation's thread."""
    domain = sender.split("@")[1]
    raw = request_email(
        at,
        subject="Declined: Strategy discussion booked: N146782 on Wed 25 Nov at 10:00",
        sender=sender,
        auth=f"mx.police.example; dmarc=pass header.from={domain}",
        message_id=f"<declined.{at:%H%M%S}@{domain}>",
        in_reply_to="<SD000001.confirmation.1@police.example>",
        body="Declined.\n",
    )
    return at, raw


def test_the_social_worker_is_invited_and_copied_into_the_confirmation(tmp_path: Path) -> None:
    for n, line in enumerate(
        (f"Social worker: Jo Bloggs, {SW}", f"Social worker: Jo Bloggs\nSocial worker email: {SW}")
    ):
        events = replay(tmp_path / str(n), [with_social_worker(line=line)], london("2026-11-23 12:00"))
        [confirmation] = [s for s in sent(events, LONDON) if s.purpose == "confirmation"]
        assert (confirmation.to, confirmation.cc) == ((TM_ADDRESS,), (SW, HEALTH, SCHOOL))
        assert confirmation.at == MONDAY


def test_a_health_decline_that_empties_the_role_tells_the_tm_pm(tmp_path: Path) -> None:
    answer = london("2026-11-23 11:00")
    events = replay(
        tmp_path, [with_social_worker(), ical_reply(answer, HEALTH, "DECLINED")], london("2026-11-23 12:00")
    )
    received = [e for e in events if e["event"] == "received"]
    assert [(e["kind"], e["case"]) for e in received] == [("standard", "SD000001"), ("auto", "SD000001")]
    [risk] = [s for s in sent(events, LONDON) if s.purpose == "quorum_at_risk"]
    assert (risk.at, risk.to, risk.cc) == (answer, (TM_ADDRESS,), ())
    assert risk.subject == "Strategy discussion N146782: quorum at risk on Wed 25 Nov at 10:00"
    # Never answered: the only email after the decline is the TM/PM's warning.
    assert [s.purpose for s in sent(events, LONDON) if s.at == answer] == ["quorum_at_risk"]


def test_outlook_declined_mail_in_the_thread_counts_and_accepts_and_others_are_silent(tmp_path: Path) -> None:
    messages = [
        with_social_worker(),
        ical_reply(london("2026-11-23 10:00"), SW, "ACCEPTED"),
        outlook_declined(london("2026-11-23 10:30"), SCHOOL),  # "others": quorum unchanged
        outlook_declined(london("2026-11-23 11:00"), SW),  # the only social worker
    ]
    events = replay(tmp_path, messages, london("2026-11-23 12:00"))
    assert [e["case"] for e in events if e["event"] == "received"] == ["SD000001"] * 4
    after = [s for s in sent(events, LONDON) if s.at > MONDAY]
    assert [(s.at, s.purpose, s.to, s.cc) for s in after] == [
        (london("2026-11-23 11:00"), "quorum_at_risk", (TM_ADDRESS,), ()),
    ]


def test_answers_are_recorded_in_the_case_history(tmp_path: Path) -> None:
    config = load_config(None, base=tmp_path)
    messages = [with_social_worker(), ical_reply(london("2026-11-23 10:00"), HEALTH, "ACCEPTED")]
    messages.append(ical_reply(london("2026-11-23 10:30"), HEALTH, "DECLINED"))
    paths = [write_received(tmp_path / f"{n:03d}.eml", raw, at) for n, (at, raw) in enumerate(messages)]
    engine = Replay(config, tmp_path / "state")
    try:
        list(engine.run(load(paths), london("2026-11-23 12:00")))
        with engine.bot.store.transaction() as tx:
            lines = [
                (h.action, h.detail) for h in tx.history("SD000001") if "invitation" in h.action or "quorum" in h.action
            ]
        assert lines == [
            ("invitation_accepted", HEALTH),
            ("invitation_declined", HEALTH),
            ("quorum_at_risk", "health"),
        ]
    finally:
        engine.close()


def test_the_confirmation_and_the_warning_read_as_a_tm_pm_would_read_them() -> None:
    renderer = MailRenderer()
    by_role = [
        ("social worker", (SW,)),
        ("manager", (TM_ADDRESS,)),
        ("police", ("the referral unit",)),
        ("others", (SCHOOL,)),
    ]
    note = "Not quorate as invited: a health representative is not invited."
    mail = renderer.render("confirmation", confirmation(by_role=by_role, quorum_note=note, health_rep=None))
    assert f"Social worker: {SW}" in mail.text and f"Manager:       {TM_ADDRESS} (you)" in mail.text
    assert "Police:        the referral unit" in mail.text and f"Others:        {SCHOOL}" in mail.text
    for body in (words(mail.text), words(mail.html)):
        assert note in body and "Invited, by role:" in body and "Invited with you" not in body
    start = london("2026-11-25 10:00")
    context = common(attendee=HEALTH, emptied=["a health representative"], missing=["a health representative"])
    warning = renderer.render("quorum_at_risk", {**context, "start": start})
    assert warning.subject == "Strategy discussion N146782: quorum at risk on Wed 25 Nov at 10:00"
    for body in (words(warning.text), words(warning.html)):
        assert f"{HEALTH} has declined the invitation to the strategy discussion for N146782" in body
        assert "a health representative will be missing" in body and "item 1 of the agenda" in body


def test_the_daemon_closes_a_cancelled_case_at_its_hourly_check(bot: Bot) -> None:
    assert bot.inbox is not None
    bot.inbox.deliver(request()[1])  # type: ignore[attr-defined]
    clock = StepClock(MONDAY)
    daemon = Daemon(bot, clock)
    daemon.round()  # the check runs before the inbox is read: the new case stays booked
    bot.inbox.deliver(from_tm(MONDAY, "CANCEL")[1])  # type: ignore[attr-defined]
    clock.at = MONDAY + timedelta(minutes=5)
    daemon.round()  # cancelled; the check ran at 09:00, so not again this hour
    with bot.store.transaction() as tx:
        assert [(c.case_id, c.state.value) for c in tx.open_cases()] == []
        case = tx.case("SD000001")
        assert case is not None and case.state.value == "cancelled"
    clock.at = MONDAY + timedelta(hours=1)
    daemon.round()
    with bot.store.transaction() as tx:
        case = tx.case("SD000001")
        assert case is not None and case.state.value == "closed"
        [closing] = [h for h in tx.history("SD000001") if h.action == "closed"]
        assert (closing.at, closing.detail) == (MONDAY + timedelta(hours=1), "cancelled")
