"""The Microsoft Graph adapters against an in-memory Graph (tests/support/fake_graph.py).

The port contracts run on all three; the rest asserts on what we send Graph: the event's
subject, London wall times across the clock changes, the transactionId, the MIME of the draft sent,
the Prefer header, and how throttling, refusals and an expired delta are met.
"""

from __future__ import annotations

import base64
import email
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from email.policy import default as default_policy
from email.utils import format_datetime
from pathlib import Path

import pytest
import responses

from bot.adapters.graph import GraphCalendar, GraphClient, GraphInbox, GraphSender
from bot.adapters.graph_calendar import UID_PROPERTY, transaction_id
from bot.adapters.sql_store import SqlStore
from bot.config import CalendarConfig, GraphConfig, InboxConfig
from bot.domain.model import CalendarEvent, Interval
from bot.errors import PermanentError, SlotTaken, TransientError
from bot.ports import Folder
from tests.support.fake_graph import AUTHORITY, CLIENT_ID, ENDPOINT, SECRET, TENANT, FakeFolder, FakeGraph
from tests.support.port_contracts import (
    CalendarContract,
    InboxContract,
    InboxUnderTest,
    SenderContract,
    SenderUnderTest,
    contract_event,
    contract_message,
    message_id,
)
from tests.support.requests_mail import SleepClock, london

SECRET_ENV = "TEST_STRATEGY_BOT_GRAPH_SECRET"
MAILBOX = "referrals@police.example"
CALENDAR_MAILBOX = "strategy.calendar@police.example"
CALENDAR = "Strategy Meeting"
MAX_BYTES = 4096


def graph_config(**changes: object) -> GraphConfig:
    cfg = GraphConfig(
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret_env=SECRET_ENV,
        certificate_path=None,
        certificate_thumbprint=None,
        mailbox=MAILBOX,
        calendar_mailbox=CALENDAR_MAILBOX,
        authority=AUTHORITY,
        endpoint=ENDPOINT,
        timeout_seconds=5.0,
        max_wait_seconds=60.0,
    )
    return replace(cfg, **changes)  # type: ignore[arg-type]


def inbox_config(tmp_path: Path, folder: str = "INBOX") -> InboxConfig:
    return InboxConfig(
        kind="graph",
        path=tmp_path / "unused",
        poll_seconds=1.0,
        processed_folder="Processed",
        quarantine_folder="Quarantine",
        triage_folder="Triage",
        max_message_bytes=MAX_BYTES,
        max_headers=500,
        max_mime_parts=100,
        max_mime_depth=10,
        folder=folder,
    )


