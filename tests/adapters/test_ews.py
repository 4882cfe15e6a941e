"""The EWS adapters (exchangelib) against an in-memory Exchange server: the port contracts and the SOAP we send."""

from __future__ import annotations

import base64
import email
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest
import responses
from exchangelib.ewsdatetime import EWSDateTime
from exchangelib.protocol import BaseProtocol, CachingProtocol

from bot.adapters.ews import UID_PROPERTY_NAME, UID_PROPERTY_SET, EwsCalendar, EwsInbox, EwsSender
from bot.adapters.ews_connection import CaFileAdapter
from bot.config import CalendarConfig, ConfigError, EwsConfig, InboxConfig
from bot.domain.model import Interval
from bot.errors import PermanentError, SlotTaken, TransientError
from bot.ports import Folder
from tests.support.fake_ews import CALENDAR_MAILBOX, ENDPOINT, NS, REFERRALS, FakeEws, SoapCall
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

PASSWORD_ENV = "STRATEGY_BOT_TEST_EWS_PASSWORD"


def ews_config(**changes: object) -> EwsConfig:
    cfg = EwsConfig(
        endpoint=ENDPOINT,
        username="POLICE\\svc-strategy-bot",
        password_env=PASSWORD_ENV,
        auth_type="NTLM",
        mailbox=REFERRALS,
        calendar_mailbox=CALENDAR_MAILBOX,
        autodiscover=False,
        ca_file=None,
        timeout_seconds=5,
        max_wait_seconds=120,
    )
    return replace(cfg, **changes)  # type: ignore[arg-type]


def inbox_config(tmp_path: Path, max_message_bytes: int = 4000) -> InboxConfig:
    return InboxConfig(
        kind="ews",
        path=tmp_path,
        poll_seconds=1.0,
        processed_folder="Processed",
        quarantine_folder="Quarantine",
        triage_folder="Triage",
        max_message_bytes=max_message_bytes,
        max_headers=500,
        max_mime_parts=100,
        max_mime_depth=10,
    )


CALENDAR = CalendarConfig(kind="ews", name="Strategy Meeting", ics_path=None, feed_days_back=30)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEws]:
    monkeypatch.setenv(PASSWORD_ENV, "correct horse")
    server = FakeEws()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        server.install(mock)
        yield server
    CachingProtocol.clear_cache()  # exchangelib keeps one Protocol per endpoint and credentials


@pytest.fixture
def calendar(fake: FakeEws, sleeps: Sleeps) -> EwsCalendar:
    return EwsCalendar(ews_config(), CALENDAR, sleep=sleeps)


# -- the contracts ------------------------------------------------------------------------------


class TestEwsCalendarContract(CalendarContract):
    pass


class TestEwsInboxContract(InboxContract):
    @pytest.fixture
    def inbox_under_test(self, fake: FakeEws, sleeps: Sleeps, tmp_path: Path) -> InboxUnderTest:
        cfg = inbox_config(tmp_path)
        inbox = EwsInbox(ews_config(), cfg, None, sleep=sleeps)
        names = {Folder.PROCESSED: "Processed", Folder.QUARANTINE: "Quarantine", Folder.TRIAGE: "Triage"}

        def in_folder(folder: Folder) -> list[str]:
            return [i.message_id for i in fake.messages_in(REFERRALS, names[folder])]

        return InboxUnderTest(inbox, lambda raw: fake.deliver(raw), in_folder, cfg.max_message_bytes)


class TestEwsSenderContract(SenderContract):
    @pytest.fixture
    def sender_under_test(self, fake: FakeEws, sleeps: Sleeps) -> SenderUnderTest:
        return SenderUnderTest(
            EwsSender(ews_config(), sleep=sleeps), lambda: [(m.recipients, m.mime) for m in fake.sent]
        )


# -- what the calendar sends --------------------------------------------------------------------

UTC_TEXT = "%Y-%m-%dT%H:%M:%SZ"
NOVEMBER_25 = (london("2026-11-25 00:00"), london("2026-11-26 00:00"))


def created_events(fake: FakeEws) -> list[ET.Element]:
    return [e for call in fake.calls_of("CreateItem") for e in call.findall("m:Items/t:CalendarItem")]


def utc(text: str | None) -> str:
    assert text is not None
    return datetime.fromisoformat(text).astimezone(UTC).strftime(UTC_TEXT)


def test_the_booked_event_carries_n_numbers_only_is_private_and_exchange_invites_the_attendees(
    calendar: EwsCalendar, fake: FakeEws
) -> None:
    event = contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
    calendar.book(replace(event, subject="Strategy discussion N146782, N146783"))
    [create] = fake.calls_of("CreateItem")
    [item] = created_events(fake)
    subject = item.findtext("t:Subject", namespaces=NS)
    assert subject == "Strategy discussion N146782, N146783"
    assert re.fullmatch(r"Strategy discussion N\d{6}(, N\d{6})*", subject or "")
    assert item.findtext("t:Sensitivity", namespaces=NS) == "Private"
    assert create.body.get("SendMeetingInvitations") == "SendToAllAndSaveCopy"
    attendees = [e.text for e in item.findall("t:RequiredAttendees/t:Attendee/t:Mailbox/t:EmailAddress", NS)]
    assert attendees == ["tm@council.example", "ds@police.example"]
    assert item.findtext("t:Location", namespaces=NS) == "Conference line: 0300 000 0000"
    assert item.findtext("t:Body", namespaces=NS) == "Strategy discussion by telephone."
    [uri] = item.findall("t:ExtendedProperty/t:ExtendedFieldURI", NS)
    assert (uri.get("PropertySetId"), uri.get("PropertyName"), uri.get("PropertyType")) == (
        UID_PROPERTY_SET,
        UID_PROPERTY_NAME,
        "String",
    )
    assert item.findtext("t:ExtendedProperty/t:Value", namespaces=NS) == "case-1@police.example"
    saved_in = create.find("m:SavedItemFolderId/t:FolderId")
    assert saved_in is not None and saved_in.get("Id") == fake.folder_named(CALENDAR_MAILBOX, "Strategy Meeting").id
    assert [(m.kind, m.attendees) for m in fake.meeting_mail] == [
        ("request", ["tm@council.example", "ds@police.example"])
    ]


