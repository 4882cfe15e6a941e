"""Contract suites of the ports: what every adapter must do, whatever it talks to.

An adapter's test module subclasses a contract and supplies its fixtures:

- ``CalendarContract`` needs ``calendar`` (a ``StrategyCalendar``, empty);
- ``InboxContract`` needs ``inbox_under_test``: an ``InboxUnderTest`` whose ``deliver``
  puts raw mail into the watched folder and ``in_folder`` lists the Message-IDs in a
  handled folder;
- ``SenderContract`` needs ``sender_under_test``: a ``SenderUnderTest`` whose
  ``received`` lists what the far end got.

The classes are not named ``Test*`` so pytest runs them only through a subclass.
"""

from __future__ import annotations

import email
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.policy import default as default_policy

import pytest

from bot.domain.model import CalendarEvent, Interval
from bot.errors import SlotTaken
from bot.ports import Folder, Inbox, MailSender, StrategyCalendar
from tests.support.requests_mail import london

BOT = "referrals@police.example"


def contract_event(uid: str, start: str, end: str, subject: str = "Strategy discussion N146782") -> CalendarEvent:
    return CalendarEvent(
        uid=uid,
        subject=subject,
        start=london(start),
        end=london(end),
        body="Strategy discussion by telephone.",
        location="Conference line: 0300 000 0000",
        attendees=("tm@council.example", "ds@police.example"),
        organizer=BOT,
    )


