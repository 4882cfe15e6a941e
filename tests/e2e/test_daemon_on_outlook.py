"""`kind = "graph"` or `"ews"` for inbox, calendar and sender runs the daemon unchanged: a request is booked."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from bot.cli import main
from bot.config import Config, load_config
from bot.daemon import Daemon
from bot.wiring import build
from tests.support.deploy import init
from tests.support.fake_ews import FakeEws
from tests.support.fake_graph import AUTHORITY, CLIENT_ID, ENDPOINT, SECRET, TENANT, FakeGraph
from tests.support.port_contracts import contract_event
from tests.support.requests_mail import StepClock, london, request_email

REPO = Path(__file__).resolve().parents[2]
MAILBOX = "referrals@police.example"
CALENDAR_MAILBOX = "strategy.calendar@police.example"
T0 = london("2026-11-23 09:00")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraph]:
    monkeypatch.setenv("TEST_GRAPH_SECRET", SECRET)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rs:
        graph = FakeGraph(rs)
        graph.mailbox(MAILBOX)
        graph.add_calendar(CALENDAR_MAILBOX, "Strategy Meeting")
        yield graph


def config_file(folder: Path, kind: str, section: str) -> Path:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    text = text.replace('kind = "maildir"\npath = "strategy-bot-data/inbox"', f'kind = "{kind}"')
    text = text.replace('kind = "maildir"\npath = "strategy-bot-data/sent"', f'kind = "{kind}"')
    text = text.replace('kind = "local"\n', f'kind = "{kind}"\n', 1)
    path = folder / "bot.toml"
    path.write_text(text + section, encoding="utf-8")
    return init(path)  # the folders and database `run` and `check-config` require


AGENDA_STARTS = (
    "1. Introductions and apologies",
    "2. Reason for strategy discussion",
    "3. Summary of information from each agency",
    "4. Assessment of the information",
    "5. Consider how the child's wishes and feelings are to be ascertained",
    "6. Consider the needs of other children",
    "7. Actions to safeguard",
    "8. Rationale for the decision",
)


def assert_event_body(body: str, config: Config) -> None:
    """The event's body as domain.md §3.5 has it: who asked, the dial-in, passcode, meeting name, the agenda."""
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    assert lines[0] == "Bond children / Team Manager: Alex Morgan (01632 960123)"
    assert f"Conference call: {config.conference.dial_in}" in lines
    assert f"Passcode: {config.conference.passcode}" in lines
    assert "Join the meeting named: N146782" in lines
    agenda = lines[lines.index("Agenda") + 1 :]
    assert len(agenda) == len(AGENDA_STARTS)
    for line, start in zip(agenda, AGENDA_STARTS, strict=True):
        assert line.startswith(start)


def assert_reply_headers(raw: bytes) -> None:
    """The confirmation threads under the request and asks Exchange and other robots not to answer it."""
    sent = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(sent["Message-ID"]) == "<SD000001.confirmation.1@police.example>"
    assert str(sent["In-Reply-To"]) == "<r1@council.example>"
    assert "<r1@council.example>" in str(sent["References"]).split()
    assert str(sent["Auto-Submitted"]) == "auto-replied"
    assert str(sent["X-Auto-Response-Suppress"]) == "All"


GRAPH = f"""
[graph]
tenant_id = "{TENANT}"
client_id = "{CLIENT_ID}"
client_secret_env = "TEST_GRAPH_SECRET"
mailbox = "{MAILBOX}"
calendar_mailbox = "{CALENDAR_MAILBOX}"
authority = "{AUTHORITY}"
endpoint = "{ENDPOINT}"
"""

EWS = f"""
[ews]
endpoint = "https://mail.police.example/EWS/Exchange.asmx"
username = "POLICE\\\\svc-strategy-bot"
password_env = "TEST_EWS_PASSWORD"
mailbox = "{MAILBOX}"
calendar_mailbox = "{CALENDAR_MAILBOX}"
"""


def test_a_request_in_the_shared_mailbox_is_booked_in_outlook_and_confirmed(fake: FakeGraph, tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path, "graph", GRAPH))
    assert (config.inbox.kind, config.calendar.kind, config.sender.kind) == ("graph", "graph", "graph")
    fake.deliver(MAILBOX, request_email(T0, subject="Strategy discussion N146782", message_id="<r1@council.example>"))
    bot = build(config)
    try:
        Daemon(bot, StepClock(T0)).round()
    finally:
        bot.close()

    [event] = fake.mailbox(CALENDAR_MAILBOX).events.values()
    assert event.data["subject"] == "Strategy discussion N146782"
    assert event.data["sensitivity"] == "private"
    assert event.start == london("2026-11-25 10:00")  # the next meeting day's first slot
    assert event.data["body"]["contentType"] == "text"
    assert_event_body(event.data["body"]["content"], config)
    assert fake.in_folder(MAILBOX, "Processed") == ["<r1@council.example>"]
    assert fake.in_folder(MAILBOX, "Inbox") == []
    [(recipients, mime)] = fake.mailbox(MAILBOX).sent
    sent = email.message_from_bytes(mime, policy=email.policy.default)
    assert str(sent["Message-ID"]) == "<SD000001.confirmation.1@police.example>"
    assert "alex.morgan@council.example" in recipients
    assert_reply_headers(mime)
    # Exchange invites the attendees itself: the confirmation carries no second invitation.
    assert not [part for part in sent.walk() if part.get_content_type() == "text/calendar"]


