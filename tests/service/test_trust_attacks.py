"""Trust (issue 19 item 5, domain.md §7): DMARC for the From's domain, a plain sender, invitees by address."""

from __future__ import annotations

from datetime import datetime

from bot.domain.model import CaseState
from bot.ports import Folder, IncomingMail
from bot.wiring import Bot
from tests.support.requests_mail import london, queued_emails, request_email

T0 = london("2026-11-23 09:00")
FORGED_DMARC = (
    "mx.police.example; spf=pass smtp.mailfrom=evil.example; dkim=pass header.d=evil.example; "
    "dmarc=pass header.from=evil.example"
)


def deliver(bot: Bot, raw: bytes, at: datetime, key: str = "k") -> object:
    return bot.service.handle(IncomingMail(key=key, raw=raw, received_at=at), at)


def state(bot: Bot, case_id: str = "SD000001") -> CaseState:
    with bot.store.transaction() as tx:
        case = tx.case(case_id)
    assert case is not None
    return case.state


def test_a_cancel_whose_dmarc_pass_is_for_another_domain_cancels_nothing(bot: Bot) -> None:
    assert bot.config.trust.require_dmarc
    assert deliver(bot, request_email(T0, message_id="<req@council.example>"), T0).booked  # type: ignore[attr-defined]
    at = london("2026-11-23 10:00")
    cancel = request_email(
        at,
        subject="RE: Strategy discussion N146782",
        message_id="<forged-cancel@evil.example>",
        in_reply_to="<SD000001.confirmation.1@police.example>",
        body="CANCEL\n\nThanks\n",
        auth=FORGED_DMARC,
    )
    result = deliver(bot, cancel, at, key="c")
    assert result.folder is Folder.QUARANTINE  # type: ignore[attr-defined]
    assert "no dmarc=pass from mx.police.example" in (result.reason or "")  # type: ignore[attr-defined]
    assert state(bot) is CaseState.BOOKED
    assert len(bot.calendar.all_events()) == 1  # type: ignore[attr-defined]

    # The same CANCEL with the council's own pass does cancel: the refusal was the header.from.
    genuine = cancel.replace(b"header.from=evil.example", b"header.from=council.example").replace(
        b"forged-cancel@evil.example", b"cancel@council.example"
    )
    deliver(bot, genuine, at, key="g")
    assert state(bot) is CaseState.CANCELLED


def test_a_request_from_group_syntax_is_refused(bot: Bot) -> None:
    raw = request_email(T0, sender="x: alex.morgan@council.example;", message_id="<group@council.example>")
    result = deliver(bot, raw, T0)
    assert result.folder is Folder.QUARANTINE  # type: ignore[attr-defined]
    assert "From is missing, malformed or names more than one address" in result.reason  # type: ignore[attr-defined]
    assert bot.calendar.all_events() == []  # type: ignore[attr-defined]


def test_a_sender_whose_name_is_an_address_is_the_address_in_brackets(bot: Bot) -> None:
    raw = request_email(
        T0, sender='"alex.morgan@council.example" <alex.morgan@evil.example>', message_id="<name@evil.example>"
    )
    result = deliver(bot, raw, T0)
    assert result.folder is Folder.QUARANTINE  # type: ignore[attr-defined]
    assert "sender domain evil.example is not in trust.sender_domains" in result.reason  # type: ignore[attr-defined]


def test_a_trusted_sender_with_an_address_for_a_name_is_not_taken_for_that_person(bot: Bot) -> None:
    raw = request_email(
        T0,
        sender='"sam.whitfield@council.example" <alex.morgan@council.example>',
        manager=None,
        message_id="<disguise@council.example>",
    )
    assert deliver(bot, raw, T0).case_id == "SD000001"  # type: ignore[attr-defined]
    with bot.store.transaction() as tx:
        case = tx.case("SD000001")
    assert case is not None and case.details.requester.email == "alex.morgan@council.example"
    assert case.details.requester.name is None  # asked for, never taken from the disguise
    [asked] = queued_emails(bot)
    assert asked["To"] == "alex.morgan@council.example"
    assert "sam.whitfield" not in bytes(asked).decode()


def test_an_invitee_written_with_an_address_for_a_name_is_invited_by_the_bracketed_address(bot: Bot) -> None:
    raw = request_email(
        T0,
        invitees=('"b@council.example" <c@evil.example>', '"Jo Smith, DSL" <jo.smith@school.council.example>'),
        message_id="<invitees@council.example>",
    )
    assert deliver(bot, raw, T0).booked  # type: ignore[attr-defined]
    [event] = bot.calendar.all_events()  # type: ignore[attr-defined]
    assert "b@council.example" not in event.attendees
    assert "jo.smith@school.council.example" in event.attendees
    assert "c@evil.example" not in event.attendees  # outside trust.recipient_domains, so dropped
    [confirmation] = queued_emails(bot)
    everyone = f"{confirmation['To']}, {confirmation['Cc']}"
    assert "b@council.example" not in everyone and "evil.example" not in everyone