@pytest.mark.parametrize(
    ("day", "utc_start", "utc_end"),
    [
        # The last Sunday of March 2027 is the 28th: GMT on the Friday before, BST on the Wednesday after.
        ("2027-03-26", "2027-03-26T10:00:00Z", "2027-03-26T10:15:00Z"),
        ("2027-03-31", "2027-03-31T09:00:00Z", "2027-03-31T09:15:00Z"),
        # The last Sunday of October 2027 is the 31st: BST on the Friday before, GMT on the Wednesday after.
        ("2027-10-29", "2027-10-29T09:00:00Z", "2027-10-29T09:15:00Z"),
        ("2027-11-03", "2027-11-03T10:00:00Z", "2027-11-03T10:15:00Z"),
    ],
)
def test_london_wall_time_is_sent_and_read_back_right_across_the_clock_changes(
    calendar: EwsCalendar, fake: FakeEws, day: str, utc_start: str, utc_end: str
) -> None:
    calendar.book(contract_event(f"{day}@police.example", f"{day} 10:00", f"{day} 10:15"))
    [item] = created_events(fake)
    assert utc(item.findtext("t:Start", namespaces=NS)) == utc_start
    assert utc(item.findtext("t:End", namespaces=NS)) == utc_end
    assert [e.get("Id") for e in item.findall("t:StartTimeZone", NS)] == ["GMT Standard Time"]
    [event] = calendar.events(london(f"{day} 00:00"), london(f"{day} 23:59"))
    assert event.start == london(f"{day} 10:00") and event.end == london(f"{day} 10:15")
    assert (event.start.tzinfo, event.start.hour, event.start.minute) == (london(day + " 00:00").tzinfo, 10, 0)


def test_a_retried_booking_finds_its_event_by_the_uid_property_and_creates_nothing(
    calendar: EwsCalendar, fake: FakeEws
) -> None:
    event = contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
    calendar.book(event)
    calendar.book(event)
    assert len(fake.calls_of("CreateItem")) == 1
    assert len(fake.calendar_items()) == 1
    searches = [c for c in fake.calls_of("FindItem") if c.find("m:Restriction") is not None]
    last = searches[-1].find("m:Restriction/t:IsEqualTo")
    assert last is not None
    assert last.find("t:ExtendedFieldURI", NS).get("PropertyName") == UID_PROPERTY_NAME  # type: ignore[union-attr]
    assert last.find("t:FieldURIOrConstant/t:Constant", NS).get("Value") == "case-1@police.example"  # type: ignore[union-attr]


@pytest.mark.parametrize("how", ["504", "503", "drop"])
def test_a_booking_whose_answer_was_lost_ends_with_exactly_one_event_found_by_its_uid(
    calendar: EwsCalendar, fake: FakeEws, how: str
) -> None:
    event = contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
    calendar.busy(*NOVEMBER_25)  # connected
    fake.lose_answer("CreateItem", how)
    if how == "503":  # "busy": waited out in place, and the whole booking, its look for the uid first, made again
        calendar.book(event)
    else:
        with pytest.raises(TransientError):
            calendar.book(event)
    # The booking is retried, maybe by a restarted bot, and the time asked for.
    retried = EwsCalendar(ews_config(), CALENDAR, sleep=Sleeps())
    assert retried.booked(event.uid) == Interval(event.start, event.end)
    retried.book(event)
    calendar.book(event)
    [item] = fake.calendar_items()
    assert item.extended[(UID_PROPERTY_SET, UID_PROPERTY_NAME)] == "case-1@police.example"
    assert len(fake.calls_of("CreateItem")) == 1
    assert [m.kind for m in fake.meeting_mail] == ["request"]  # the attendees invited once


def test_a_calendar_deleted_and_made_again_is_found_again_by_name(calendar: EwsCalendar, fake: FakeEws) -> None:
    assert calendar.busy(*NOVEMBER_25) == []
    old = fake.folder_named(CALENDAR_MAILBOX, "Strategy Meeting")
    assert old is not None
    del fake.folders[old.id]
    fake.add_calendar(CALENDAR_MAILBOX, "Strategy Meeting")
    with pytest.raises(TransientError):
        calendar.busy(*NOVEMBER_25)
    event = contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
    calendar.book(event)
    assert [i.subject for i in fake.calendar_items()] == [event.subject]