@pytest.fixture
def fake_ews(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEws]:
    monkeypatch.setenv("TEST_EWS_PASSWORD", "correct horse")
    server = FakeEws()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        server.install(mock)
        yield server


def test_a_request_in_the_exchange_mailbox_is_booked_and_confirmed(fake_ews: FakeEws, tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path, "ews", EWS))
    assert (config.inbox.kind, config.calendar.kind, config.sender.kind) == ("ews", "ews", "ews")
    fake_ews.deliver(request_email(T0, subject="Strategy discussion N146782", message_id="<r1@council.example>"))
    bot = build(config)
    try:
        Daemon(bot, StepClock(T0)).round()
    finally:
        bot.close()

    [item] = fake_ews.calendar_items()
    assert item.subject == "Strategy discussion N146782" and item.sensitivity == "Private"
    assert item.start == london("2026-11-25 10:00")
    assert "alex.morgan@council.example" in item.attendees
    [create] = [c for c in fake_ews.calls_of("CreateItem") if c.find("m:Items/t:CalendarItem") is not None]
    body = create.find("m:Items/t:CalendarItem/t:Body")
    assert body is not None and body.get("BodyType") == "Text"
    assert_event_body(body.text or "", config)
    assert_event_body(item.body, config)
    assert [m.message_id for m in fake_ews.messages_in(MAILBOX, "Processed")] == ["<r1@council.example>"]
    assert fake_ews.messages_in(MAILBOX, "Inbox") == []
    [confirmation] = [m for m in fake_ews.sent if b"SD000001.confirmation.1@police.example" in m.mime]
    assert "alex.morgan@council.example" in confirmation.recipients
    assert_reply_headers(confirmation.mime)
    sent = email.message_from_bytes(confirmation.mime, policy=email.policy.default)
    assert not [part for part in sent.walk() if part.get_content_type() == "text/calendar"]


def test_check_config_signs_in_to_graph_and_names_what_is_wrong(
    fake: FakeGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, "graph", GRAPH)
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  inbox:    ok" in out and "  sender:   ok" in out and "  calendar: ok" in out

    monkeypatch.setenv("TEST_GRAPH_SECRET", "not the secret")
    assert main(["check-config", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.count("PROBLEM") == 3 and "AADSTS7000215" in out  # Entra ID's "invalid client secret"


def test_check_config_logs_in_to_exchange_and_names_what_is_wrong(
    fake_ews: FakeEws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, "ews", EWS)
    assert main(["check-config", str(path)]) == 0
    assert "  calendar: ok" in capsys.readouterr().out

    fake_ews.refuse_login()
    assert main(["check-config", str(path)]) == 1
    out = capsys.readouterr().out
    assert "  inbox:    PROBLEM:" in out and "refused" in out


@pytest.mark.parametrize("kind", ["graph", "ews"])
def test_a_booking_made_just_before_a_crash_is_kept_not_booked_around(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The calendar took the event, then the bot died before its commit: the retry keeps to that event."""
    config = load_config(config_file(tmp_path, kind, GRAPH if kind == "graph" else EWS))
    mail = request_email(T0, subject="Strategy discussion N146782", message_id="<r1@council.example>")
    server = request.getfixturevalue("fake" if kind == "graph" else "fake_ews")
    if kind == "graph":
        server.deliver(MAILBOX, mail)
    else:
        server.deliver(mail)
    bot = build(config)
    try:
        assert bot.calendar is not None
        bot.calendar.book(contract_event("SD000001@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
        Daemon(bot, StepClock(T0)).round()
        events = bot.calendar.events(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
        with bot.store.transaction() as tx:
            booking = tx.booking_for("SD000001")
    finally:
        bot.close()

    assert [(e.uid, e.start) for e in events] == [("SD000001@police.example", london("2026-11-25 10:00"))]
    assert booking is not None and booking.start == london("2026-11-25 10:00")
    if kind == "graph":
        [(_, mime)] = server.mailbox(MAILBOX).sent
    else:
        [mime] = [m.mime for m in server.sent if b"SD000001.confirmation.1@police.example" in m.mime]
    sent = email.message_from_bytes(mime, policy=email.policy.default)
    text = sent.get_body(("plain",)).get_content()
    assert "Wednesday 25 November 2026" in text and "10:00" in text and "10:15 to" not in text
