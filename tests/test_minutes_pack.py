"""The minutes pack: the document opens, carries the case's N number and meeting time, and no name in its file name."""

from __future__ import annotations

import io
import zipfile

import docx
from requests_mail import london

from bot.mail_rendering import MailRenderer
from bot.minutes_pack import MinutesPack, minutes_context, minutes_document, minutes_filename

PACK = MinutesPack(
    case_id="SD000001",
    n_numbers=("N146782", "N146783"),
    surname="O'Neil <b>",
    children="James O'Neil (03/04/2016)",
    address="7 Orchard Close",
    presenting_issue="Concerns raised by the school.",
    meeting_start=london("2026-11-25 10:00"),
    venue="Conference call",
    attendees=(("alex.morgan@council.example", "council.example"), ("nurse@nhs.example", "nhs.example")),
    requester_name="Alex Morgan",
    requester_role="Team Manager",
    urgent=False,
)


def test_the_document_opens_and_carries_the_case() -> None:
    data = minutes_document(PACK)
    assert {"word/document.xml", "[Content_Types].xml"} <= set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    document = docx.Document(io.BytesIO(data))
    text = "\n".join(p.text for p in document.paragraphs)
    cells = [[cell.text for cell in row.cells] for table in document.tables for row in table.rows]
    flat = "\n".join(" | ".join(row) for row in cells)
    assert "N146782, N146783" in text and "N146782, N146783" in flat
    assert "Wednesday 25 November 2026" in flat and "10:00" in flat
    assert ["Name", "Organisation", "Signature"] in cells
    assert ["Action (with timescale)", "Completion by", "Signature"] in cells
    assert ["nurse@nhs.example", "nhs.example", ""] in cells
    assert "within one working day" in text and "None" not in text + flat
    assert document.core_properties.title == "Strategy meeting action plan summary N146782, N146783"


def test_the_file_name_has_n_numbers_and_the_date_only() -> None:
    assert minutes_filename(PACK) == "strategy-meeting-N146782-N146783-2026-11-25.docx"


def test_the_email_shows_the_summary_and_escapes_names() -> None:
    from bot.domain.model import Requester

    context = {
        "bot_name": "bot",
        "referral_unit_name": "PVP Referral Unit",
        "referral_unit": "referrals@police.example",
        "case_id": "SD000001",
        "n_numbers": list(PACK.n_numbers),
        "meeting_name": "N146782, N146783",
        "requester": Requester("Alex Morgan", "Team Manager", "01632 960123", "alex.morgan@council.example"),
        **minutes_context(PACK),
    }
    mail = MailRenderer().render("minutes_template", context)
    assert mail.subject == "Minutes template: strategy discussion N146782, N146783, Wed 25 Nov 10:00"
    assert "Introductions and apologies" in mail.text and "Wednesday 25 November 2026" in mail.text
    assert "Working Together to Safeguard Children" in mail.text and "within one working day" in mail.text
    assert "James O&#39;Neil" in mail.html or "James O&#x27;Neil" in mail.html
