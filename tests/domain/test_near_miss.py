"""The near-miss rule (domain.md §1): which subjects, what police are told, what the sender is told."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.decisions import Role
from bot.domain.model import CaseState
from bot.domain.near_miss import Handling, handling, near_miss, near_miss_alert, sender_note, sender_notice
from bot.domain.purposes import Purpose

RECEIVED = datetime(2026, 11, 23, 9, 12, tzinfo=ZoneInfo("Europe/London"))
TM = "alex.morgan@council.example"


def test_an_urgent_subject_or_a_plain_one_is_no_near_miss() -> None:
    assert near_miss("URGENT - S47 ENQUIRY N146782", TM, ["N146782"]) is None
    assert near_miss("Strategy discussion N146782", TM, ["N146782"]) is None


def test_a_near_miss_keeps_the_subject_on_one_line_and_each_n_number_once() -> None:
    miss = near_miss("Urgent  strategy\tdiscussion N146782", TM, ["N146782", "N146783", "N146782"])
    assert miss is not None
    assert (miss.subject, miss.n_numbers) == ("Urgent strategy discussion N146782", ("N146782", "N146783"))
    assert miss.resend_subject == "URGENT S47 ENQUIRY N146782, N146783"
    assert sender_note(miss) == {
        "subject": "Urgent strategy discussion N146782",
        "resend_subject": "URGENT S47 ENQUIRY N146782, N146783",
    }


def test_with_no_n_number_the_resend_subject_shows_where_it_goes() -> None:
    miss = near_miss("urgent please ring", TM, [])
    assert miss is not None and miss.resend_subject == "URGENT S47 ENQUIRY N…"


@pytest.mark.parametrize(
    ("state", "done"),
    [
        (None, Handling.TRIAGED),
        (CaseState.BOOKED, Handling.BOOKED),
        (CaseState.AWAITING_INFORMATION, Handling.AWAITING_INFORMATION),
        (CaseState.NEEDS_PERSON, Handling.NEEDS_PERSON),
        (CaseState.AWAITING_CONTACT, Handling.OPEN),  # emergency action with no slot in time
    ],
)
def test_what_was_done_follows_the_state_the_message_left(state: CaseState | None, done: Handling) -> None:
    assert handling(state) is done


def test_the_alert_goes_to_the_duty_ds_copied_to_the_referral_unit() -> None:
    miss = near_miss("S47 N146782", TM, ["N146782"])
    assert miss is not None
    mail = near_miss_alert(miss, RECEIVED, None, None, sender_told=False, triage_folder="Triage")
    assert (mail.purpose, mail.to, mail.cc) == (Purpose.NEAR_MISS_ALERT, (Role.DUTY_DS,), (Role.REFERRAL_UNIT,))
    assert mail.context["handling"] == "triaged" and mail.context["sender_told"] is False
    assert mail.context["sender"] == TM and mail.context["subject"] == "S47 N146782"


def test_the_short_notice_goes_to_the_sender_alone() -> None:
    miss = near_miss("Urgent strategy discussion N146782", TM, ["N146782"])
    assert miss is not None
    mail = sender_notice(miss, RECEIVED)
    assert (mail.purpose, mail.to, mail.cc) == (Purpose.NEAR_MISS_ALERT, (TM,), ())
    assert mail.context["for_sender"] is True and mail.context["near_miss"] == sender_note(miss)