class CalendarContract:
    """The ``StrategyCalendar`` port (bot/ports.py)."""

    def test_a_booking_is_busy_time_and_an_event_with_its_subject_and_attendees(
        self, calendar: StrategyCalendar
    ) -> None:
        calendar.book(contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
        day = (london("2026-11-25 00:00"), london("2026-11-26 00:00"))
        assert calendar.busy(*day) == [Interval(london("2026-11-25 10:00"), london("2026-11-25 10:15"))]
        [event] = calendar.events(*day)
        assert event.uid == "case-1@police.example"
        assert event.subject == "Strategy discussion N146782"
        assert (event.start, event.end) == (london("2026-11-25 10:00"), london("2026-11-25 10:15"))
        assert set(event.attendees) == {"tm@council.example", "ds@police.example"}
        assert calendar.busy(london("2026-11-26 00:00"), london("2026-11-27 00:00")) == []

    def test_times_are_kept_across_both_clock_changes(self, calendar: StrategyCalendar) -> None:
        # The Wednesday after the spring change and the Wednesday after the autumn one.
        calendar.book(contract_event("spring@police.example", "2027-03-31 10:00", "2027-03-31 10:15"))
        calendar.book(contract_event("autumn@police.example", "2027-11-03 10:00", "2027-11-03 10:15"))
        spring = calendar.events(london("2027-03-31 00:00"), london("2027-04-01 00:00"))
        autumn = calendar.events(london("2027-11-03 00:00"), london("2027-11-04 00:00"))
        assert [e.start for e in spring] == [london("2027-03-31 10:00")]
        assert [e.start for e in autumn] == [london("2027-11-03 10:00")]

    def test_an_overlap_is_refused_touching_is_not(self, calendar: StrategyCalendar) -> None:
        calendar.book(contract_event("a@police.example", "2026-11-25 10:00", "2026-11-25 10:30"))
        with pytest.raises(SlotTaken):
            calendar.book(contract_event("b@police.example", "2026-11-25 10:15", "2026-11-25 10:30"))
        calendar.book(contract_event("c@police.example", "2026-11-25 10:30", "2026-11-25 10:45"))
        day = calendar.events(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
        assert [e.uid for e in day] == ["a@police.example", "c@police.example"]

    def test_booking_the_same_uid_again_makes_no_second_event(self, calendar: StrategyCalendar) -> None:
        first = contract_event("case-1@police.example", "2026-11-25 10:00", "2026-11-25 10:15")
        calendar.book(first)
        calendar.book(first)  # the retry after a crash between the booking and our record of it
        assert len(calendar.events(london("2026-11-25 00:00"), london("2026-11-26 00:00"))) == 1

    def test_booked_gives_the_times_of_the_event_with_a_uid(self, calendar: StrategyCalendar) -> None:
        assert calendar.booked("case-1@police.example") is None
        calendar.book(contract_event("case-1@police.example", "2027-03-29 10:00", "2027-03-29 10:15"))
        wanted = Interval(london("2027-03-29 10:00"), london("2027-03-29 10:15"))
        assert calendar.booked("case-1@police.example") == wanted  # the week after the clocks go forward
        assert calendar.booked("case-2@police.example") is None
        calendar.cancel("case-1@police.example")
        assert calendar.booked("case-1@police.example") is None

    def test_move_replaces_the_times_and_frees_the_old_slot(self, calendar: StrategyCalendar) -> None:
        calendar.book(contract_event("a@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
        calendar.book(contract_event("b@police.example", "2026-11-25 10:30", "2026-11-25 10:45"))
        with pytest.raises(SlotTaken):
            calendar.move(contract_event("a@police.example", "2026-11-25 10:30", "2026-11-25 10:45"))
        moved = contract_event("a@police.example", "2026-11-25 10:15", "2026-11-25 10:30")
        calendar.move(CalendarEvent(**{**moved.__dict__, "sequence": 1}))
        day = calendar.events(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
        assert [(e.uid, e.start) for e in day] == [
            ("a@police.example", london("2026-11-25 10:15")),
            ("b@police.example", london("2026-11-25 10:30")),
        ]

    def test_cancel_frees_the_time_and_cancelling_twice_is_harmless(self, calendar: StrategyCalendar) -> None:
        calendar.book(contract_event("a@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))
        calendar.cancel("a@police.example")
        calendar.cancel("a@police.example")
        assert calendar.busy(london("2026-11-25 00:00"), london("2026-11-26 00:00")) == []
        calendar.book(contract_event("b@police.example", "2026-11-25 10:00", "2026-11-25 10:15"))


def contract_message(n: int, body: str = "Please book a strategy discussion for N146782.") -> bytes:
    return (
        f"From: Team Manager {n} <tm{n}@council.example>\r\n"
        f"To: {BOT}\r\n"
        f"Subject: Strategy discussion {n}\r\n"
        f"Message-ID: <contract-{n}@council.example>\r\n"
        "Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{body}\r\n"
    ).encode()


def message_id(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=default_policy)["Message-ID"])


@dataclass
class InboxUnderTest:
    inbox: Inbox
    deliver: Callable[[bytes], None]
    in_folder: Callable[[Folder], list[str]]  # Message-IDs in a handled folder
    max_message_bytes: int


class InboxContract:
    """The ``Inbox`` port (bot/ports.py): nothing leaves the inbox but through ``move``."""

    def test_pending_gives_each_message_whole_oldest_first_and_moves_nothing(
        self, inbox_under_test: InboxUnderTest
    ) -> None:
        t = inbox_under_test
        for n in (1, 2, 3):
            t.deliver(contract_message(n))
        first = list(t.inbox.pending())
        again = list(t.inbox.pending())
        assert [message_id(m.raw) for m in first] == [f"<contract-{n}@council.example>" for n in (1, 2, 3)]
        assert [m.key for m in again] == [m.key for m in first]
        assert b"Please book a strategy discussion for N146782." in first[0].raw
        assert all(m.received_at.tzinfo is not None and not m.oversized for m in first)

    @pytest.mark.parametrize("folder", list(Folder))
    def test_move_takes_a_message_out_into_its_folder(self, inbox_under_test: InboxUnderTest, folder: Folder) -> None:
        t = inbox_under_test
        t.deliver(contract_message(1))
        t.deliver(contract_message(2))
        [one, two] = list(t.inbox.pending())
        t.inbox.move(one.key, folder)
        assert [message_id(m.raw) for m in t.inbox.pending()] == ["<contract-2@council.example>"]
        assert t.in_folder(folder) == ["<contract-1@council.example>"]

    def test_moving_a_message_already_moved_is_not_an_error(self, inbox_under_test: InboxUnderTest) -> None:
        t = inbox_under_test
        t.deliver(contract_message(1))
        [mail] = list(t.inbox.pending())
        t.inbox.move(mail.key, Folder.PROCESSED)
        t.inbox.move(mail.key, Folder.PROCESSED)  # asked again after a crash before our record of it
        assert list(t.inbox.pending()) == []
        assert t.in_folder(Folder.PROCESSED) == ["<contract-1@council.example>"]

    def test_an_oversized_message_comes_flagged_without_its_body(self, inbox_under_test: InboxUnderTest) -> None:
        t = inbox_under_test
        t.deliver(contract_message(1, body="B" * (t.max_message_bytes + 1)))
        [mail] = list(t.inbox.pending())
        assert mail.oversized
        assert b"B" * 1000 not in mail.raw
        assert message_id(mail.raw) == "<contract-1@council.example>"

    def test_wait_returns_after_its_timeout_when_nothing_comes(self, inbox_under_test: InboxUnderTest) -> None:
        list(inbox_under_test.inbox.pending())
        started = time.monotonic()
        inbox_under_test.inbox.wait(0.3)
        assert time.monotonic() - started < 120  # it returns (no hang); not a measure of speed


@dataclass
class SenderUnderTest:
    sender: MailSender
    # (envelope recipients, raw) as the far end got them; recipients None where it keeps none (Maildir)
    received: Callable[[], list[tuple[list[str] | None, bytes]]]


class SenderContract:
    """The ``MailSender`` port (bot/ports.py)."""

    def test_the_far_end_gets_the_mail_for_every_recipient(self, sender_under_test: SenderUnderTest) -> None:
        t = sender_under_test
        raw = contract_message(7)
        t.sender.send("<contract-7@council.example>", raw, BOT, ["tm@council.example", "ds@police.example"])
        [(recipients, got)] = t.received()
        if recipients is not None:
            assert sorted(recipients) == ["ds@police.example", "tm@council.example"]
        parsed = email.message_from_bytes(got, policy=default_policy)
        assert parsed["Message-ID"] == "<contract-7@council.example>"
        assert parsed["Subject"] == "Strategy discussion 7"
        assert "N146782" in parsed.get_content()
