"""The Graph adapters when an answer is lost, a folder is not where it was, or Graph forgets us (issue 16 items 1-4).

Against the same fake Graph as tests/adapters/test_graph.py (its fixtures are used here): an
email is sent once however its answers are lost, a handled message is never left behind, a
booking whose answer was lost ends as one event whatever Graph answers to the repeat, a first
sync Graph has forgotten is read again from the start, and an expired token is replaced.
"""

# ruff: noqa: F811 - the fixtures imported from test_graph are the test functions' arguments

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.graph import GraphCalendar, GraphSender
from bot.adapters.graph_client import PREFER
from bot.adapters.sql_store import SqlStore
from bot.domain.model import Interval
from bot.errors import PermanentError, TransientError
from bot.ports import Folder
from tests.adapters.test_graph import (  # noqa: F401 - fixtures
    CALENDAR,
    CALENDAR_MAILBOX,
    MAILBOX,
    Sleeps,
    client,
    created,
    fake,
    make_calendar,
    make_inbox,
    outgoing,
    secret,
    sleeps,
    store,
)
from tests.support.fake_graph import FakeGraph, FakeMessage
from tests.support.port_contracts import contract_event, contract_message, message_id
from tests.support.requests_mail import SleepClock, london

MESSAGE_ID = "<case-7.confirmation@police.example>"
RECIPIENTS = ["tm@council.example", "ds@police.example"]


# -- 1. exactly-once sending ------------------------------------------------------------------


def send_until_done(clock: SleepClock) -> int:
    """What the outbox does: the same email again after each failure, by a new adapter (a restart may come between)."""
    for attempt in range(1, 6):
        try:
            GraphSender(client(clock=clock), MAILBOX).send(MESSAGE_ID, outgoing(), MAILBOX, RECIPIENTS)
            return attempt
        except TransientError:
            clock.advance(3600)
    raise AssertionError("never sent")


@pytest.mark.parametrize(
    ("step", "status", "carried_out", "lag"),
    [
        ("create", 504, True, 0),  # the draft was made, its answer lost
        ("create", 0, True, 0),  # the draft was made, then the connection dropped
        ("send", 504, True, 0),  # Exchange took the email, then the gateway timed out
        ("send", 0, True, 0),  # Exchange took the email, then the connection dropped
        ("send", 504, True, 5),  # ... and its copy is not yet in Sent Items
        ("send", 0, True, 5),
        ("send", 503, False, 0),  # refused before sending: sent at the next attempt
        ("send", 0, False, 0),
    ],
)
def test_an_email_whose_answer_is_lost_is_sent_once(
    fake: FakeGraph, step: str, status: int, carried_out: bool, lag: int
) -> None:
    fake.submit_lag = lag
    # sendMail is matched too: on it, a lost answer meant a second copy.
    path = r"/(sendMail|messages)$" if step == "create" else r"/(sendMail|send)$"
    fake.fail("POST", path, status, headers={"Retry-After": "1"}, after=carried_out)
    send_until_done(SleepClock())
    [(recipients, raw)] = fake.mailbox(MAILBOX).sent
    assert sorted(recipients) == sorted(RECIPIENTS) and raw == outgoing()
    assert fake.calls("POST", r"/sendMail$") == []
    assert fake.in_folder(MAILBOX, "Drafts") == []  # no draft left behind to be sent by someone later
    assert fake.in_folder(MAILBOX, "Sent Items") + fake.in_folder(MAILBOX, "Outbox") == [MESSAGE_ID]


def test_an_email_already_in_sent_items_is_not_sent_again(fake: FakeGraph) -> None:
    clock = SleepClock()
    fake.fail("POST", r"/(sendMail|send)$", 504, after=True, times=5)  # every answer lost
    send_until_done(clock)
    send_until_done(clock)  # the outbox, not knowing, tries again later: found in Sent Items
    assert len(fake.mailbox(MAILBOX).sent) == 1
    looked = fake.calls("GET", r"/mailFolders/sentitems/messages$")[-1]
    assert looked.query["$filter"] == f"internetMessageId eq '{MESSAGE_ID}'"