def test_an_event_made_by_hand_is_busy_time_refuses_an_overlap_and_reads_back_by_its_item_id(
    calendar: EwsCalendar, fake: FakeEws
) -> None:
    item_id = fake.add_event(london("2026-11-25 10:00"), london("2026-11-25 10:30"))
    day = (london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    assert calendar.busy(*day) == [Interval(london("2026-11-25 10:00"), london("2026-11-25 10:30"))]
    with pytest.raises(SlotTaken):
        calendar.book(contract_event("case-1@police.example", "2026-11-25 10:15", "2026-11-25 10:30"))
    assert fake.calls_of("CreateItem") == []
    [event] = calendar.events(*day)
    assert (event.uid, event.subject) == (item_id, "Team meeting")
    views = [c.find("m:CalendarView") for c in fake.calls_of("FindItem") if c.find("m:CalendarView") is not None]
    assert (views[0].get("StartDate"), views[0].get("EndDate")) in {  # type: ignore[union-attr]
        ("2026-11-25T00:00:00+00:00", "2026-11-26T00:00:00+00:00"),
        ("2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z"),
    }


def test_move_updates_times_subject_body_location_and_attendees_and_exchange_tells_them_all(
    calendar: EwsCalendar, fake: FakeEws
) -> None:
    calendar.book(contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
    # A COMPLEX reply: a longer slot, one more N number, another professional, a new body.
    moved = replace(
        contract_event("case-1@police.example", "2026-11-25 10:30", "2026-11-25 11:00"),
        subject="Strategy discussion N146782, N146790",
        body="Bond children / Team Manager: Alex Morgan (01632 960123)\n\nConference call: 0203 555 0174",
        location="Conference line: 0203 555 0174",
        attendees=("tm@council.example", "dsl@school.council.example"),
        sequence=1,
    )
    calendar.move(moved)
    [update] = fake.calls_of("UpdateItem")
    assert update.body.get("SendMeetingInvitationsOrCancellations") == "SendToAllAndSaveCopy"
    fields = {
        f.find("t:FieldURI", NS).get("FieldURI"): f.find("t:CalendarItem", NS)  # type: ignore[union-attr]
        for f in update.findall("m:ItemChanges/t:ItemChange/t:Updates/t:SetItemField")
    }
    assert utc(fields["calendar:Start"].findtext("t:Start", namespaces=NS)) == "2026-11-25T10:30:00Z"  # type: ignore[union-attr]
    assert utc(fields["calendar:End"].findtext("t:End", namespaces=NS)) == "2026-11-25T11:00:00Z"  # type: ignore[union-attr]
    assert fields["item:Subject"].findtext("t:Subject", namespaces=NS) == "Strategy discussion N146782, N146790"  # type: ignore[union-attr]
    assert fields["item:Body"].findtext("t:Body", namespaces=NS) == moved.body  # type: ignore[union-attr]
    assert fields["calendar:Location"].findtext("t:Location", namespaces=NS) == moved.location  # type: ignore[union-attr]
    assert fields["item:Sensitivity"].findtext("t:Sensitivity", namespaces=NS) == "Private"  # type: ignore[union-attr]
    required = fields["calendar:RequiredAttendees"].findall(  # type: ignore[union-attr]
        "t:RequiredAttendees/t:Attendee/t:Mailbox/t:EmailAddress", NS
    )
    assert [e.text for e in required] == ["tm@council.example", "dsl@school.council.example"]
    assert len(fake.calls_of("CreateItem")) == 1  # moved, not booked again
    [item] = fake.calendar_items()
    assert (item.subject, item.body, item.location) == (moved.subject, moved.body, moved.location)
    assert item.attendees == ["tm@council.example", "dsl@school.council.example"]
    assert [(m.kind, m.attendees) for m in fake.meeting_mail] == [
        ("request", ["tm@council.example", "ds@police.example"]),
        ("update", ["tm@council.example", "dsl@school.council.example"]),
    ]
    [event] = calendar.events(*NOVEMBER_25)
    assert (event.subject, event.body, event.location, event.attendees) == (
        moved.subject,
        moved.body,
        moved.location,
        moved.attendees,
    )


def test_a_move_to_no_location_and_no_attendees_clears_them(calendar: EwsCalendar, fake: FakeEws) -> None:
    calendar.book(contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
    calendar.move(replace(contract_event("case-1@police.example", "2026-11-25 10:30", "2026-11-25 10:45"),
                          location="", attendees=()))  # fmt: skip
    [update] = fake.calls_of("UpdateItem")
    deleted = {
        f.find("t:FieldURI", NS).get("FieldURI")  # type: ignore[union-attr]
        for f in update.findall("m:ItemChanges/t:ItemChange/t:Updates/t:DeleteItemField")
    }
    assert deleted == {"calendar:Location", "calendar:RequiredAttendees"}
    [item] = fake.calendar_items()
    assert (item.location, item.attendees) == ("", [])


def test_events_shown_as_free_are_not_busy_time_as_with_graph(calendar: EwsCalendar, fake: FakeEws) -> None:
    free = fake.add_event(london("2026-11-25 10:00"), london("2026-11-25 10:30"), "Note", free_busy="Free")
    tentative = fake.add_event(london("2026-11-25 11:00"), london("2026-11-25 11:15"), "Maybe", free_busy="Tentative")
    assert calendar.busy(*NOVEMBER_25) == [Interval(london("2026-11-25 11:00"), london("2026-11-25 11:15"))]
    assert [e.uid for e in calendar.events(*NOVEMBER_25)] == [free, tentative]  # still listed, as Graph lists them
    asked = {e.get("FieldURI") for c in fake.calls for e in c.findall("m:ItemShape/t:AdditionalProperties/t:FieldURI")}
    assert "calendar:LegacyFreeBusyStatus" in asked
    # Booking over the Free event is allowed; over the Tentative one it is refused, as with Graph's showAs.
    calendar.book(contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
    with pytest.raises(SlotTaken):
        calendar.book(contract_event("case-2@police.example", "2026-11-25 11:00", "2026-11-25 11:15"))
    with pytest.raises(SlotTaken):
        calendar.move(contract_event("case-1@police.example", "2026-11-25 11:00", "2026-11-25 11:15"))
    calendar.move(contract_event("case-1@police.example", "2026-11-25 10:15", "2026-11-25 10:30"))
    assert calendar.booked("case-1@police.example") == Interval(london("2026-11-25 10:15"), london("2026-11-25 10:30"))


def test_a_time_without_a_zone_is_a_permanent_error_in_words_before_any_request(
    calendar: EwsCalendar, fake: FakeEws
) -> None:
    naive = datetime(2026, 11, 25, 10, 0)
    with pytest.raises(PermanentError) as caught:
        calendar.busy(naive, naive + timedelta(days=1))
    assert str(caught.value) == (
        "the calendar time 2026-11-25 10:00 has no time zone, so it cannot be sent to Exchange; "
        "calendar times must say which zone they are in"
    )
    event = contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
    for call in (
        lambda: calendar.book(replace(event, start=naive)),
        lambda: calendar.move(replace(event, end=naive + timedelta(minutes=15))),
        lambda: calendar.events(naive, naive + timedelta(days=1)),
    ):
        with pytest.raises(PermanentError, match="has no time zone"):
            call()
    assert fake.calls == []


def test_cancel_sends_a_meeting_cancellation_and_frees_the_time(calendar: EwsCalendar, fake: FakeEws) -> None:
    calendar.book(contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
    [booked] = fake.calendar_items()
    calendar.cancel("case-1@police.example")
    calendar.cancel("case-1@police.example")
    [cancel] = [c for c in fake.calls_of("CreateItem") if c.find("m:Items/t:CancelCalendarItem") is not None]
    assert cancel.body.get("MessageDisposition") == "SendAndSaveCopy"
    assert cancel.find("m:Items/t:CancelCalendarItem/t:ReferenceItemId").get("Id") == booked.id  # type: ignore[union-attr]
    assert [(m.kind, m.attendees) for m in fake.meeting_mail][-1] == (
        "cancel",
        ["tm@council.example", "ds@police.example"],
    )
    assert fake.calendar_items() == []


def test_the_default_calendar_is_used_when_its_name_is_the_configured_one(fake: FakeEws, sleeps: Sleeps) -> None:
    calendar = EwsCalendar(ews_config(), replace(CALENDAR, name="Calendar"), sleep=sleeps)
    calendar.book(contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
    [item] = fake.calendar_items(calendar="Calendar")
    assert item.subject == "Strategy discussion N146782"
    assert calendar.check() == []


def test_a_calendar_missing_is_named_in_words(fake: FakeEws, sleeps: Sleeps) -> None:
    calendar = EwsCalendar(ews_config(), replace(CALENDAR, name="Strategy Discussions"), sleep=sleeps)
    [problem] = calendar.check()
    assert "no calendar named 'Strategy Discussions'" in problem and CALENDAR_MAILBOX in problem
    with pytest.raises(PermanentError, match="Strategy Discussions"):
        calendar.busy(london("2026-11-25 00:00"), london("2026-11-26 00:00"))


# -- what the inbox sends -----------------------------------------------------------------------


def items_asked(fake: FakeEws, field_uri: str) -> list[str]:
    """The item ids fetched by GetItem with ``field_uri`` among the properties asked for."""
    asked = []
    for call in fake.calls_of("GetItem"):
        uris = {e.get("FieldURI") for e in call.findall("m:ItemShape/t:AdditionalProperties/t:FieldURI")}
        if field_uri in uris:
            asked += [e.get("Id", "") for e in call.findall("m:ItemIds/t:ItemId")]
    return asked


@pytest.fixture
def inbox(fake: FakeEws, sleeps: Sleeps, tmp_path: Path) -> EwsInbox:
    return EwsInbox(ews_config(), inbox_config(tmp_path), None, sleep=sleeps)


def test_reading_moves_nothing_and_move_is_one_move_item_into_the_folder_beside_the_inbox(
    inbox: EwsInbox, fake: FakeEws
) -> None:
    fake.deliver(contract_message(1))
    fake.deliver(contract_message(2))
    [one, _] = list(inbox.pending())
    list(inbox.pending())
    assert "MoveItem" not in fake.operations()
    inbox.move(one.key, Folder.QUARANTINE)
    [move] = fake.calls_of("MoveItem")
    quarantine = fake.folder_named(REFERRALS, "Quarantine")
    assert quarantine is not None and quarantine.parent_id == fake.well_known(REFERRALS, "msgfolderroot").id
    assert move.find("m:ToFolderId/t:FolderId").get("Id") == quarantine.id  # type: ignore[union-attr]
    assert [e.get("Id") for e in move.findall("m:ItemIds/t:ItemId")] == [one.key]
    assert one.received_at == datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC)


def test_a_handled_folder_is_made_once_and_found_after(inbox: EwsInbox, fake: FakeEws) -> None:
    for n in (1, 2):
        fake.deliver(contract_message(n))
    for mail in list(inbox.pending()):
        inbox.move(mail.key, Folder.PROCESSED)
    assert len(fake.calls_of("CreateFolder")) == 1
    assert [i.message_id for i in fake.messages_in(REFERRALS, "Processed")] == [
        "<contract-1@council.example>",
        "<contract-2@council.example>",
    ]


def in_folder(fake: FakeEws, name: str) -> list[str]:
    return [i.message_id for i in fake.messages_in(REFERRALS, name)]


def test_a_processed_folder_deleted_in_outlook_is_made_again_beside_the_inbox_not_used_in_deleted_items(
    inbox: EwsInbox, fake: FakeEws
) -> None:
    fake.deliver(contract_message(1))
    [one] = list(inbox.pending())
    inbox.move(one.key, Folder.PROCESSED)
    old = fake.folder_named(REFERRALS, "Processed")
    fake.delete_folder(REFERRALS, "Processed")  # into Deleted Items, its id kept, as Outlook deletes a folder
    fake.deliver(contract_message(2))
    [two] = list(inbox.pending())
    inbox.move(two.key, Folder.PROCESSED)
    processed = [f for f in fake.folders.values() if f.name == "Processed" and f is not old]
    assert [f.parent_id for f in processed] == [fake.well_known(REFERRALS, "msgfolderroot").id]
    assert [i.message_id for i in fake.items.values() if i.folder_id == processed[0].id] == [
        "<contract-2@council.example>"
    ]


@pytest.mark.parametrize("answer", ["ErrorItemNotFound", "ErrorToFolderNotFound"])
def test_a_move_into_a_folder_deleted_for_good_leaves_the_message_to_be_moved_on_the_next_round(
    inbox: EwsInbox, fake: FakeEws, answer: str
) -> None:
    fake.to_folder_gone_code = answer  # what Exchange answers for the item when the ToFolderId is gone
    for n in (1, 2):
        fake.deliver(contract_message(n))
    [one, two] = list(inbox.pending())
    inbox.move(one.key, Folder.PROCESSED)
    fake.delete_folder(REFERRALS, "Processed", hard=True)  # shift+delete, between two moves of one round
    with pytest.raises(TransientError) as caught:
        inbox.move(two.key, Folder.PROCESSED)
    assert str(caught.value) == (
        f"the folder Processed in the referral mailbox was not found (deleted?); message {two.key} stays in the "
        "watched folder and is moved on the next round, the folder found or made again"
    )
    assert in_folder(fake, "Inbox") == ["<contract-2@council.example>"]
    [again] = list(inbox.pending())  # the next round: offered again, and moved
    inbox.move(again.key, Folder.PROCESSED)
    assert in_folder(fake, "Inbox") == []
    assert in_folder(fake, "Processed") == ["<contract-2@council.example>"]
    assert len(fake.calls_of("CreateFolder")) == 2


def test_a_folder_deleted_and_made_again_by_hand_is_found_by_name_and_used(inbox: EwsInbox, fake: FakeEws) -> None:
    fake.to_folder_gone_code = "ErrorToFolderNotFound"
    for n in (1, 2, 3):
        fake.deliver(contract_message(n))
    [one, two, three] = list(inbox.pending())
    inbox.move(one.key, Folder.TRIAGE)
    fake.delete_folder(REFERRALS, "Triage", hard=True)
    remade = fake._folder(REFERRALS, "Triage", fake.well_known(REFERRALS, "msgfolderroot").id)
    with pytest.raises(TransientError):
        inbox.move(two.key, Folder.TRIAGE)
    for mail in list(inbox.pending()):
        inbox.move(mail.key, Folder.TRIAGE)
    assert [i.message_id for i in fake.items.values() if i.folder_id == remade.id] == [
        "<contract-2@council.example>",
        "<contract-3@council.example>",
    ]
    assert len(fake.calls_of("CreateFolder")) == 1  # the one made by hand is used, not a second beside it


def test_a_message_deleted_by_a_person_before_its_move_is_let_go_after_a_look(inbox: EwsInbox, fake: FakeEws) -> None:
    fake.deliver(contract_message(1))
    [one] = list(inbox.pending())
    del fake.items[one.key]
    inbox.move(one.key, Folder.PROCESSED)  # no error: nothing is left to move
    # The look: where is it now (GetItem of its parent folder)? Gone: nothing to move.
    assert items_asked(fake, "item:ParentFolderId") == [one.key]


def test_a_watched_folder_deleted_and_made_again_is_found_again(fake: FakeEws, sleeps: Sleeps, tmp_path: Path) -> None:
    top = fake.well_known(REFERRALS, "msgfolderroot").id
    fake._folder(REFERRALS, "Referrals", top)
    inbox = EwsInbox(ews_config(), replace(inbox_config(tmp_path), folder="Referrals"), None, sleep=sleeps)
    assert list(inbox.pending()) == []
    fake.delete_folder(REFERRALS, "Referrals", hard=True)
    remade = fake._folder(REFERRALS, "Referrals", top)
    fake.items[fake.deliver(contract_message(1))].folder_id = remade.id
    with pytest.raises(TransientError, match="listing the watched folder"):
        list(inbox.pending())
    assert [message_id(m.raw) for m in inbox.pending()] == ["<contract-1@council.example>"]


def test_an_oversized_message_is_offered_from_its_headers_without_fetching_its_mime(
    inbox: EwsInbox, fake: FakeEws
) -> None:
    small = fake.deliver(contract_message(1))
    large = fake.deliver(contract_message(2, body="B" * 5000))
    [first, second] = list(inbox.pending())
    assert (first.oversized, second.oversized) == (False, True)
    assert items_asked(fake, "item:MimeContent") == [small]
    assert items_asked(fake, "item:InternetMessageHeaders") == [large]
    parsed = email.message_from_bytes(second.raw, policy=default_policy)
    assert parsed["Message-ID"] == "<contract-2@council.example>"
    assert parsed["From"] == "Team Manager 2 <tm2@council.example>"


def test_after_a_restart_a_message_offered_but_not_moved_is_offered_again(
    fake: FakeEws, sleeps: Sleeps, tmp_path: Path
) -> None:
    fake.deliver(contract_message(1))
    [mail] = list(EwsInbox(ews_config(), inbox_config(tmp_path), None, sleep=sleeps).pending())
    CachingProtocol.clear_cache()
    [again] = list(EwsInbox(ews_config(), inbox_config(tmp_path), None, sleep=sleeps).pending())
    assert again.raw == mail.raw and again.key == mail.key


def test_a_watched_folder_missing_is_named_in_words(fake: FakeEws, sleeps: Sleeps, tmp_path: Path) -> None:
    inbox = EwsInbox(ews_config(), replace(inbox_config(tmp_path), folder="Referrals"), None, sleep=sleeps)
    assert inbox.check() == [f"the watched folder 'Referrals' does not exist in the referral mailbox {REFERRALS}"]
    fake._folder(REFERRALS, "Referrals", fake.well_known(REFERRALS, "msgfolderroot").id)
    assert inbox.check() == []


def test_a_watched_folder_given_as_a_path_is_found_and_the_handled_folders_go_beside_it(
    fake: FakeEws, sleeps: Sleeps, tmp_path: Path
) -> None:
    inbox = EwsInbox(ews_config(), replace(inbox_config(tmp_path), folder="Inbox/Referrals"), None, sleep=sleeps)
    assert inbox.check() == [f"the watched folder 'Inbox/Referrals' does not exist in the referral mailbox {REFERRALS}"]
    referrals = fake._folder(REFERRALS, "Referrals", fake.well_known(REFERRALS, "inbox").id)
    fake.deliver(contract_message(1))  # in the Inbox itself: not watched
    item = fake.deliver(contract_message(2))
    fake.items[item].folder_id = referrals.id
    inbox = EwsInbox(ews_config(), replace(inbox_config(tmp_path), folder="Inbox/Referrals"), None, sleep=sleeps)
    assert inbox.check() == []
    [mail] = list(inbox.pending())
    assert message_id(mail.raw) == "<contract-2@council.example>"
    inbox.move(mail.key, Folder.PROCESSED)
    processed = fake.folder_named(REFERRALS, "Processed")
    assert processed is not None and processed.parent_id == fake.well_known(REFERRALS, "inbox").id
    assert [i.message_id for i in fake.messages_in(REFERRALS, "Processed")] == ["<contract-2@council.example>"]


# -- what the sender sends ----------------------------------------------------------------------


def folder_in(fake: FakeEws, call: SoapCall, path: str) -> str:
    """The name of the referral mailbox's folder a request names at ``path``, by id or as a well-known folder."""
    [elem] = call.findall(f"{path}/*")
    if elem.tag.endswith("DistinguishedFolderId"):
        assert elem.findtext("t:Mailbox/t:EmailAddress", namespaces=NS) in (REFERRALS, None)
        return fake.well_known(REFERRALS, elem.get("Id", "")).name
    return fake.folders[elem.get("Id", "")].name


def test_the_mime_goes_as_it_is_saved_in_sent_items_when_the_headers_name_the_envelope(
    fake: FakeEws, sleeps: Sleeps
) -> None:
    raw = contract_message(7).replace(
        b"To: referrals@police.example", b"To: tm@council.example\r\nCc: ds@police.example"
    )
    EwsSender(ews_config(), sleep=sleeps).send(
        "<contract-7@council.example>", raw, REFERRALS, ["tm@council.example", "ds@police.example"]
    )
    # First a look for our Message-ID where a copy would be, then a draft carrying it, then the send.
    assert [o for o in fake.operations() if o in ("FindItem", "CreateItem", "SendItem")] == [
        "FindItem",
        "CreateItem",
        "SendItem",
    ]
    [create] = fake.calls_of("CreateItem")
    assert create.body.get("MessageDisposition") == "SaveOnly"
    assert folder_in(fake, create, "m:SavedItemFolderId") == "Drafts"
    [message] = create.findall("m:Items/t:Message")
    assert base64.b64decode(message.findtext("t:MimeContent", namespaces=NS) or "") == raw
    assert message.find("t:ToRecipients", NS) is None and message.find("t:BccRecipients", NS) is None
    [send] = fake.calls_of("SendItem")
    assert send.body.get("SaveItemToFolder") == "true"
    assert folder_in(fake, send, "m:SavedItemFolderId") == "Sent Items"
    [sent] = fake.sent
    assert sorted(sent.recipients) == ["ds@police.example", "tm@council.example"]
    assert [i.message_id for i in fake.messages_in(REFERRALS, "Sent Items")] == ["<contract-7@council.example>"]
    assert fake.messages_in(REFERRALS, "Drafts") == []


def test_sender_check_opens_sent_items_and_drafts(fake: FakeEws, sleeps: Sleeps) -> None:
    assert EwsSender(ews_config(), sleep=sleeps).check() == []
    opened = {e.get("Id") for c in fake.calls_of("GetFolder") for e in c.findall("m:FolderIds/t:DistinguishedFolderId")}
    assert {"sentitems", "drafts"} <= opened


@pytest.mark.parametrize("how", ["504", "503", "drop"])
@pytest.mark.parametrize("lost", ["CreateItem", "SendItem"])
def test_an_answer_lost_after_exchange_took_the_mail_never_makes_a_second_copy(
    fake: FakeEws, sleeps: Sleeps, lost: str, how: str
) -> None:
    raw = contract_message(7).replace(b"To: referrals@police.example", b"To: tm@council.example")
    sender = EwsSender(ews_config(), sleep=sleeps)
    fake.lose_answer(lost, how)
    if how == "503":  # Exchange's "busy": waited out in place, and the whole attempt, lookup first, made again
        sender.send("<contract-7@council.example>", raw, REFERRALS, ["tm@council.example"])
        assert sleeps == [10.0]
    else:
        with pytest.raises(TransientError):
            sender.send("<contract-7@council.example>", raw, REFERRALS, ["tm@council.example"])
    # The outbox tries again later, maybe from a restarted bot.
    for retry in (sender, EwsSender(ews_config(), sleep=sleeps)):
        retry.send("<contract-7@council.example>", raw, REFERRALS, ["tm@council.example"])
    assert [m.recipients for m in fake.sent] == [["tm@council.example"]]
    assert [i.message_id for i in fake.messages_in(REFERRALS, "Sent Items")] == ["<contract-7@council.example>"]
    assert fake.messages_in(REFERRALS, "Drafts") == []
    assert len(fake.calls_of("CreateItem")) == 1  # the draft made once, never a second
    assert len(fake.calls_of("SendItem")) == 1  # sent once: by the first attempt, or the retry sends the draft
    lookups = [c for c in fake.calls_of("FindItem") if c.find("m:Restriction") is not None]
    assert len(lookups) == (4 if how == "503" else 3)
    for lookup in lookups:
        where = lookup.find("m:Restriction/t:IsEqualTo")
        assert where is not None
        assert where.find("t:FieldURI", NS).get("FieldURI") == "message:InternetMessageId"  # type: ignore[union-attr]
        assert where.find("t:FieldURIOrConstant/t:Constant", NS).get("Value") == "<contract-7@council.example>"  # type: ignore[union-attr]
        assert sorted(folder_in_all(fake, lookup, "m:ParentFolderIds")) == ["Drafts", "Outbox", "Sent Items"]


def folder_in_all(fake: FakeEws, call: SoapCall, path: str) -> list[str]:
    names = []
    for elem in call.findall(f"{path}/*"):
        if elem.tag.endswith("DistinguishedFolderId"):
            names.append(fake.well_known(REFERRALS, elem.get("Id", "")).name)
        else:
            names.append(fake.folders[elem.get("Id", "")].name)
    return names


def reply(extra: str = "") -> bytes:
    """An email the bot writes in reply to a request, with the headers that thread it and stop auto-replies."""
    return (
        "From: PVP Referral Unit <referrals@police.example>\r\n"
        "To: tm@council.example\r\n"
        "Subject: Strategy discussion booked: N146782\r\n"
        "Message-ID: <SD000001.confirmation.1@police.example>\r\n"
        "In-Reply-To: <r1@council.example>\r\n"
        "References: <r0@council.example> <r1@council.example>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "X-Auto-Response-Suppress: All\r\n"
        f"{extra}"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Booked for Wednesday 25 November 2026 at 10:00.\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("envelope", "extra"),
    [
        (["tm@council.example"], ""),  # the MIME goes as it is
        (["tm@council.example", "admin@police.example"], ""),  # plus a Bcc recipient
        (["tm@council.example"], "Cc: someone@else.example\r\n"),  # To and Cc taken out: the rest kept
    ],
)
def test_the_mime_sent_keeps_the_threading_and_auto_reply_headers(
    fake: FakeEws, sleeps: Sleeps, envelope: list[str], extra: str
) -> None:
    raw = reply(extra)
    EwsSender(ews_config(), sleep=sleeps).send("<SD000001.confirmation.1@police.example>", raw, REFERRALS, envelope)
    [message] = fake.calls_of("CreateItem")[0].findall("m:Items/t:Message")
    mime = base64.b64decode(message.findtext("t:MimeContent", namespaces=NS) or "")
    sent = email.message_from_bytes(mime, policy=default_policy)
    assert sent["Message-ID"] == "<SD000001.confirmation.1@police.example>"
    assert sent["In-Reply-To"] == "<r1@council.example>"
    assert sent["References"] == "<r0@council.example> <r1@council.example>"
    assert sent["Auto-Submitted"] == "auto-replied"
    assert sent["X-Auto-Response-Suppress"] == "All"
    assert b"someone@else.example" not in mime
    [delivered] = fake.sent
    assert sorted(delivered.recipients) == sorted(envelope)


def test_an_envelope_recipient_not_in_the_headers_is_added_as_bcc(fake: FakeEws, sleeps: Sleeps) -> None:
    raw = contract_message(7).replace(b"To: referrals@police.example", b"To: tm@council.example")
    EwsSender(ews_config(), sleep=sleeps).send(
        "<contract-7@council.example>", raw, REFERRALS, ["tm@council.example", "admin@police.example"]
    )
    [message] = fake.calls_of("CreateItem")[0].findall("m:Items/t:Message")
    assert base64.b64decode(message.findtext("t:MimeContent", namespaces=NS) or "") == raw
    bcc = [e.text for e in message.findall("t:BccRecipients/t:Mailbox/t:EmailAddress", NS)]
    assert bcc == ["admin@police.example"]


def test_headers_naming_someone_outside_the_envelope_are_replaced_by_recipients_and_the_rest_kept(
    fake: FakeEws, sleeps: Sleeps
) -> None:
    raw = contract_message(7).replace(
        b"To: referrals@police.example", b"To: Team Manager <tm@council.example>,\r\n someone@else.example"
    )
    EwsSender(ews_config(), sleep=sleeps).send("<contract-7@council.example>", raw, REFERRALS, ["tm@council.example"])
    [message] = fake.calls_of("CreateItem")[0].findall("m:Items/t:Message")
    mime = base64.b64decode(message.findtext("t:MimeContent", namespaces=NS) or "")
    assert b"someone@else.example" not in mime and b"\r\nTo:" not in mime
    assert mime == raw.replace(b"To: Team Manager <tm@council.example>,\r\n someone@else.example\r\n", b"")
    assert [e.text for e in message.findall("t:ToRecipients/t:Mailbox/t:EmailAddress", NS)] == ["tm@council.example"]
    assert fake.sent[0].recipients == ["tm@council.example"]


# -- failures -----------------------------------------------------------------------------------


def test_a_busy_server_is_waited_out_for_the_back_off_it_asks_and_the_call_then_succeeds(
    calendar: EwsCalendar, fake: FakeEws, sleeps: Sleeps
) -> None:
    calendar.busy(london("2026-11-25 00:00"), london("2026-11-26 00:00"))  # connected
    before = len(fake.calls)
    fake.busy_once(5000)
    calendar.book(contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
    assert sleeps == [5.0]
    assert len(fake.calendar_items()) == 1
    assert fake.calls[before].operation == fake.calls[before + 1].operation  # the same request again


def test_a_back_off_longer_than_max_wait_is_a_transient_error_without_waiting(fake: FakeEws, sleeps: Sleeps) -> None:
    calendar = EwsCalendar(ews_config(max_wait_seconds=2), CALENDAR, sleep=sleeps)
    fake.busy_once(5000)
    with pytest.raises(TransientError, match="busy .* wait 5 s"):
        calendar.busy(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    assert sleeps == []


def test_a_back_off_beyond_max_wait_keeps_every_call_off_the_server_until_it_has_passed(fake: FakeEws) -> None:
    clock = SleepClock()
    calendar = EwsCalendar(ews_config(), CALENDAR, sleep=clock.sleep, now=clock.now)
    calendar.busy(*NOVEMBER_25)  # connected
    fake.busy_once(600_000)  # BackOffMilliseconds: ten minutes, beyond ews.max_wait_seconds (120)
    with pytest.raises(TransientError, match=r"wait 600 s; no calls to it for .* until 2026-11-23T09:10:00Z"):
        calendar.busy(*NOVEMBER_25)
    asked = len(fake.calls)
    clock.advance(599)
    event = contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
    with pytest.raises(TransientError) as caught:
        calendar.book(event)
    assert str(caught.value) == (
        f"Exchange at {ENDPOINT} asked the bot to wait until 2026-11-23T09:10:00Z; "
        "not booking event case-1@police.example before then"
    )
    assert calendar.check() == [
        f"Exchange at {ENDPOINT} asked the bot to wait until 2026-11-23T09:10:00Z; "
        "not opening the calendar 'Strategy Meeting' before then"
    ]
    assert len(fake.calls) == asked and clock.sleeps == []
    clock.advance(1)
    calendar.book(event)
    assert len(fake.calendar_items()) == 1


def test_the_back_offs_of_one_call_are_capped_in_total(fake: FakeEws) -> None:
    clock = SleepClock()
    calendar = EwsCalendar(ews_config(max_wait_seconds=120), CALENDAR, sleep=clock.sleep, now=clock.now)
    calendar.busy(*NOVEMBER_25)  # connected
    asked = len(fake.calls)
    for _ in range(4):
        fake.busy_once(50_000)
    with pytest.raises(TransientError, match="until 2026-11-23T09:02:30Z"):
        calendar.busy(*NOVEMBER_25)
    assert clock.sleeps == [50.0, 50.0]  # a third wait would make 150 seconds in all
    assert len(fake.calls) == asked + 3


@pytest.mark.parametrize("status", [200, 502])
def test_a_page_that_is_not_ews_is_transient_and_says_what_was_being_done(
    calendar: EwsCalendar, fake: FakeEws, status: int
) -> None:
    calendar.busy(*NOVEMBER_25)  # connected
    fake.answer_not_soap(status)
    with pytest.raises(TransientError) as caught:
        calendar.busy(*NOVEMBER_25)
    code = f"HTTP {status} with " if status != 200 else ""
    assert str(caught.value) == (
        f"Exchange at {ENDPOINT} answered {code}something that is not an EWS answer while reading busy times "
        "(a proxy or a sign-in page in the way?); it will be tried again"
    )


@pytest.mark.parametrize(("messages", "error"), [(1, "AttributeError"), (2, "TypeError")])
def test_an_answer_the_bot_cannot_use_is_transient_and_says_what_was_being_done(
    inbox: EwsInbox, fake: FakeEws, messages: int, error: str
) -> None:
    for n in range(1, messages + 1):
        fake.deliver(contract_message(n))
    fake.garble(
        "FindItem", r"<t:DateTimeReceived>[^<]*</t:DateTimeReceived>", "<t:DateTimeReceived>soon</t:DateTimeReceived>"
    )
    with pytest.raises(TransientError) as caught:
        list(inbox.pending())
    assert str(caught.value) == (
        f"something unexpected ({error}) went wrong with Exchange at {ENDPOINT} while listing the watched folder; "
        "it will be tried again"
    )
    assert len(list(inbox.pending())) == messages  # the next answer is a good one


@pytest.mark.parametrize("auth_type", ["basic", "NTLM"])
def test_a_refused_login_is_a_permanent_error_in_words_after_exactly_one_request(
    fake: FakeEws, sleeps: Sleeps, auth_type: str
) -> None:
    fake.refuse_login()
    calendar = EwsCalendar(ews_config(auth_type=auth_type), CALENDAR, sleep=sleeps)
    with pytest.raises(PermanentError) as refused:
        calendar.book(contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
    assert str(refused.value).startswith(f"login for user 'POLICE\\\\svc-strategy-bot' refused at {ENDPOINT}")
    assert len(fake.calls) == 1
    assert sleeps == []


def test_without_impersonation_the_mailbox_is_opened_as_a_delegate(
    fake: FakeEws, sleeps: Sleeps, tmp_path: Path
) -> None:
    fake.impersonation_allowed = False
    fake.deliver(contract_message(1))
    inbox = EwsInbox(ews_config(), inbox_config(tmp_path), None, sleep=sleeps)
    assert [message_id(m.raw) for m in inbox.pending()] == ["<contract-1@council.example>"]
    assert fake.calls[0].impersonating == REFERRALS
    assert all(c.impersonating is None for c in fake.calls[1:])


def test_no_impersonation_and_no_full_access_says_what_the_service_account_needs(
    fake: FakeEws, sleeps: Sleeps, tmp_path: Path
) -> None:
    fake.impersonation_allowed = False
    fake.full_access = False
    inbox = EwsInbox(ews_config(), inbox_config(tmp_path), None, sleep=sleeps)
    [problem] = inbox.check()
    assert problem.startswith(f"access to the referral mailbox {REFERRALS} denied for 'POLICE\\\\svc-strategy-bot'")
    assert "ApplicationImpersonation or FullAccess" in problem


def test_an_unreachable_server_is_transient_and_check_says_so(fake: FakeEws, sleeps: Sleeps) -> None:
    fake.unreachable()
    sender = EwsSender(ews_config(), sleep=sleeps)
    with pytest.raises(TransientError, match=f"cannot reach Exchange at {ENDPOINT}"):
        sender.send("<contract-7@council.example>", contract_message(7), REFERRALS, ["tm@council.example"])
    [problem] = sender.check()
    assert problem.startswith(f"cannot reach Exchange at {ENDPOINT}")
    assert fake.sent == []


def test_a_missing_password_is_reported_by_check_before_any_request(
    fake: FakeEws, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV)
    [problem] = EwsSender(ews_config(), sleep=sleeps).check()
    assert PASSWORD_ENV in problem
    assert fake.calls == []


def test_a_ca_file_is_trusted_for_the_ews_host_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeEws, sleeps: Sleeps
) -> None:
    monkeypatch.setattr(CaFileAdapter, "CA_FILES", {})
    monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", BaseProtocol.HTTP_ADAPTER_CLS)
    ca = tmp_path / "council-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    EwsSender(ews_config(ca_file=ca), sleep=sleeps)
    assert BaseProtocol.HTTP_ADAPTER_CLS is CaFileAdapter
    adapter = CaFileAdapter()
    assert adapter._verify(ENDPOINT, True) == str(ca)
    assert adapter._verify("https://elsewhere.example/", True) is True
    assert adapter._verify(ENDPOINT, False) is False  # never turns a check on or off by itself
    with pytest.raises(ConfigError, match="ews.ca_file"):
        EwsSender(ews_config(ca_file=tmp_path / "missing.pem"), sleep=sleeps)


def test_logs_carry_ids_and_counts_never_names_or_bodies(
    calendar: EwsCalendar, inbox: EwsInbox, fake: FakeEws, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.deliver(contract_message(1, body="The Smithson children, 4 Acacia Avenue."))
    for mail in list(inbox.pending()):
        inbox.move(mail.key, Folder.TRIAGE)
    event = contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
    calendar.book(replace(event, body="Smithson children / Team Manager: Jo Bloggs (01234 567890)"))
    fake.refuse_login()
    CachingProtocol.clear_cache()
    with pytest.raises(PermanentError):
        EwsCalendar(ews_config(auth_type="basic"), CALENDAR).busy(
            london("2026-11-25 00:00"), london("2026-11-26 00:00")
        )
    text = "\n".join(r.getMessage() for r in caplog.records)
    # The whole phone number: exchangelib's debug lines carry timings, thread ids and addresses, in
    # which five digits such as "01234" turn up by chance (a few runs in a thousand).
    for personal in ("Smithson", "Acacia", "Bloggs", "Team Manager 1", "tm@council.example", "01234 567890"):
        assert personal not in text


def test_the_fake_answers_what_else_exchangelib_may_ask_as_exchangelib_reads_it(
    calendar: EwsCalendar, fake: FakeEws
) -> None:
    fake.add_event(london("2027-03-31 10:00"), london("2027-03-31 10:30"))
    account = calendar.mailbox.account()
    [zone] = list(account.protocol.get_timezones(return_full_timezone_data=True))
    assert zone.id == "GMT Standard Time"
    [mailbox] = account.protocol.resolve_names(["tm@council.example"])
    assert mailbox.email_address == "tm@council.example"
    start, end = (EWSDateTime.from_datetime(london(t)) for t in ("2027-03-31 00:00", "2027-04-01 00:00"))
    [view] = list(account.protocol.get_free_busy_info(accounts=[(account, "Required", False)], start=start, end=end))
    [busy] = view.calendar_events
    assert (busy.start, busy.end) == (london("2027-03-31 10:00"), london("2027-03-31 10:30"))
