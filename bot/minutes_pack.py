"""The minutes pack (domain.md §5): the county's action plan summary, filled in, as email and .docx."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from docx import Document

AGENDA = (
    "Introductions and apologies (if it is not quorate please state why)",
    "Reason for strategy discussion",
    "Summary of information from each agency, including history of involvement",
    "Assessment of the information: consider risks and vulnerabilities of each child",
    "Consider how the child's wishes and feelings are to be ascertained, for example if they need an interpreter "
    "or an advocate during interview, and where this might take place",
    "Consider the needs of other children in the family or other children who may be affected, for example other "
    "children the perpetrator might come into contact with or live with",
    "Actions to safeguard, including timescales; consider medical assessment and ABE interview if necessary; "
    "set a date if there needs to be a review",
    "Rationale for the decision, including if this is a joint or single S47 enquiry and who will undertake it",
)

# The county document's standard wording for the record, verbatim apart from typos.
PURPOSE = (
    "Working Together to Safeguard Children (March 2015) highlights the duty of the Local Authority to organise a "
    "strategy meeting involving children's social care (including the fostering service, if the child is looked "
    "after), the police, health and other bodies such as the referring agency 'whenever there is reasonable cause "
    "to suspect that a child is suffering, or is likely to suffer, significant harm'.",
    "Local authority children's social care has a duty to convene a strategy discussion to determine the child's "
    "welfare and plan future intervention. The discussion should be used to:",
)
PURPOSE_POINTS = (
    "share available information;",
    "agree the conduct and timing of any criminal investigation; and",
    "decide whether enquiries under section 47 of the Children Act 1989 should be undertaken.",
)
FOR_CONSIDERATION = (
    "Medicals: the need for a medical assessment must be considered, and for siblings too; record any decision.",
    "Agreeing who should be interviewed, by whom, for what purpose and when, in accordance with Achieving Best "
    "Evidence guidance.",
    "Deciding whether a single agency or a joint enquiry/investigation is required.",
    "Agreeing when the child will be seen alone by the lead social worker (unless that is inappropriate).",
)
EXAMPLE_ACTIONS = (
    "It is agreed for a joint/single section 47 enquiry to be initiated to ensure that appropriate and proportionate "
    "actions are taken by the multi-agency group to safeguard and promote the welfare of the child/ren.",
    "Child A to be seen alone (with consent) and spoken to by the social worker and police officer today (DATE) in "
    "order for their views to be obtained and inform future planning.",
    "Following consultation with the on-call community paediatrician (NAME) it is agreed that a child protection "
    "medical assessment is required and has been arranged for DATE.",
    "Consideration to be given to an Achieving Best Evidence interview with child A.",
    "Social worker / police to interview parents and/or caregivers on DATE.",
    "Section 47 Record Outcome to be completed by the social worker by day 3.",
    "Single assessment to be undertaken with the family as part of the current enquiry.",
    "All professionals involved with the child/family to contribute to the assessment.",
    "Genogram and chronology to be updated in Care Store by the transfer date.",
)
RECORD_NOTE = (
    "This summary is not a substitute for the full record of the strategy discussion or meeting, which must be "
    'circulated to all participants within one working day, and recorded as the "Record of Strategy Discussion" '
    "on Care First."
)
BLANK = "________________________"


@dataclass(frozen=True)
class MinutesPack:
    """What the bot knows for the action plan summary. Personal data: only in the email body and the document."""

    case_id: str
    n_numbers: tuple[str, ...]
    surname: str | None
    children: str | None
    address: str | None
    presenting_issue: str | None
    meeting_start: datetime
    venue: str
    attendees: tuple[tuple[str, str], ...]
    requester_name: str | None
    requester_role: str | None
    urgent: bool


def minutes_filename(pack: MinutesPack) -> str:
    """N numbers and the date only, never a name."""
    return f"strategy-meeting-{'-'.join(pack.n_numbers) or pack.case_id}-{pack.meeting_start:%Y-%m-%d}.docx"


def _summary_rows(pack: MinutesPack) -> list[tuple[str, str]]:
    name = pack.children or (f"{pack.surname} children" if pack.surname else "")
    return [
        ("Name", name or BLANK),
        ("Child ID", ", ".join(pack.n_numbers) or BLANK),
        ("Address", pack.address or BLANK),
        ("Date of birth", BLANK if not pack.children else "see names above"),
        ("Meeting date", f"{pack.meeting_start:%A} {pack.meeting_start.day} {pack.meeting_start:%B %Y}"),
        ("Meeting time", f"{pack.meeting_start:%H:%M}"),
        ("Meeting venue", pack.venue),
    ]


def minutes_context(pack: MinutesPack) -> dict[str, Any]:
    """The variables of the `minutes_template` email templates."""
    return {
        "meeting_start": pack.meeting_start,
        "summary_rows": _summary_rows(pack),
        "attendees": list(pack.attendees),
        "presenting_issue": pack.presenting_issue or "",
        "purpose": PURPOSE,
        "purpose_points": PURPOSE_POINTS,
        "example_actions": EXAMPLE_ACTIONS,
        "record_note": RECORD_NOTE,
        "urgent": pack.urgent,
    }


def minutes_document(pack: MinutesPack) -> bytes:
    """The action plan summary as a Word document a manager fills in and circulates."""
    doc = Document()
    doc.core_properties.title = f"Strategy meeting action plan summary {', '.join(pack.n_numbers)}"
    doc.core_properties.author = ""
    doc.add_heading(f"Strategy meeting action plan summary: {', '.join(pack.n_numbers)}", level=1)
    doc.add_paragraph("Agreed action plan in respect of:")
    summary = doc.add_table(rows=0, cols=2)
    summary.style = "Table Grid"
    for label, value in _summary_rows(pack):
        cells = summary.add_row().cells
        cells[0].text, cells[1].text = label, value

    doc.add_heading("In attendance", level=2)
    attendance = doc.add_table(rows=1, cols=3)
    attendance.style = "Table Grid"
    for cell, title in zip(attendance.rows[0].cells, ("Name", "Organisation", "Signature"), strict=True):
        cell.text = title
    for name, organisation in pack.attendees:
        cells = attendance.add_row().cells
        cells[0].text, cells[1].text = name, organisation
    for _ in range(max(0, 9 - len(pack.attendees))):
        attendance.add_row()

    doc.add_heading("Presenting issue", level=2)
    doc.add_paragraph(pack.presenting_issue or BLANK)

    doc.add_heading("Agreed action plan", level=2)
    actions = doc.add_table(rows=1, cols=3)
    actions.style = "Table Grid"
    for cell, title in zip(
        actions.rows[0].cells, ("Action (with timescale)", "Completion by", "Signature"), strict=True
    ):
        cell.text = title
    for _ in range(8):
        actions.add_row()

    doc.add_heading("Agenda", level=2)
    for item in AGENDA:
        doc.add_paragraph(item, style="List Number")

    doc.add_heading("Purpose (for 'Purpose of Assessment / Strategy / S47')", level=2)
    for paragraph in PURPOSE:
        doc.add_paragraph(paragraph)
    for point in PURPOSE_POINTS:
        doc.add_paragraph(point, style="List Bullet")

    doc.add_heading("For consideration", level=2)
    for point in FOR_CONSIDERATION:
        doc.add_paragraph(point, style="List Bullet")

    doc.add_heading("Example action plan wording", level=2)
    for point in EXAMPLE_ACTIONS:
        doc.add_paragraph(point, style="List Bullet")

    doc.add_paragraph(RECORD_NOTE)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
