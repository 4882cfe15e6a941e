"""The minutes pack as the manager sees it: the email's three parts and the Word document they fill in."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import docx
import pytest

from bot.domain.model import Requester
from bot.mail.minutes_pack import MinutesPack, minutes_context, minutes_document, minutes_filename
from bot.mail.rendering import MailRenderer, RenderedMail
from tests.support.requests_mail import london

WINTER = MinutesPack(
    case_id="SD000001",
    n_numbers=("N146782",),
    surname="O'Neil <b>",
    children="James O'Neil <b> (03/04/2016), Amy O'Neil 5th June 2019",
    address="7 Orchard Close, Northampton NN1 1AA",
    presenting_issue="Bruising to the face, disclosed at school.",
    meeting_start=london("2026-11-25 10:00"),
    venue="Conference call",
    attendees=(("alex.morgan@council.example", "council.example"), ("nurse@nhs.example", "nhs.example")),
    requester_name="Alex Morgan",
    requester_role="Team Manager",
    urgent=False,
)
SUMMER = replace(WINTER, n_numbers=("N146782", "N146783"), meeting_start=london("2027-04-07 10:00"))
# What the bot may know of an urgent case: an N number and little else.
SPARSE = replace(
    WINTER,
    surname=None,
    children=None,
    address=None,
    presenting_issue=None,
    attendees=(),
    requester_name=None,
    requester_role=None,
    urgent=True,
)

AGENDA_OPENINGS = (
    "Introductions and apologies",
    "Reason for strategy discussion",
    "Summary of information from each agency",
    "Assessment of the information",
    "wishes and feelings",
    "needs of other children",
    "Actions to safeguard",
    "Rationale for the decision",
)
PURPOSE_OPENING = "Working Together to Safeguard Children (March 2015) highlights the duty of the Local authority"


def render(pack: MinutesPack) -> RenderedMail:
    common: dict[str, Any] = {
        "bot_name": "Strategy bot",
        "referral_unit_name": "PVP Referral Unit",
        "referral_unit": "referrals@police.example",
        "case_id": pack.case_id,
        "n_numbers": list(pack.n_numbers),
        "meeting_name": ", ".join(pack.n_numbers),
        "requester": Requester(pack.requester_name, pack.requester_role, "01632 960123", "alex.morgan@council.example"),
    }
    return MailRenderer().render("minutes_template", common | minutes_context(pack))


def document_text(data: bytes) -> tuple[str, list[list[list[str]]]]:
    """(all paragraph text, every table as rows of cell text)."""
    document = docx.Document(io.BytesIO(data))
    tables = [[[cell.text for cell in row.cells] for row in table.rows] for table in document.tables]
    return "\n".join(p.text for p in document.paragraphs), tables


def table_with_header(tables: list[list[list[str]]], header: list[str]) -> list[list[str]]:
    [table] = [t for t in tables if t[0] == header]
    return table


# -- the email --------------------------------------------------------------------------------


def test_the_subject_names_the_discussion_by_n_number_and_time_only() -> None:
    assert render(WINTER).subject == "Minutes template: strategy discussion N146782, Wed 25 Nov 10:00"
    assert render(SUMMER).subject == "Minutes template: strategy discussion N146782, N146783, Wed 7 Apr 10:00"
    assert render(SPARSE).subject == "Minutes template: urgent strategy discussion N146782, Wed 25 Nov 10:00"


@pytest.mark.parametrize("part", ["text", "html"])
def test_the_body_carries_the_agenda_the_meeting_the_purpose_and_the_deadline(part: str) -> None:
    body = getattr(render(WINTER), part)
    for opening in AGENDA_OPENINGS:
        assert opening in body
    assert "Wednesday 25 November 2026" in body and "10:00" in body and "Conference call" in body
    assert PURPOSE_OPENING in body and "decide whether enquiries under section 47" in body
    assert "Section 47 Record Outcome to be completed by the Social Worker by day 3" in body
    assert "circulated to all participants within one working day" in body
    assert "completed minutes attached" in body
    assert "N146782" in body and "strategy-meeting-N146782-2026-11-25.docx" in body


def test_a_summer_meeting_keeps_its_london_time() -> None:
    mail = render(SUMMER)
    for body in (mail.text, mail.html):
        assert "Wednesday 7 April 2027" in body and "10:00" in body and "09:00" not in body


def test_the_text_body_lines_up_the_summary_and_the_attendance() -> None:
    text = render(WINTER).text
    assert "  Child ID:      N146782\n" in text
    assert "  DOB:           03/04/2016, 5th June 2019\n" in text
    rows = [line for line in text.splitlines() if line.endswith("______________") and "@" in line]
    assert len(rows) == 2
    assert rows[0].rindex("council.example") == rows[1].rindex("nhs.example")
    assert rows[0].index("______________") == rows[1].index("______________")


@pytest.mark.parametrize("urgent", [False, True])
def test_the_html_body_escapes_names_and_tabulates_the_summary(urgent: bool) -> None:
    html = render(replace(WINTER, urgent=urgent)).html
    assert "O&#39;Neil &lt;b&gt; children" in html
    assert "<b>" not in html and "O'Neil" not in html
    assert "<th" in html and ">Organisation</th>" in html and ">Action (with timescale)</th>" in html
    assert "<td" in html and "nurse@nhs.example</td>" in html


def test_what_the_bot_does_not_know_is_left_blank_never_none() -> None:
    mail = render(SPARSE)
    for body in (mail.text, mail.html):
        assert "None" not in body and "URGENT S47 ENQUIRY" in body
    assert "  Name:          ______________________________\n" in mail.text
    assert "  Address:       ______________________________\n" in mail.text
    assert "Dear colleague" in mail.text


# -- the document -----------------------------------------------------------------------------


def test_the_document_is_a_word_file() -> None:
    names = set(zipfile.ZipFile(io.BytesIO(minutes_document(WINTER))).namelist())
    assert {"word/document.xml", "[Content_Types].xml", "docProps/core.xml"} <= names


def test_the_document_carries_the_case_and_the_meeting() -> None:
    text, tables = document_text(minutes_document(WINTER))
    assert "Strategy meeting action plan summary N146782" in text
    summary = dict((row[0], row[1]) for row in tables[0])
    assert summary == {
        "NAME": "James O'Neil <b> (03/04/2016), Amy O'Neil 5th June 2019",
        "CHILD ID": "N146782",
        "ADDRESS": "7 Orchard Close, Northampton NN1 1AA",
        "DOB": "03/04/2016, 5th June 2019",
        "MEETING DATE": "Wednesday 25 November 2026",
        "MEETING TIME": "10:00",
        "MEETING VENUE": "Conference call",
    }
    assert ["Bruising to the face, disclosed at school."] in [row for table in tables for row in table]


def test_the_document_has_the_attendance_and_action_tables_to_fill_in() -> None:
    _, tables = document_text(minutes_document(WINTER))
    attendance = table_with_header(tables, ["Name", "Organisation", "Signature"])
    assert attendance[1:3] == [
        ["alex.morgan@council.example", "council.example", ""],
        ["nurse@nhs.example", "nhs.example", ""],
    ]
    assert len(attendance) - 1 == 9 and attendance[-1] == ["", "", ""]
    actions = table_with_header(tables, ["Action (with timescale)", "Completion by", "Signature"])
    assert actions[1:] == [["", "", ""]] * 8


def test_a_long_attendance_list_gets_a_row_each() -> None:
    many = tuple((f"person{i}@council.example", "council.example") for i in range(12))
    _, tables = document_text(minutes_document(replace(WINTER, attendees=many)))
    attendance = table_with_header(tables, ["Name", "Organisation", "Signature"])
    assert [row[0] for row in attendance[1:]] == [name for name, _ in many]


def test_the_document_carries_the_county_wording() -> None:
    text, _ = document_text(minutes_document(WINTER))
    for opening in AGENDA_OPENINGS:
        assert opening in text
    assert PURPOSE_OPENING in text
    assert "share available information;" in text
    assert "agree the conduct and timing of any criminal investigation; and" in text
    assert "Medicals" in text and "Achieving Best Evidence guidance" in text
    assert "single agency or a joint enquiry/investigation" in text and "seen alone by the Lead social worker" in text
    assert "Chronology to be updated and uploaded in Care Store" in text
    assert "Additional actions to consider" in text and "Legal advice to be sought" in text
    assert "not a substitute for the full record" in text
    assert "circulated to all participants within one working day" in text


def test_a_sparse_document_leaves_blanks_never_none() -> None:
    text, tables = document_text(minutes_document(SPARSE))
    everything = text + "\n".join(cell for table in tables for row in table for cell in row)
    assert "None" not in everything
    summary = dict((row[0], row[1]) for row in tables[0])
    assert summary["NAME"] == summary["ADDRESS"] == summary["DOB"] == ""
    assert summary["MEETING DATE"] == "Wednesday 25 November 2026"
    attendance = table_with_header(tables, ["Name", "Organisation", "Signature"])
    assert attendance[1:] == [["", "", ""]] * 9
    assert "URGENT S47 ENQUIRY" in text and "Requested by" not in text


def test_a_summer_document_shows_london_time_and_stamps_utc() -> None:
    data = minutes_document(SUMMER)
    text, tables = document_text(data)
    summary = dict((row[0], row[1]) for row in tables[0])
    assert summary["MEETING DATE"] == "Wednesday 7 April 2027" and summary["MEETING TIME"] == "10:00"
    assert summary["CHILD ID"] == "N146782, N146783"
    created = docx.Document(io.BytesIO(data)).core_properties.created
    assert created is not None and created.replace(tzinfo=UTC) == datetime(2027, 4, 7, 9, 0, tzinfo=UTC)


def test_the_document_properties_name_the_case_not_a_person() -> None:
    properties = docx.Document(io.BytesIO(minutes_document(SUMMER))).core_properties
    assert properties.title == "Strategy meeting action plan summary N146782, N146783"
    assert properties.author == "" and properties.last_modified_by == "" and properties.comments == ""


def test_the_file_name_has_the_n_numbers_and_the_date_only() -> None:
    assert minutes_filename(WINTER) == "strategy-meeting-N146782-2026-11-25.docx"
    assert minutes_filename(SUMMER) == "strategy-meeting-N146782-N146783-2027-04-07.docx"
    assert "Neil" not in minutes_filename(WINTER)
    odd = replace(WINTER, n_numbers=("N14/6782 ",), surname="../Bond")
    assert minutes_filename(odd) == "strategy-meeting-N146782-2026-11-25.docx"