class Sleeps(list[float]):
    """Records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rs:
        graph = FakeGraph(rs)
        graph.mailbox(MAILBOX)
        graph.add_calendar(CALENDAR_MAILBOX, "Calendar")
        graph.add_calendar(CALENDAR_MAILBOX, CALENDAR)
        yield graph


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    db = SqlStore(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client(sleeps: Sleeps | None = None, clock: SleepClock | None = None, **changes: object) -> GraphClient:
    if clock is not None:
        return GraphClient(graph_config(**changes), sleep=clock.sleep, now=clock.now)
    return GraphClient(graph_config(**changes), sleep=sleeps if sleeps is not None else Sleeps())


def make_inbox(store: SqlStore, tmp_path: Path, sleeps: Sleeps | None = None, folder: str = "INBOX") -> GraphInbox:
    sleep = sleeps if sleeps is not None else Sleeps()
    return GraphInbox(client(sleep), MAILBOX, inbox_config(tmp_path, folder), store, sleep=sleep)


def make_calendar(sleeps: Sleeps | None = None, name: str = CALENDAR) -> GraphCalendar:
    return GraphCalendar(client(sleeps), CALENDAR_MAILBOX, name)


# -- the port contracts -----------------------------------------------------------------------


class TestGraphCalendarContract(CalendarContract):
    @pytest.fixture
    def calendar(self, fake: FakeGraph) -> GraphCalendar:
        return make_calendar()


class TestGraphInboxContract(InboxContract):
    @pytest.fixture
    def inbox_under_test(self, fake: FakeGraph, store: SqlStore, tmp_path: Path) -> InboxUnderTest:
        folders = {Folder.PROCESSED: "Processed", Folder.QUARANTINE: "Quarantine", Folder.TRIAGE: "Triage"}
        return InboxUnderTest(
            inbox=make_inbox(store, tmp_path),
            deliver=lambda raw: fake.deliver(MAILBOX, raw) and None,
            in_folder=lambda folder: fake.in_folder(MAILBOX, folders[folder]),
            max_message_bytes=MAX_BYTES,
        )


class TestGraphSenderContract(SenderContract):
    @pytest.fixture
    def sender_under_test(self, fake: FakeGraph) -> SenderUnderTest:
        box = fake.mailbox(MAILBOX)
        return SenderUnderTest(sender=GraphSender(client(), MAILBOX), received=lambda: list(box.sent))


# -- from_config --------------------------------------------------------------------------------


def test_the_factories_wiring_calls_build_each_role_without_a_network_call(fake: FakeGraph, store: SqlStore) -> None:
    cfg = graph_config()
    inbox = GraphInbox.from_config(cfg, inbox_config(Path("/nonexistent")), store)
    sender = GraphSender.from_config(cfg)
    calendar = GraphCalendar.from_config(
        cfg, CalendarConfig(kind="graph", name=CALENDAR, ics_path=None, feed_days_back=30)
    )
    assert fake.requests == [] and fake.token_requests == []
    assert calendar.sends_invitations is True
    assert (inbox.mailbox, sender.mailbox, calendar.mailbox, calendar.name) == (
        MAILBOX,
        MAILBOX,
        CALENDAR_MAILBOX,
        CALENDAR,
    )


# -- calendar: what we send ---------------------------------------------------------------------


def created(fake: FakeGraph) -> list[dict[str, object]]:
    return [r.json() for r in fake.calls("POST", r"/calendars/[^/]+/events$")]


def test_the_event_carries_n_numbers_attendees_privacy_and_no_online_meeting(fake: FakeGraph) -> None:
    calendar = make_calendar()
    calendar.book(contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15",
                                 subject="Strategy discussion N146782, N146783"))  # fmt: skip
    [sent] = created(fake)
    assert sent["subject"] == "Strategy discussion N146782, N146783"
    assert sent["attendees"] == [
        {"emailAddress": {"address": "tm@council.example"}, "type": "required"},
        {"emailAddress": {"address": "ds@police.example"}, "type": "required"},
    ]
    assert sent["sensitivity"] == "private"
    assert sent["isOnlineMeeting"] is False
    assert sent["responseRequested"] is True
    assert sent["allowNewTimeProposals"] is False
    assert sent["showAs"] == "busy"
    assert sent["body"] == {"contentType": "text", "content": "Strategy discussion by telephone."}
    assert sent["location"] == {"displayName": "Conference line: 0300 000 0000"}
    assert sent["singleValueExtendedProperties"] == [{"id": UID_PROPERTY, "value": "case-1@police.example"}]
    # It went into the named calendar, not the mailbox's default one.
    [post] = fake.calls("POST", r"/events$")
    named = next(cid for cid, name in fake.mailbox(CALENDAR_MAILBOX).calendars.items() if name == CALENDAR)
    assert post.path == f"/users/{CALENDAR_MAILBOX}/calendars/{named}/events"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-10-21 10:00", "2026-10-21 10:15"),  # BST, the Wednesday before the autumn change (25 Oct 2026)
        ("2026-10-28 10:00", "2026-10-28 10:15"),  # GMT, the Wednesday after it
        ("2027-03-24 10:00", "2027-03-24 10:15"),  # GMT, before the spring change (28 Mar 2027)
        ("2027-03-31 10:00", "2027-03-31 10:15"),  # BST, after it
        ("2027-11-03 10:00", "2027-11-03 10:30"),  # GMT, after the autumn change of 31 Oct 2027
    ],
)
def test_times_are_sent_as_london_wall_time_across_the_clock_changes(fake: FakeGraph, start: str, end: str) -> None:
    calendar = make_calendar()
    calendar.book(contract_event("case-1@police.example", start, end))
    [sent] = created(fake)
    assert sent["start"] == {"dateTime": start.replace(" ", "T") + ":00", "timeZone": "Europe/London"}
    assert sent["end"] == {"dateTime": end.replace(" ", "T") + ":00", "timeZone": "Europe/London"}
    [event] = calendar.events(london(start[:10] + " 00:00"), london(start[:10] + " 23:59"))
    assert (event.start, event.end) == (london(start), london(end))
    assert event.start.utcoffset() == london(start).utcoffset()


def test_the_spring_event_is_stored_at_nine_utc(fake: FakeGraph) -> None:
    make_calendar().book(contract_event("spring@police.example", "2027-03-31 10:00", "2027-03-31 10:15"))
    [stored] = fake.mailbox(CALENDAR_MAILBOX).events.values()
    assert stored.start == datetime.fromisoformat("2027-03-31T09:00:00+00:00")


def test_the_transaction_id_is_stable_for_a_booking_and_differs_between_uids() -> None:
    one = contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
    again = contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
    other = contract_event("case-2@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
    assert transaction_id(one) == transaction_id(again)
    assert transaction_id(one) != transaction_id(other)


def test_a_create_whose_answer_was_lost_is_retried_into_one_event(fake: FakeGraph, sleeps: Sleeps) -> None:
    # Graph made the event but its answer was lost in a 504; the same POST goes again.
    fake.fail("POST", r"/events$", 504, headers={"Retry-After": "2"}, after=True)
    make_calendar(sleeps).book(contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
    first, second = created(fake)
    assert first == second and sleeps == [2.0]
    assert len(fake.mailbox(CALENDAR_MAILBOX).events) == 1


def test_a_booking_retried_by_the_service_after_a_lost_answer_makes_one_event(fake: FakeGraph) -> None:
    clock = SleepClock()
    calendar = GraphCalendar(client(clock=clock), CALENDAR_MAILBOX, CALENDAR)
    event = contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
    fake.fail("POST", r"/events$", 503, headers={"Retry-After": "3600"}, after=True)
    with pytest.raises(TransientError):
        calendar.book(event)
    clock.advance(3600)
    calendar.book(event)  # the service's retry: found by uid, not booked again
    assert len(created(fake)) == 1 and len(fake.mailbox(CALENDAR_MAILBOX).events) == 1


def test_booking_the_same_uid_twice_posts_once(fake: FakeGraph) -> None:
    calendar = make_calendar()
    event = contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
    calendar.book(event)
    calendar.book(event)
    assert len(created(fake)) == 1


def test_events_made_by_hand_are_busy_under_their_graph_id_and_free_ones_are_not(fake: FakeGraph) -> None:
    cid = next(c for c, n in fake.mailbox(CALENDAR_MAILBOX).calendars.items() if n == CALENDAR)
    busy = fake.add_event(CALENDAR_MAILBOX, cid, "Training", london("2026-11-25 10:00"), london("2026-11-25 10:30"))
    free = fake.add_event(
        CALENDAR_MAILBOX, cid, "Note", london("2026-11-25 11:00"), london("2026-11-25 11:15"), showAs="free"
    )
    calendar = make_calendar()
    day = (london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    assert calendar.busy(*day) == [Interval(london("2026-11-25 10:00"), london("2026-11-25 10:30"))]
    assert [e.uid for e in calendar.events(*day)] == [busy, free]
    with pytest.raises(SlotTaken):
        calendar.book(contract_event("case-1@police.example", "2026-11-25 10:15", "2026-11-25 10:30"))
    calendar.book(contract_event("case-1@police.example", "2026-11-25 11:00", "2026-11-25 11:15"))


def test_an_event_in_the_default_calendar_does_not_block_the_strategy_calendar(fake: FakeGraph) -> None:
    default = next(c for c, n in fake.mailbox(CALENDAR_MAILBOX).calendars.items() if n == "Calendar")
    fake.add_event(CALENDAR_MAILBOX, default, "Leave", london("2026-11-25 09:00"), london("2026-11-25 17:00"))
    calendar = make_calendar()
    calendar.book(contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
    assert len(calendar.events(london("2026-11-25 00:00"), london("2026-11-26 00:00"))) == 1


def test_move_patches_the_times_and_cancel_posts_a_cancellation(fake: FakeGraph) -> None:
    calendar = make_calendar()
    calendar.book(contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
    calendar.move(contract_event("case-1@police.example", "2027-03-31 10:15", "2027-03-31 10:30"))
    [patch] = fake.calls("PATCH")
    assert patch.json()["start"] == {"dateTime": "2027-03-31T10:15:00", "timeZone": "Europe/London"}
    assert patch.json()["subject"] == "Strategy discussion N146782"
    calendar.cancel("case-1@police.example")
    [cancel] = fake.calls("POST", r"/cancel$")
    assert cancel.path.startswith(f"/users/{CALENDAR_MAILBOX}/events/")
    assert "cancelled" in cancel.json()["comment"]
    assert fake.mailbox(CALENDAR_MAILBOX).events == {}


def test_calendar_calls_ask_for_london_times_and_immutable_ids(fake: FakeGraph) -> None:
    make_calendar().busy(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    for call in fake.requests:
        assert 'IdType="ImmutableId"' in call.headers["Prefer"]
        assert 'outlook.timezone="Europe/London"' in call.headers["Prefer"]


def test_a_missing_calendar_is_named_with_its_mailbox(fake: FakeGraph) -> None:
    calendar = make_calendar(name="Strategy Meetings")
    with pytest.raises(PermanentError, match=r"'Strategy Meetings' was not found in mailbox strategy.calendar@"):
        calendar.busy(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    assert calendar.check() == [
        "Graph calendar: the calendar 'Strategy Meetings' was not found in mailbox strategy.calendar@police.example; "
        "create it there, or set calendar.name to its exact name"
    ]
    assert make_calendar().check() == []


# -- throttling and refusals --------------------------------------------------------------------


def test_a_short_retry_after_is_waited_out_then_the_call_succeeds(fake: FakeGraph, sleeps: Sleeps) -> None:
    fake.fail("GET", r"/calendarView$", 429, headers={"Retry-After": "7"}, code="ApplicationThrottled")
    assert make_calendar(sleeps).busy(london("2026-11-25 00:00"), london("2026-11-26 00:00")) == []
    assert sleeps == [7.0]
    assert len(fake.calls("GET", r"/calendarView$")) == 2


def test_a_long_retry_after_is_a_transient_error_without_waiting(fake: FakeGraph, sleeps: Sleeps) -> None:
    fake.fail("POST", r"/messages$", 503, headers={"Retry-After": "600"})
    sender = GraphSender(client(sleeps), MAILBOX)
    with pytest.raises(TransientError, match="asks us to wait 600 seconds"):
        sender.send("<contract-1@council.example>", contract_message(1), MAILBOX, ["tm1@council.example"])
    assert sleeps == []
    assert len(fake.calls("POST", r"/messages$")) == 1


def test_a_long_retry_after_keeps_every_call_off_the_network_until_it_has_passed(fake: FakeGraph) -> None:
    clock = SleepClock()
    calendar = GraphCalendar(client(clock=clock), CALENDAR_MAILBOX, CALENDAR)
    day = (london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    fake.fail("GET", r"/calendarView$", 429, headers={"Retry-After": "600"}, code="ApplicationThrottled")
    with pytest.raises(TransientError, match=r"asks us to wait 600 seconds; no calls .* until 2026-11-23T09:10:00Z"):
        calendar.busy(*day)
    sent = len(fake.mock.calls)
    clock.advance(599)
    for _ in range(3):  # the next polls, within the 600 seconds: nothing goes out, not even for a token
        with pytest.raises(TransientError) as caught:
            calendar.busy(*day)
        assert str(caught.value) == (
            f"Microsoft Graph asked the bot to leave mailbox {CALENDAR_MAILBOX} alone until 2026-11-23T09:10:00Z; "
            "not reading the strategy calendar before then"
        )
    assert len(fake.mock.calls) == sent and clock.sleeps == []
    clock.advance(1)
    assert calendar.busy(*day) == []
    assert len(fake.mock.calls) > sent
    assert fake.calls("GET", r"/calendarView$")[-1].status == 200


def test_a_retry_after_given_as_an_http_date_is_kept_to(fake: FakeGraph) -> None:
    clock = SleepClock()
    sender = GraphSender(client(clock=clock), MAILBOX)
    until = clock.now() + timedelta(minutes=15)
    fake.fail("POST", r"/send$", 429, headers={"Retry-After": format_datetime(until, usegmt=True)})
    with pytest.raises(
        TransientError,
        match=r"wait 900 seconds; no calls for mailbox referrals@police\.example until 2026-11-23T09:15:00Z",
    ):
        sender.send("<contract-1@council.example>", contract_message(1), MAILBOX, ["tm1@council.example"])
    sent = len(fake.mock.calls)
    clock.advance(14 * 60)
    # The outbox's next email, a minute before the time Graph gave: not sent, not even tried.
    with pytest.raises(TransientError, match="until 2026-11-23T09:15:00Z; not sending email <contract-2@"):
        sender.send("<contract-2@council.example>", contract_message(2), MAILBOX, ["tm2@council.example"])
    assert len(fake.mock.calls) == sent
    clock.advance(60)
    sender.send("<contract-2@council.example>", contract_message(2), MAILBOX, ["tm2@council.example"])
    assert len(fake.mailbox(MAILBOX).sent) == 1 and clock.sleeps == []


def test_the_waits_of_one_call_are_capped_in_total_not_each(fake: FakeGraph) -> None:
    clock = SleepClock()  # graph.max_wait_seconds is 60 in these tests
    calendar = GraphCalendar(client(clock=clock), CALENDAR_MAILBOX, CALENDAR)
    fake.fail("GET", r"/calendars$", 429, headers={"Retry-After": "25"}, times=100)
    with pytest.raises(TransientError, match="until 2026-11-23T09:01:15Z"):
        calendar.busy(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    assert clock.sleeps == [25.0, 25.0]  # a third wait would make 75 seconds in all
    assert len(fake.calls("GET", r"/calendars$")) == 3


def test_throttling_that_never_ends_gives_up_after_a_few_waits(fake: FakeGraph, sleeps: Sleeps) -> None:
    fake.fail("GET", r"/calendars$", 504, headers={"Retry-After": "1"}, times=100)
    with pytest.raises(TransientError, match="HTTP 504"):
        make_calendar(sleeps).busy(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    assert sleeps == [1.0] * 4


def test_an_expired_token_is_dropped_and_the_call_made_again_with_a_new_one(fake: FakeGraph, sleeps: Sleeps) -> None:
    calendar = make_calendar(sleeps)
    day = (london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    calendar.busy(*day)
    fake.expire_tokens()  # msal still thinks its token good for the hour
    assert calendar.busy(*day) == []
    assert len(fake.token_requests) == 2
    refused, again = fake.calls("GET", r"/calendarView$")[1:3]
    assert refused.status == 401 and again.status == 200
    assert again.headers["Authorization"] != refused.headers["Authorization"] and sleeps == []


def test_a_second_401_stops_and_is_not_retried_again(fake: FakeGraph, sleeps: Sleeps) -> None:
    fake.fail("GET", r"/calendars$", 401, code="InvalidAuthenticationToken", message="Access token validation failure.",
              times=5)  # fmt: skip
    with pytest.raises(PermanentError, match="did not accept the app's sign-in") as caught:
        make_calendar(sleeps).busy(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    assert "Access token validation failure." in str(caught.value)
    assert len(fake.calls("GET", r"/calendars$")) == 2 and len(fake.token_requests) == 2 and sleeps == []


@pytest.mark.parametrize(
    ("role", "permission"),
    [("inbox", "Mail.ReadWrite"), ("sender", "Mail.Send"), ("calendar", "Calendars.ReadWrite")],
)
def test_a_403_names_the_missing_permission_and_the_mailbox(
    fake: FakeGraph, store: SqlStore, tmp_path: Path, role: str, permission: str
) -> None:
    mailbox = CALENDAR_MAILBOX if role == "calendar" else MAILBOX
    fake.deny(mailbox, permission)
    with pytest.raises(PermanentError) as caught:
        if role == "inbox":
            list(make_inbox(store, tmp_path).pending())
        elif role == "sender":
            GraphSender(client(), MAILBOX).send("<c@x.example>", contract_message(1), MAILBOX, ["tm1@council.example"])
        else:
            make_calendar().busy(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    assert f"needs the {permission} application permission" in str(caught.value)
    assert f"mailbox {mailbox}" in str(caught.value)
    assert f'"Application {permission}"' in str(caught.value)
    assert [r.status for r in fake.requests].count(403) == 1 and fake.requests[-1].status == 403  # not retried


def test_a_network_failure_is_transient(fake: FakeGraph, sleeps: Sleeps) -> None:
    fake.fail("GET", r"/calendarView$", 0)
    with pytest.raises(TransientError, match="did not answer while reading the strategy calendar"):
        make_calendar(sleeps).busy(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    assert sleeps == []


def test_a_proxy_page_instead_of_json_is_transient_and_says_what_was_being_done(
    fake: FakeGraph, store: SqlStore, tmp_path: Path
) -> None:
    page = "<html><head><title>Web proxy</title></head><body>Please sign in to the proxy.</body></html>"
    fake.answer("GET", r"/calendarView$", 200, page)
    with pytest.raises(TransientError) as caught:
        make_calendar().busy(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    assert str(caught.value) == (
        "Microsoft Graph answered HTTP 200 while reading the strategy calendar with something that is not JSON "
        "(text/html); a proxy may be in the way; it will be tried again"
    )
    fake.deliver(MAILBOX, contract_message(1))
    fake.answer("GET", r"/messages/delta$", 200, page)
    with pytest.raises(TransientError, match="while reading new mail with something that is not JSON"):
        list(make_inbox(store, tmp_path).pending())
    fake.answer("GET", r"/\$value$", 200, "", content_type="text/plain")  # an empty message is still a message
    [mail] = list(make_inbox(store, tmp_path).pending())
    assert mail.raw == b""


def test_json_without_what_graph_documents_is_transient_and_says_what_was_being_done(fake: FakeGraph) -> None:
    event = {"id": "AAMkEvt1", "subject": "Team meeting", "showAs": "busy"}  # no start, no end
    fake.answer("GET", r"/calendarView$", 200, json.dumps({"value": [event]}), content_type="application/json")
    with pytest.raises(TransientError) as caught:
        make_calendar().book(contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
    assert str(caught.value) == (
        "something unexpected (KeyError) went wrong with Microsoft Graph while booking the strategy calendar; "
        "it will be tried again"
    )
    assert created(fake) == []
    fake.answer("GET", r"/calendars$", 200, "[]", content_type="application/json")
    assert make_calendar().check() == [
        "Graph calendar: Microsoft Graph answered while looking for the calendar 'Strategy Meeting' with JSON "
        "that is not an object; it will be tried again"
    ]


def test_an_unknown_mailbox_is_named(fake: FakeGraph) -> None:
    calendar = GraphCalendar(client(), "nobody@police.example", CALENDAR)
    [problem] = calendar.check()
    assert "the mailbox nobody@police.example was not found" in problem


# -- token ---------------------------------------------------------------------------------------


def test_the_token_is_fetched_once_and_reused(fake: FakeGraph) -> None:
    calendar = make_calendar()
    for _ in range(3):
        calendar.busy(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    assert len(fake.token_requests) == 1
    [form] = fake.token_requests
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == ["https://graph.microsoft.com/.default"]
    assert form["client_secret"] == [SECRET]


def test_a_wrong_secret_or_tenant_is_reported_in_plain_words(fake: FakeGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "wrong")
    [problem] = make_calendar().check()
    assert problem == (
        f"Graph calendar: Entra ID refused a token to app {CLIENT_ID} in tenant {TENANT}: "
        "the client secret is wrong (AADSTS7000215)"
    )
    monkeypatch.setenv(SECRET_ENV, SECRET)
    other = GraphCalendar(client(tenant_id="99999999-0000-0000-0000-000000000000"), CALENDAR_MAILBOX, CALENDAR)
    [problem] = other.check()
    assert "Entra ID does not know the tenant '99999999-0000-0000-0000-000000000000'" in problem


def test_a_certificate_credential_signs_a_client_assertion(fake: FakeGraph, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "strategy-bot")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2026, 1, 1))
        .not_valid_after(datetime(2028, 1, 1))
        .sign(key, hashes.SHA256())
    )
    pem = tmp_path / "graph-app.pem"
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - Entra ID's thumbprint is SHA-1
    app = client(client_secret_env=None, certificate_path=pem, certificate_thumbprint=thumbprint)
    assert app.token() in fake.issued
    [form] = fake.token_requests
    assert form["client_assertion_type"] == ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
    assert "client_secret" not in form


# -- inbox ----------------------------------------------------------------------------------------


def test_every_inbox_call_asks_for_immutable_ids(fake: FakeGraph, store: SqlStore, tmp_path: Path) -> None:
    fake.deliver(MAILBOX, contract_message(1))
    inbox = make_inbox(store, tmp_path)
    [mail] = list(inbox.pending())
    inbox.move(mail.key, Folder.PROCESSED)
    assert fake.requests and all('IdType="ImmutableId"' in r.headers["Prefer"] for r in fake.requests)
    # So the key the service held is still the message's id in Processed.
    assert fake.mailbox(MAILBOX).messages[mail.key].folder == fake.folder(MAILBOX, "Processed").id  # type: ignore[union-attr]


def test_the_handled_folders_are_created_beside_the_watched_one(
    fake: FakeGraph, store: SqlStore, tmp_path: Path
) -> None:
    list(make_inbox(store, tmp_path).pending())
    inbox_folder = fake.folder(MAILBOX, "inbox")
    assert inbox_folder is not None
    for name in ("Processed", "Quarantine", "Triage"):
        made = fake.folder(MAILBOX, name)
        assert made is not None and made.parent == inbox_folder.parent
    list(make_inbox(store, tmp_path).pending())  # found, not created twice
    assert len(fake.calls("POST", r"/childFolders$")) == 3


def test_a_watched_folder_by_path_and_a_missing_one(fake: FakeGraph, store: SqlStore, tmp_path: Path) -> None:
    inbox = make_inbox(store, tmp_path, folder="Inbox/Referrals")
    with pytest.raises(PermanentError, match="watched folder 'Inbox/Referrals' was not found in mailbox referrals@"):
        list(inbox.pending())
    assert inbox.check() == [
        "Graph inbox: the watched folder 'Inbox/Referrals' was not found in mailbox referrals@police.example"
    ]
    box = fake.mailbox(MAILBOX)
    parent = fake.folder(MAILBOX, "inbox")
    assert parent is not None
    box.folders["AQMkReferrals"] = FakeFolder("AQMkReferrals", "Referrals", parent.id)
    fake.deliver(MAILBOX, contract_message(5), folder="Referrals")
    fake.deliver(MAILBOX, contract_message(6))  # in the Inbox itself: not watched
    assert [message_id(m.raw) for m in inbox.pending()] == ["<contract-5@council.example>"]
    assert inbox.check() == []


def test_a_restart_offers_again_what_was_listed_but_never_moved(
    fake: FakeGraph, store: SqlStore, tmp_path: Path
) -> None:
    for n in (1, 2, 3):
        fake.deliver(MAILBOX, contract_message(n))
    first = make_inbox(store, tmp_path)
    [one, two, three] = list(first.pending())
    first.move(one.key, Folder.PROCESSED)
    # The daemon dies here: two and three were listed, never moved. A new adapter on the same state:
    fake.deliver(MAILBOX, contract_message(4))
    again = make_inbox(store, tmp_path)
    assert [message_id(m.raw) for m in again.pending()] == [f"<contract-{n}@council.example>" for n in (2, 3, 4)]
    # And it read only the changes since the saved delta link, not the whole folder.
    last = fake.calls("GET", r"/messages/delta$")[-1]
    assert "$deltatoken" in last.query or "$skiptoken" in last.query


def test_a_message_moved_by_someone_else_drops_out(fake: FakeGraph, store: SqlStore, tmp_path: Path) -> None:
    fake.deliver(MAILBOX, contract_message(1))
    fake.deliver(MAILBOX, contract_message(2))
    inbox = make_inbox(store, tmp_path)
    assert len(list(inbox.pending())) == 2
    box = fake.mailbox(MAILBOX)
    moved = next(iter(box.messages.values()))
    deleted = fake.folder(MAILBOX, "deleteditems")
    assert deleted is not None
    moved.folder = deleted.id
    fake._changed(box, fake.folder(MAILBOX, "inbox").id, moved.id)  # type: ignore[union-attr]
    assert [message_id(m.raw) for m in inbox.pending()] == ["<contract-2@council.example>"]


def test_an_expired_delta_resyncs_and_lists_each_message_once(fake: FakeGraph, store: SqlStore, tmp_path: Path) -> None:
    for n in (1, 2, 3):
        fake.deliver(MAILBOX, contract_message(n))
    inbox = make_inbox(store, tmp_path)
    assert len(list(inbox.pending())) == 3
    fake.deliver(MAILBOX, contract_message(4))
    fake.expired_before = fake.seq + 1  # Graph forgets our sync state
    before = len(fake.requests)
    listed = [message_id(m.raw) for m in make_inbox(store, tmp_path).pending()]
    assert listed == [f"<contract-{n}@council.example>" for n in (1, 2, 3, 4)]
    deltas = [r for r in fake.requests[before:] if r.path.endswith("/messages/delta")]
    assert deltas[0].status == 410 and "$deltatoken" in deltas[0].query
    assert "$deltatoken" not in deltas[1].query and "$skiptoken" not in deltas[1].query  # from the start
    # The list was replaced, not added to: the next listing is the same four, once each.
    assert [message_id(m.raw) for m in make_inbox(store, tmp_path).pending()] == listed


def test_two_copies_of_one_message_are_offered_one_at_a_time(fake: FakeGraph, store: SqlStore, tmp_path: Path) -> None:
    fake.deliver(MAILBOX, contract_message(1))
    fake.deliver(MAILBOX, contract_message(1))  # delivered twice: the same Message-ID
    inbox = make_inbox(store, tmp_path)
    [first] = list(inbox.pending())
    inbox.move(first.key, Folder.PROCESSED)
    [second] = list(inbox.pending())
    assert second.key != first.key and message_id(second.raw) == "<contract-1@council.example>"


def test_an_oversized_message_is_never_downloaded(fake: FakeGraph, store: SqlStore, tmp_path: Path) -> None:
    fake.deliver(MAILBOX, contract_message(1, body="B" * (MAX_BYTES + 1)))
    [mail] = list(make_inbox(store, tmp_path).pending())
    assert mail.oversized and mail.raw.endswith(b"\r\n\r\n")
    parsed = email.message_from_bytes(mail.raw, policy=default_policy)
    assert parsed["Subject"] == "Strategy discussion 1"
    assert fake.calls("GET", r"/\$value$") == []


def test_without_a_size_the_download_is_cut_at_the_limit(fake: FakeGraph, store: SqlStore, tmp_path: Path) -> None:
    fake.report_size = False
    fake.deliver(MAILBOX, contract_message(1, body="B" * (MAX_BYTES * 3)))
    [mail] = list(make_inbox(store, tmp_path).pending())
    assert mail.oversized and len(mail.raw) < MAX_BYTES
    assert message_id(mail.raw) == "<contract-1@council.example>"


def test_the_delta_state_is_kept_under_the_mailbox_and_folder(fake: FakeGraph, store: SqlStore, tmp_path: Path) -> None:
    fake.deliver(MAILBOX, contract_message(1))
    list(make_inbox(store, tmp_path).pending())
    saved = store.get_state(f"graph:{MAILBOX}:INBOX:delta")
    assert saved is not None and "deltatoken" in saved


def test_wait_sleeps_through_the_injected_sleep(fake: FakeGraph, store: SqlStore, tmp_path: Path) -> None:
    sleeps = Sleeps()
    assert make_inbox(store, tmp_path, sleeps).wait(30) is False
    assert sleeps == [30]


def test_inbox_check_reports_a_refused_mailbox(fake: FakeGraph, store: SqlStore, tmp_path: Path) -> None:
    fake.deny(MAILBOX, "Mail.ReadWrite")
    [problem] = make_inbox(store, tmp_path).check()
    assert problem.startswith("Graph inbox: Microsoft Graph refused the app access while opening the mail folder")
    assert "Mail.ReadWrite" in problem


# -- sender --------------------------------------------------------------------------------------


def outgoing(extra_headers: str = "") -> bytes:
    return (
        "From: PVP Referral Unit <referrals@police.example>\r\n"
        "To: tm@council.example\r\n"
        "Cc: ds@police.example\r\n"
        "Subject: Strategy discussion booked: N146782\r\n"
        "Message-ID: <case-7.confirmation@police.example>\r\n"
        "In-Reply-To: <contract-7@council.example>\r\n"
        "References: <contract-7@council.example>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "X-Loop: strategy-bot@police.example\r\n"
        f"{extra_headers}"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Booked for Wednesday 25 November 2026 at 10:00.\r\n"
    ).encode()


def test_send_mail_carries_our_mime_base64_encoded_unchanged(fake: FakeGraph) -> None:
    raw = outgoing()
    GraphSender(client(), MAILBOX).send(
        "<case-7.confirmation@police.example>", raw, MAILBOX, ["tm@council.example", "ds@police.example"]
    )
    [call] = fake.calls("POST", r"/messages$")  # a draft from our MIME, then sent
    assert call.path == f"/users/{MAILBOX}/messages"
    assert call.headers["Content-Type"] == "text/plain"
    [draft] = fake.mailbox(MAILBOX).messages
    [send] = fake.calls("POST", r"/send$")
    assert send.path == f"/users/{MAILBOX}/messages/{draft}/send" and send.body == b""
    assert fake.calls("POST", r"/sendMail$") == []
    assert base64.b64decode(call.body) == raw
    parsed = email.message_from_bytes(base64.b64decode(call.body), policy=default_policy)
    for header, value in [
        ("Message-ID", "<case-7.confirmation@police.example>"),
        ("In-Reply-To", "<contract-7@council.example>"),
        ("References", "<contract-7@council.example>"),
        ("Auto-Submitted", "auto-replied"),
        ("X-Loop", "strategy-bot@police.example"),
    ]:
        assert parsed[header] == value
    [(recipients, _)] = fake.mailbox(MAILBOX).sent
    assert sorted(recipients) == ["ds@police.example", "tm@council.example"]


def test_an_envelope_recipient_the_headers_do_not_name_goes_as_bcc(fake: FakeGraph) -> None:
    GraphSender(client(), MAILBOX).send(
        "<m@x.example>", outgoing(), MAILBOX, ["tm@council.example", "ds@police.example", "admin@police.example"]
    )
    [(recipients, raw)] = fake.mailbox(MAILBOX).sent
    assert sorted(recipients) == ["admin@police.example", "ds@police.example", "tm@council.example"]
    assert raw.startswith(b"Bcc: admin@police.example\r\n") and raw.endswith(outgoing())


def test_a_header_recipient_outside_the_envelope_is_taken_out_of_the_header(fake: FakeGraph) -> None:
    GraphSender(client(), MAILBOX).send("<m@x.example>", outgoing(), MAILBOX, ["tm@council.example"])
    [(recipients, raw)] = fake.mailbox(MAILBOX).sent
    assert recipients == ["tm@council.example"]
    assert b"ds@police.example" not in raw
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert parsed["Message-ID"] == "<case-7.confirmation@police.example>" and parsed["X-Loop"]
    assert raw.endswith(b"\r\n\r\nBooked for Wednesday 25 November 2026 at 10:00.\r\n")


def test_an_email_over_four_megabytes_is_refused_with_its_size(fake: FakeGraph) -> None:
    big = outgoing() + b"x" * (3 * 1024 * 1024 + 200_000)
    with pytest.raises(PermanentError, match=r"is 3\.\d MB; Microsoft Graph takes at most 4 MB"):
        GraphSender(client(), MAILBOX).send("<m@x.example>", big, MAILBOX, ["tm@council.example", "ds@police.example"])
    assert fake.calls("POST", r"/sendMail$") == []


def test_sender_check(fake: FakeGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    assert GraphSender(client(), MAILBOX).check() == []
    fake.deny(MAILBOX, "Mail.ReadWrite")  # sending goes through a draft: Mail.Send alone is not enough
    [problem] = GraphSender(client(), MAILBOX).check()
    assert "needs the Mail.ReadWrite application permission" in problem
    fake.denied.clear()
    [problem] = GraphSender(client(), "nobody@police.example").check()
    assert "nobody@police.example was not found" in problem


def test_an_event_made_by_hand_round_trips_its_fields(fake: FakeGraph) -> None:
    cid = next(c for c, n in fake.mailbox(CALENDAR_MAILBOX).calendars.items() if n == CALENDAR)
    fake.add_event(
        CALENDAR_MAILBOX, cid, "Strategy discussion N146790", london("2026-11-27 10:00"), london("2026-11-27 10:30"),
        sensitivity="private", attendees=[{"emailAddress": {"address": "tm@council.example"}, "type": "required"}],
    )  # fmt: skip
    [event] = make_calendar().events(london("2026-11-27 00:00"), london("2026-11-28 00:00"))
    assert event == CalendarEvent(
        uid=event.uid,
        subject="Strategy discussion N146790",
        start=london("2026-11-27 10:00"),
        end=london("2026-11-27 10:30"),
        attendees=("tm@council.example",),
        organizer="strategy.calendar@police.example",
        private=True,
    )