def test_a_second_draft_from_an_earlier_attempt_is_deleted_not_sent(fake: FakeGraph) -> None:
    box = fake.mailbox(MAILBOX)
    drafts = fake.folder(MAILBOX, "drafts")
    assert drafts is not None
    for n in (1, 2):
        key = fake.new_id()
        box.messages[key] = FakeMessage(key, drafts.id, outgoing(), london(f"2026-11-23 09:0{n}"), is_draft=True)
    send_until_done(SleepClock())
    assert len(box.sent) == 1 and fake.in_folder(MAILBOX, "Drafts") == []
    assert fake.calls("POST", r"/messages$") == []  # the draft made before was sent, none made again


# -- 2. moves that cannot lose mail ----------------------------------------------------------


def test_a_deleted_processed_folder_keeps_the_message_until_it_is_made_again(
    fake: FakeGraph, store: SqlStore, tmp_path: Path
) -> None:
    fake.deliver(MAILBOX, contract_message(1))
    inbox = make_inbox(store, tmp_path)
    [mail] = list(inbox.pending())
    fake.delete_folder(MAILBOX, "Processed")  # someone deletes it for good
    with pytest.raises(TransientError, match=r"'Processed' was not found .* stays in 'INBOX' until it is moved"):
        inbox.move(mail.key, Folder.PROCESSED)
    assert fake.in_folder(MAILBOX, "Inbox") == ["<contract-1@council.example>"]
    # The next round: offered again (the service knows it as handled) and moved to a new Processed.
    [again] = list(inbox.pending())
    assert again.key == mail.key
    inbox.move(again.key, Folder.PROCESSED)
    assert fake.in_folder(MAILBOX, "Processed") == ["<contract-1@council.example>"]
    assert fake.in_folder(MAILBOX, "Inbox") == [] and list(inbox.pending()) == []


def test_a_folder_deleted_and_made_again_by_hand_is_found_under_its_new_id(
    fake: FakeGraph, store: SqlStore, tmp_path: Path
) -> None:
    fake.deliver(MAILBOX, contract_message(1))
    fake.deliver(MAILBOX, contract_message(2))
    inbox = make_inbox(store, tmp_path)
    first, second = list(inbox.pending())
    inbox.move(first.key, Folder.QUARANTINE)
    fake.delete_folder(MAILBOX, "Quarantine")
    made = fake.add_folder(MAILBOX, "Quarantine")
    with pytest.raises(TransientError):
        inbox.move(second.key, Folder.QUARANTINE)
    [again] = list(inbox.pending())
    inbox.move(again.key, Folder.QUARANTINE)
    assert fake.mailbox(MAILBOX).messages[second.key].folder == made
    assert len(fake.calls("POST", r"/childFolders$")) == 3  # found, not made a second time


def test_a_watched_folder_deleted_and_made_again_is_read_under_its_new_id(
    fake: FakeGraph, store: SqlStore, tmp_path: Path
) -> None:
    fake.add_folder(MAILBOX, "Referrals")
    fake.deliver(MAILBOX, contract_message(1), folder="Referrals")
    inbox = make_inbox(store, tmp_path, folder="Referrals")
    assert [message_id(m.raw) for m in inbox.pending()] == ["<contract-1@council.example>"]
    fake.delete_folder(MAILBOX, "Referrals")
    fake.add_folder(MAILBOX, "Referrals")
    fake.deliver(MAILBOX, contract_message(2), folder="Referrals")
    assert [message_id(m.raw) for m in inbox.pending()] == ["<contract-2@council.example>"]


def test_a_message_deleted_by_hand_is_done_with(fake: FakeGraph, store: SqlStore, tmp_path: Path) -> None:
    fake.deliver(MAILBOX, contract_message(1))
    inbox = make_inbox(store, tmp_path)
    [mail] = list(inbox.pending())
    del fake.mailbox(MAILBOX).messages[mail.key]
    inbox.move(mail.key, Folder.PROCESSED)
    assert list(inbox.pending()) == []


# -- 3. bookings that survive a lost answer ---------------------------------------------------


