"""The timer, reminder and reply emails (domain.md §4.3, §5, §6) as their recipients read them."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import TemplateError, UndefinedError

from bot.config import ConfigError
from bot.mail.rendering import MailRenderer, RenderedMail, packaged_templates

LONDON = ZoneInfo("Europe/London")

PURPOSES = (
    "minutes_circulation",
    "outcome_notice",
    "escalation_60",
    "escalation_90",
    "escalation_120",
    "escalation_repeat",
    "reminder_day_before",
    "reminder_30_min",
    "minutes_reminder",
    "minutes_overdue",
    "daily_agenda",
    "delay_notice",
    "command_help",
    "s47_outcome_due",
    "icpc_due",
    "cancellation",
    "review_reminder",
    "command_refused",
)


def london(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


REQUESTER = SimpleNamespace(
    name="Alex O'Neil <b>", role="Team Manager", phone="01632 960123", email="alex.oneil@council.example"
)
DS_CONTACTS = [
    SimpleNamespace(name="DS Sam Carver", phone="101 Extn 345458"),
    SimpleNamespace(name="DS Priya Lowe", phone="101 Extn 343260"),
]
MEETING = {
    "start": london("2026-11-25 10:00"),
    "end": london("2026-11-25 10:15"),
    "minutes": 15,
    "complex": False,
    "dial_in": "0203 555 0174",
    "passcode": "76 52 87 15 then #",
}


def entry(start: str, end: str, n_numbers: str, case_id: str, **who: Any) -> SimpleNamespace:
    fields = {"requester_name": None, "requester_role": None, "phone": None, "complex": False, **who}
    return SimpleNamespace(
        start=london(f"2026-11-25 {start}"),
        end=london(f"2026-11-25 {end}"),
        n_numbers=n_numbers,
        case_id=case_id,
        **fields,
    )


AGENDA = [
    entry(
        "10:00",
        "10:15",
        "N146782, N146783",
        "SD000042",
        requester_name="Alex O'Neil <b>",
        requester_role="Team Manager",
        phone="01632 960123",
    ),
    entry(
        "10:15",
        "10:45",
        "N200001",
        "SD000043",
        requester_name="Jo Bright",
        requester_role="Practice Manager",
        phone="01632 960555",
        complex=True,
    ),
    entry("11:00", "11:15", "N3004005", "SD000044"),
]

# What the rules in bot/domain (case_timers, booking_rules) and bot/service pass, purpose by purpose
# (on top of the common variables).
SPECIFIC: dict[str, dict[str, Any]] = {
    "escalation_60": {
        "clock_start": london("2026-11-25 09:12"),
        "callback_by": london("2026-11-25 10:12"),
        "minutes_since": 60,
        "ds_contacts": DS_CONTACTS,
        "admin_support_phone": "101 Extn 347355",
    },
    "escalation_90": {
        "clock_start": london("2026-11-25 09:12"),
        "callback_by": london("2026-11-25 10:12"),
        "minutes_since": 90,
        "mash_manager": "mash.manager@council.example",
        "phone": "01632 960123",
    },
    "escalation_120": {
        "clock_start": london("2026-11-25 09:12"),
        "callback_by": london("2026-11-25 10:12"),
        "minutes_since": 120,
        "phone": "01632 960123",
        "ds_contacts": DS_CONTACTS,
        "admin_support_phone": "101 Extn 347355",
        "repeat_minutes": 60,
        "repeats": 6,
    },
    "escalation_repeat": {
        "clock_start": london("2026-11-25 09:12"),
        "callback_by": london("2026-11-25 10:12"),
        "minutes_since": 240,
        "phone": "01632 960123",
        "ds_contacts": DS_CONTACTS,
        "admin_support_phone": "101 Extn 347355",
        "repeat_minutes": 60,
        "repeat": 2,
        "repeats": 6,
    },
    "reminder_day_before": MEETING,
    "reminder_30_min": MEETING,
    "minutes_reminder": {"start": london("2026-11-25 10:00"), "due": london("2026-11-26 10:15")},
    "minutes_overdue": {"start": london("2026-11-25 10:00"), "due": london("2026-11-26 10:15")},
    "daily_agenda": {"day": date(2026, 11, 25), "entries": AGENDA},
    "review_reminder": {"review_day": date(2026, 12, 14)},
    "command_refused": {
        "word": "MOVED",
        "reason": "MOVED needs the email address of the receiving authority, in one of these domains: "
        'othercounty.example; for example "MOVED duty@othercounty.example". Nothing has been booked.',
    },
    "delay_notice": {**MEETING, "delay_minutes": 20},
    "command_help": {
        "reason": "The first line of your reply was not one of the words the bot understands.",
        "words": [
            SimpleNamespace(word="CONTACTED", meaning="police contact made: stops the escalation reminders"),
            SimpleNamespace(word="MINUTES SHARED", meaning="the minutes have gone to everyone who took part"),
        ],
    },
    "s47_outcome_due": {
        "discussion_day": date(2026, 11, 25),
        "due_day": date(2026, 11, 30),
        "outcome": "joint S47",
    },
    "icpc_due": {
        "discussion_day": date(2026, 11, 25),
        "icpc_by": date(2026, 12, 16),
        "days_left": 5,
        "outcome": "joint S47",
    },
    "cancellation": {
        "start": london("2026-11-25 10:00"),
        "end": london("2026-11-25 10:15"),
        "cancelled_by": "alex.oneil@council.example",
    },
    "minutes_circulation": {
        "files": ["Minutes N146782.docx"],
        "sender": "alex.oneil@council.example",
        "not_sent": [],
    },
    "outcome_notice": {
        "outcome": "no further action",
        "previous": "joint S47",
        "discussion_day": date(2026, 11, 25),
        "timescales": [],
        "stopped": [{"purpose": "icpc_due", "due": london("2026-12-16 09:00"), "detail": "0"}],
    },
}

# A key the caller passes that the email does not need to show: leaving it out is no error.
NOT_SHOWN = {
    "delay_notice": {"end", "minutes", "complex"},
    "cancellation": {"end"},
    "minutes_circulation": {"not_sent"},
}

EXACT_SUBJECTS = {
    "minutes_circulation": "Minutes of the strategy discussion: N146782, N146783 (SD000042)",
    "outcome_notice": "Strategy discussion outcome changed: N146782, N146783: no further action (SD000042)",
    "review_reminder": "Review of agreed actions on Mon 14 Dec: strategy discussion N146782, N146783 (SD000042)",
    "command_refused": "Not done: MOVED for strategy discussion N146782, N146783 (SD000042)",
    "escalation_60": "URGENT S47 ENQUIRY N146782, N146783: no police call-back recorded after 60 minutes",
    "escalation_90": (
        "URGENT S47 ENQUIRY N146782, N146783: please escalate to MASH, no police call-back after 90 minutes"
    ),
    "escalation_120": (
        "URGENT S47 ENQUIRY N146782, N146783: no police call-back after 120 minutes, to the MASH Service Manager"
    ),
    "escalation_repeat": (
        "URGENT S47 ENQUIRY N146782, N146783: still no police call-back after 240 minutes (reminder 2 of 6)"
    ),
    "reminder_day_before": "Reminder: strategy discussion N146782, N146783 on Wed 25 Nov at 10:00",
    "reminder_30_min": "In 30 minutes: strategy discussion N146782, N146783 at 10:00",
    "minutes_reminder": "Minutes due by Thu 26 Nov 10:15: strategy discussion N146782, N146783",
    "minutes_overdue": "Minutes overdue: strategy discussion N146782, N146783 of Wed 25 Nov",
    "daily_agenda": "Strategy discussions today, Wed 25 Nov: 3 booked",
    "delay_notice": "Potential delay: strategy discussion N146782, N146783 at 10:00",
    "command_help": "Not actioned: strategy discussion N146782, N146783 (SD000042)",
    "s47_outcome_due": "Section 47 record outcome due today: N146782, N146783",
    "icpc_due": "ICPC due in 5 working days: N146782, N146783",
    "cancellation": "Cancelled: strategy discussion N146782, N146783 on Wed 25 Nov at 10:00",
}


def context(purpose: str, **overrides: Any) -> dict[str, Any]:
    common: dict[str, Any] = {
        "bot_name": "PVP Referral Unit (strategy bot)",
        "referral_unit_name": "PVP Referral Unit",
        "referral_unit": "referrals@police.example",
        # The daily agenda is about no one case.
        "case_id": None if purpose == "daily_agenda" else "SD000042",
        "n_numbers": [] if purpose == "daily_agenda" else ["N146782", "N146783"],
        "meeting_name": "" if purpose == "daily_agenda" else "N146782, N146783",
        "requester": SimpleNamespace(name=None, role=None, phone=None, email=None)
        if purpose == "daily_agenda"
        else REQUESTER,
    }
    return {**common, **SPECIFIC[purpose], **overrides}


@pytest.fixture(scope="module")
def renderer() -> MailRenderer:
    return MailRenderer()


def render(renderer: MailRenderer, purpose: str, **overrides: Any) -> RenderedMail:
    return renderer.render(purpose, context(purpose, **overrides))


def test_every_timer_purpose_has_a_readable_trio(renderer: MailRenderer) -> None:
    renderer.check(list(PURPOSES))


def test_the_check_names_a_missing_timer_template(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(packaged_templates(), folder)
    (folder / "icpc_due.html.j2").unlink()
    with pytest.raises(ConfigError, match="icpc_due.html.j2"):
        MailRenderer(folder).check(list(PURPOSES))


@pytest.mark.parametrize("purpose", PURPOSES)
def test_the_subject_is_exact_and_carries_no_name(renderer: MailRenderer, purpose: str) -> None:
    subject = render(renderer, purpose).subject
    assert subject == EXACT_SUBJECTS[purpose]
    for private in ("Alex", "O'Neil", "Carver", "Lowe", "Bright", "council.example", "01632"):
        assert private not in subject


@pytest.mark.parametrize("purpose", PURPOSES)
def test_text_ends_with_the_signature_and_html_uses_the_layout(renderer: MailRenderer, purpose: str) -> None:
    mail = render(renderer, purpose)
    assert mail.text.rstrip().endswith("Reply to this email if anything is wrong; a person reads what the bot cannot.")
    assert "\n--\nSent automatically by the PVP Referral Unit (strategy bot) for the PVP Referral Unit" in mail.text
    assert mail.html.startswith("<!DOCTYPE html>")
    assert "Sent automatically by the PVP Referral Unit (strategy bot)" in mail.html
    assert mail.html.rstrip().endswith("</html>")
    assert "{{" not in mail.text + mail.html and "{%" not in mail.text + mail.html


def test_escalation_60_gives_both_ds_numbers_admin_support_and_contacted(renderer: MailRenderer) -> None:
    mail = render(renderer, "escalation_60")
    assert "Please ring DS Sam Carver on 101 Extn 345458 or DS Priya Lowe on 101 Extn 343260 now." in mail.text
    assert "No police contact has been recorded" in mail.text
    assert "ring Admin Support on 101 Extn 347355, who will escalate to the Service Manager in MASH" in mail.text
    assert "received at 09:12" in mail.text and "by 10:12" in mail.text
    assert "CONTACTED on the first line" in mail.text
    assert "<strong>DS Sam Carver</strong> on <strong>101 Extn 345458</strong>" in mail.html
    assert "<strong>DS Priya Lowe</strong> on <strong>101 Extn 343260</strong>" in mail.html
    assert "<strong>CONTACTED</strong>" in mail.html


def test_escalation_90_asks_admin_support_to_escalate_to_the_mash_manager(renderer: MailRenderer) -> None:
    mail = render(renderer, "escalation_90")
    assert "Please escalate to the Service Manager in MASH now: mash.manager@council.example." in mail.text
    assert "Wednesday 25 November 2026" in mail.text and "09:12" in mail.text
    assert "90 minutes later" in mail.text
    assert "Team Manager: Alex O'Neil <b>" in mail.text
    assert "Contact number: 01632 960123" in mail.text
    assert "CONTACTED on the first line" in mail.text
    assert "mash.manager@council.example" in mail.html


def test_escalation_90_without_a_number_says_so(renderer: MailRenderer) -> None:
    mail = render(renderer, "escalation_90", phone=None)
    assert "Contact number: not given" in mail.text
    assert "01632 960123" not in mail.text


@pytest.mark.parametrize("purpose", ["reminder_day_before", "reminder_30_min"])
def test_reminders_give_date_time_dial_in_meeting_name_and_quorum(renderer: MailRenderer, purpose: str) -> None:
    mail = render(renderer, purpose)
    for body in (mail.text, mail.html):
        assert "Wednesday 25 November 2026" in body
        assert "10:00 to 10:15 (15 minutes)" in body
        assert "0203 555 0174" in body
        assert "76 52 87 15 then #" in body
        assert "children's social care (the social worker and their manager), health and police" in body
    assert "Join the meeting named N146782, N146783." in mail.text
    assert "complex case" not in mail.text


def test_a_complex_reminder_says_so(renderer: MailRenderer) -> None:
    mail = render(renderer, "reminder_30_min", end=london("2026-11-25 10:30"), minutes=30, complex=True)
    assert "10:00 to 10:30 (30 minutes, complex case)" in mail.text


def test_minutes_reminder_gives_the_due_time_and_the_reply_word(renderer: MailRenderer) -> None:
    mail = render(renderer, "minutes_reminder")
    assert "held on Wednesday 25 November 2026 at 10:00" in mail.text
    assert "must go to all participants by 10:15 on Thursday 26 November 2026" in mail.text
    assert "MINUTES SHARED on the first line" in mail.text
    assert "reply to the minutes email with the minutes attached" in mail.text
    assert "overdue" not in mail.text


def test_minutes_overdue_says_overdue_with_the_same_instructions(renderer: MailRenderer) -> None:
    mail = render(renderer, "minutes_overdue")
    assert "It is now overdue." in mail.text
    assert "by 10:15 on Thursday 26 November 2026" in mail.text
    assert "MINUTES SHARED on the first line" in mail.text
    assert "<strong>It is now overdue.</strong>" in mail.html


def test_daily_agenda_lists_each_discussion_as_a_row(renderer: MailRenderer) -> None:
    mail = render(renderer, "daily_agenda")
    lines = mail.text.splitlines()
    assert "Strategy discussions on Wednesday 25 November 2026:" in lines
    assert "  10:00-10:15  N146782, N146783  Team Manager: Alex O'Neil <b> (01632 960123)  [SD000042]" in lines
    assert "  10:15-10:45  N200001  Practice Manager: Jo Bright (01632 960555)  COMPLEX  [SD000043]" in lines
    assert "  11:00-11:15  N3004005  TM/PM: not given  [SD000044]" in lines
    assert "No strategy discussions are booked today." not in mail.text
    rows = [line for line in mail.html.splitlines() if line.startswith("<tr><td>")]
    assert rows == [
        "<tr><td>10:00-10:15</td><td>N146782, N146783</td>"
        "<td>Team Manager: Alex O&#39;Neil &lt;b&gt; (01632 960123)</td><td>no</td><td>SD000042</td></tr>",
        "<tr><td>10:15-10:45</td><td>N200001</td>"
        "<td>Practice Manager: Jo Bright (01632 960555)</td><td>yes</td><td>SD000043</td></tr>",
        "<tr><td>11:00-11:15</td><td>N3004005</td><td>TM/PM: not given</td><td>no</td><td>SD000044</td></tr>",
    ]
    assert "<th>Time</th><th>N numbers</th><th>TM/PM and phone</th><th>Complex</th>" in mail.html


def test_daily_agenda_with_nothing_booked_says_none(renderer: MailRenderer) -> None:
    mail = render(renderer, "daily_agenda", entries=[])
    assert mail.subject == "Strategy discussions today, Wed 25 Nov: none booked"
    assert "No strategy discussions are booked today." in mail.text
    assert "<p>No strategy discussions are booked today.</p>" in mail.html
    assert "<table" not in mail.html


def test_delay_notice_tells_the_later_booking_to_stay_on_the_call(renderer: MailRenderer) -> None:
    mail = render(renderer, "delay_notice", start=london("2026-11-25 11:00"))
    assert "Police have said today's strategy discussions are running about 20 minutes late." in mail.text
    assert "Your discussion for N146782, N146783 at 11:00 may start late; please stay on the call." in mail.text
    assert "0203 555 0174" in mail.text and "76 52 87 15 then #" in mail.text
    assert "Join the meeting named N146782, N146783." in mail.text
    assert "about <strong>20 minutes late</strong>" in mail.html
    assert "0203 555 0174" in mail.html and "76 52 87 15 then #" in mail.html


def test_command_help_gives_the_reason_and_every_word_for_the_first_line(renderer: MailRenderer) -> None:
    mail = render(renderer, "command_help", reason="CANCEL can only be sent by the requester or the referral unit.")
    assert "Your reply was not actioned. CANCEL can only be sent by the requester or the referral unit." in mail.text
    assert "reply in its thread with one of these words on the first line" in mail.text
    assert "  CONTACTED\n      police contact made: stops the escalation reminders\n" in mail.text
    assert "  MINUTES SHARED\n      the minutes have gone to everyone who took part\n" in mail.text
    assert "<strong>CONTACTED</strong></td><td>police contact made: stops the escalation reminders" in mail.html


def test_command_help_outside_a_case_has_a_bare_subject(renderer: MailRenderer) -> None:
    mail = render(renderer, "command_help", case_id=None, n_numbers=[], meeting_name="")
    assert mail.subject == "Not actioned"
    assert "Case " not in mail.text


def test_s47_outcome_due_today_on_day_3(renderer: MailRenderer) -> None:
    mail = render(renderer, "s47_outcome_due")
    assert "on Wednesday 25 November 2026 agreed a joint S47 enquiry" in mail.text
    assert "The Section 47 Record Outcome is due today, Monday 30 November 2026 (day 3)." in mail.text


def test_icpc_due_with_5_working_days_left(renderer: MailRenderer) -> None:
    mail = render(renderer, "icpc_due")
    assert "within 15 working days of that discussion: by Wednesday 16 December 2026." in mail.text
    assert "If an Initial Child Protection Conference is needed" in mail.text
    assert "That is 5 working days from today." in mail.text
    assert "5 working days from today" in mail.html
    assert "That is today." not in mail.text


def test_icpc_due_today(renderer: MailRenderer) -> None:
    mail = render(renderer, "icpc_due", days_left=0, icpc_by=date(2026, 12, 16))
    assert mail.subject == "ICPC due today: N146782, N146783"
    assert "by Wednesday 16 December 2026." in mail.text
    assert "That is today." in mail.text
    assert "working days from today" not in mail.text + mail.html
    assert "that is today" in mail.html


def test_cancellation_frees_the_slot(renderer: MailRenderer) -> None:
    mail = render(renderer, "cancellation")
    assert (
        "The strategy discussion for N146782, N146783 on Wednesday 25 November 2026 at 10:00 is cancelled, "
        "at the request of alex.oneil@council.example. The slot has been freed." in mail.text
    )
    assert "<strong>cancelled</strong>" in mail.html


@pytest.mark.parametrize(
    "purpose", ["escalation_60", "minutes_reminder", "minutes_overdue", "delay_notice", "s47_outcome_due", "icpc_due"]
)
def test_the_requester_name_is_escaped_in_html_only(renderer: MailRenderer, purpose: str) -> None:
    mail = render(renderer, purpose)
    assert "Dear Alex O'Neil <b>," in mail.text
    assert "<p>Dear Alex O&#39;Neil &lt;b&gt;,</p>" in mail.html
    assert "<b>" not in mail.html


def test_agenda_names_are_escaped_in_html(renderer: MailRenderer) -> None:
    html = render(renderer, "daily_agenda").html
    assert "Alex O&#39;Neil &lt;b&gt;" in html
    assert "<b>" not in html


def test_a_requester_without_a_name_is_a_colleague(renderer: MailRenderer) -> None:
    nobody = SimpleNamespace(name=None, role=None, phone=None, email=None)
    mail = render(renderer, "minutes_overdue", requester=nobody)
    assert mail.text.startswith("Dear colleague,\n")
    assert "None" not in mail.text + mail.html


def _required(purpose: str) -> list[str]:
    return [key for key in SPECIFIC[purpose] if key not in NOT_SHOWN.get(purpose, set())]


# Dates and datetimes go through the filters, which see the StrictUndefined and fail with a
# TypeError rather than Jinja's UndefinedError; either way nothing is sent with a blank.
DATED = {
    "clock_start",
    "callback_by",
    "start",
    "end",
    "due",
    "day",
    "discussion_day",
    "due_day",
    "icpc_by",
    "review_day",
}
MISSING = [(p, k) for p in PURPOSES for k in [*_required(p), "bot_name", "referral_unit", "case_id"]]


@pytest.mark.parametrize(("purpose", "key"), MISSING)
def test_a_missing_variable_is_an_error_not_a_blank(renderer: MailRenderer, purpose: str, key: str) -> None:
    ctx = context(purpose)
    del ctx[key]
    with pytest.raises((TemplateError, TypeError)):
        renderer.render(purpose, ctx)


@pytest.mark.parametrize(("purpose", "key"), [(p, k) for p, k in MISSING if k not in DATED])
def test_a_missing_variable_is_named_with_its_template(renderer: MailRenderer, purpose: str, key: str) -> None:
    ctx = context(purpose)
    del ctx[key]
    with pytest.raises(TemplateError, match=f"^{purpose}\\.[a-z]+\\.j2: '{key}' is undefined") as caught:
        renderer.render(purpose, ctx)
    assert isinstance(caught.value.__cause__, UndefinedError)


def test_a_missing_attribute_on_an_agenda_entry_is_an_error(renderer: MailRenderer) -> None:
    bare = SimpleNamespace(
        start=london("2026-11-25 10:00"), end=london("2026-11-25 10:15"), n_numbers="N146782", case_id="SD000042"
    )
    with pytest.raises(TemplateError, match="has no attribute"):
        render(renderer, "daily_agenda", entries=[bare])


def test_the_review_reminder_gives_the_review_date_and_the_words_to_change_it(renderer: MailRenderer) -> None:
    mail = render(renderer, "review_reminder")
    assert "Monday 14 December 2026" in mail.text and "agreed actions" in mail.text
    assert "REVIEW" in mail.text and "FURTHER" in mail.text and "Monday 14 December 2026" in mail.html


def test_command_refused_says_what_was_not_done_and_what_is_needed(renderer: MailRenderer) -> None:
    mail = render(renderer, "command_refused")
    assert "(MOVED)" in mail.text and "not carried out" in mail.text
    assert "othercounty.example" in mail.text and "Nothing has been booked" in mail.html