@pytest.mark.parametrize("answer", ["existing", "409", "400"])
def test_a_repeated_transaction_id_ends_with_one_event_whatever_graph_answers(
    fake: FakeGraph, sleeps: Sleeps, answer: str
) -> None:
    fake.repeated_transaction = answer
    fake.fail("POST", r"/events$", 504, headers={"Retry-After": "2"}, after=True)  # made; its answer lost
    calendar = make_calendar(sleeps)
    event = contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
    calendar.book(event)
    [made] = fake.mailbox(CALENDAR_MAILBOX).events.values()
    assert made.uid == "case-1@police.example"
    assert calendar.booked(event.uid) == Interval(london("2026-11-25 10:00"), london("2026-11-25 10:15"))
    assert len(created(fake)) == 2  # the retry, answered as Graph chose


def test_a_real_bad_request_is_still_refused(fake: FakeGraph) -> None:
    fake.fail("POST", r"/events$", 400, code="ErrorInvalidRequest", message="Bad attendee.", times=5)
    with pytest.raises(PermanentError, match="Bad attendee"):
        make_calendar().book(contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
    assert fake.mailbox(CALENDAR_MAILBOX).events == {} and len(created(fake)) == 2


def test_a_calendar_deleted_event_with_the_same_transaction_id_is_booked_again(fake: FakeGraph) -> None:
    calendar = GraphCalendar(client(), CALENDAR_MAILBOX, CALENDAR)
    event = contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
    calendar.book(event)
    fake.repeated_transaction = "409"
    [made] = fake.mailbox(CALENDAR_MAILBOX).events.values()
    # Graph still holds the transactionId, for an event no longer in the strategy calendar.
    made.calendar = next(c for c, n in fake.mailbox(CALENDAR_MAILBOX).calendars.items() if n == "Calendar")
    calendar.book(event)
    assert calendar.booked(event.uid) is not None
    assert "transactionId" not in created(fake)[-1]


# -- 4. resync and tokens ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"), [(410, "SyncStateNotFound"), (400, "resyncRequired"), (400, "syncStateNotFound")]
)
def test_a_first_sync_graph_forgets_is_read_again_from_the_start(
    fake: FakeGraph, store: SqlStore, tmp_path: Path, status: int, code: str
) -> None:
    for n in (1, 2, 3):
        fake.deliver(MAILBOX, contract_message(n))
    fake.fail("GET", r"/messages/delta$", status, code=code)  # no delta link yet
    listed = [message_id(m.raw) for m in make_inbox(store, tmp_path).pending()]
    assert listed == [f"<contract-{n}@council.example>" for n in (1, 2, 3)]


def test_a_resync_forgotten_again_is_transient_not_a_refusal(fake: FakeGraph, store: SqlStore, tmp_path: Path) -> None:
    fake.fail("GET", r"/messages/delta$", 410, code="SyncStateNotFound", times=2)
    with pytest.raises(TransientError):
        list(make_inbox(store, tmp_path).pending())
    assert list(make_inbox(store, tmp_path).pending()) == []


def test_each_preference_goes_in_a_prefer_header_of_its_own(fake: FakeGraph, store: SqlStore, tmp_path: Path) -> None:
    fake.deliver(MAILBOX, contract_message(1))
    list(make_inbox(store, tmp_path).pending())
    make_calendar().busy(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    GraphSender(client(), MAILBOX).send(MESSAGE_ID, outgoing(), MAILBOX, RECIPIENTS)
    assert fake.requests
    for call in fake.requests:
        assert call.prefer == ['IdType="ImmutableId"', 'outlook.timezone="Europe/London"',
                               'outlook.body-content-type="text"']  # fmt: skip
    assert list(PREFER) == fake.requests[0].prefer


def test_a_token_expired_while_sending_is_replaced_and_the_email_sent_once(fake: FakeGraph) -> None:
    sender = GraphSender(client(), MAILBOX)
    assert sender.check() == []
    fake.expire_tokens()
    sender.send(MESSAGE_ID, outgoing(), MAILBOX, RECIPIENTS)
    assert len(fake.mailbox(MAILBOX).sent) == 1 and len(fake.token_requests) == 2
