"""The minutes pack (domain.md §5): the county's action plan summary, filled in, as an email and a .docx."""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import docx
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_ROW_HEIGHT_RULE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm
from docx.table import Table

# The county's wording throughout, cleaned of typos only: the texts are copied into Care First.
AGENDA = (
    "Introductions and apologies (if it is not quorate please state why).",
    "Reason for strategy discussion.",
    "Summary of information from each agency, including history of involvement.",
    "Assessment of the information, consider risks and vulnerabilities of each child.",
    "Consider how the child’s wishes and feelings are to be ascertained. For example if they need an interpreter, "
    "or an advocate during interview and where this might take place.",
    "Consider the needs of other children in the family or other children who may be affected. For example, other "
    "children the perpetrator might come into contact with or live with.",
    "Actions to safeguard, including timescales, consider medical assessment and ABE interview if necessary. "
    "Date to be set if there needs to be a review.",
    "Rationale for the decision, including if this is joint or single s47 enquiry and detail who will undertake this.",
)

PURPOSE_INTRO = (
    "The paragraph below should be copied into ‘Purpose of Assessment / Strategy / S47’ in the strategy "
    "discussion document on Care First."
)
# Verbatim; only the quotation the county document opens and never closes is closed.
PURPOSE = (
    "Working Together to Safeguard Children (March 2015) highlights the duty of the Local authority to organise a "
    "strategy meeting involving children’s social care (including the fostering service, if the child is looked "
    "after), the police, health and other bodies such as the referring agency ‘whenever there is reasonable cause "
    "to suspect that a child is suffering, or is likely to suffer, significant harm’.",
    "Local authority children’s social care has a duty to convene a strategy discussion to determine the child’s "
    "welfare and plan future intervention. The discussion should be used to:",
)
PURPOSE_POINTS = (
    "share available information;",
    "agree the conduct and timing of any criminal investigation; and",
    "decide whether enquiries under section 47 of the Children Act 1989 should be undertaken.",
)

# (heading, paragraphs); the county document letters these A, A, B, C.
FOR_CONSIDERATION: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "A) Medicals",
        (
            "At the Strategy Discussion/Meeting, the need for a medical assessment must be considered. Where an "
            "assessment is required for any individual child, consideration should also be given to assessment of "
            "siblings. Any decisions made regarding medical assessments should be recorded.",
            "If the strategy discussion concludes that an assessment of suspected physical abuse or neglect is "
            "required, the paediatrician on call for the child protection medical assessment service should be "
            "consulted to agree the timing and arrangements for the assessment (including arrangements for "
            "obtaining informed consent).",
            "In the case of suspected sexual abuse, the guidance in the Northamptonshire SARC (Child Sexual Abuse "
            "Care Pathway), ensuring appropriate involvement in the discussion of the Police, Children’s Social "
            "Care, Forensic Physician and Paediatrician in planning the assessment, should be followed. If the "
            "paediatrician is not available at the time of the discussion, the Forensic Physician will contact the "
            "Paediatrician to share strategy discussion information and to plan the assessment.",
        ),
    ),
    (
        "B) Interviews",
        (
            "Agreeing who should be interviewed, by whom, for what purpose and when, and the need to carry out the "
            "interviews in accordance with Achieving Best Evidence guidance.",
        ),
    ),
    ("C) Single or joint enquiry", ("Deciding whether a single agency or a joint enquiry/investigation is required.",)),
    (
        "D) The child seen alone",
        (
            "Agreeing when the child will be seen alone by the Lead social worker (unless that is inappropriate for "
            "the child).",
        ),
    ),
)

EXAMPLE_ACTIONS = (
    "It is agreed for a Joint/Single section 47 enquiry to be initiated to ensure that appropriate and proportionate "
    "actions are taken by the multi-agency group to safeguard and promote the welfare of the child/ren.",
    "Child A to be seen alone (with consent) and spoken to by the Social Worker and Police officer today (INSERT "
    "DATE) in order for his/her views to be obtained and inform future planning; please assess Child A and "
    "siblings’ understanding of their situation, relationships and circumstances more broadly. Based on Child A and "
    "siblings’ age and level of understanding, ‘Strengthening Practice’ tools to be used (i.e. ‘three houses’). "
    "Note: particular factors such as the child’s race, ethnicity, language, disability or any other special needs "
    "should be taken into account and whether an interpreter will be required for the child and/or the family. "
    "(NB if the visit is not to take place on today’s date, give a reason why.)",
    "Following consultation with the On Call Community Paediatrician (NAME) it is agreed that a Child Protection "
    "Medical assessment is required and has been arranged for DATE. (Consideration to be given to logistics: who "
    "will take the child for their medical?)",
    "Consideration to be given to an Achieving Best Evidence interview being completed with Child A. If "
    "appropriate, follow the guidance set out in Achieving Best Evidence in Criminal Proceedings on interviewing "
    "victims and witnesses, and guidance on using special measures (Ministry of Justice, 2011).",
    "Social Worker / Police to interview parents and/or caregivers on DATE and determine the wider social and "
    "environmental factors that might have an impact on them and the child.",
    "Section 47 Record Outcome to be completed by the Social Worker by day 3.",
    "Single assessment to be undertaken with the family as part of the current enquiry and management oversight to "
    "be completed at appropriate checkpoints. The following Strengthening Practice tools to be used (EXAMPLES).",
    "All professionals involved with the child/family to contribute to the assessment and provide information about "
    "the child/family.",
    "Genogram to be updated and uploaded in Care Store by transfer date.",
    "Chronology to be updated and uploaded in Care Store by transfer date.",
    "ABE interview is not required because… Paediatric assessment is not required because…",
)
ADDITIONAL_ACTIONS = (
    "Arrangements to be made for the child to be seen and spoken to without the knowledge of the parent (ONLY ON "
    "JOINT INVESTIGATION).",
    "Professionals felt that consideration should be given to initiating a Child Protection Conference and the "
    "Social Worker should complete the ‘conference convening request’ by DATE.",
    "Any immediate action required, i.e. parent to move out of the family home; parent and children moving to an "
    "alternative address etc. Immediate safeguards for that evening.",
    "Legal advice to be sought DATE to ensure the Local Authority’s legal options are explored in order to "
    "safeguard the child.",
    "In cases where information indicates a history of violence and threatening behaviour by the parents towards "
    "professionals, considering the risks to the child/children and to staff, determining a strategy for managing "
    "the risk and agreeing joint action as appropriate.",
)
MEDICAL_NB = (
    "NB: when a decision is made for a medical assessment not to be pursued, this needs to be evidenced and "
    "reflective of the medical advice given, i.e. “Following consultation with the On Call Community Paediatrician "
    "(NAME) it is agreed that a Child Protection Medical assessment is not required due to EXPLANATION (historic "
    "abuse etc.).”"
)

RECORD_NOTE = (
    "Following any strategy discussion or meeting, a list of action points, timescales, agreed roles and "
    "responsibilities and an agreed mechanism for reviewing completion of the action points must be recorded using "
    "the “Record of Strategy Discussion” on Care First (LSCBN procedures). This summary is not a substitute for the "
    "full record of the strategy discussion or meeting, which must be circulated to all participants within one "
    "working day."
)
COPY_NOTE = (
    "This document is to be used to summarise actions agreed from strategy meetings. A copy should be provided to "
    "all participating agencies at the conclusion of the meeting, and retained in agency records."
)

ATTENDANCE_HEADERS = ("Name", "Organisation", "Signature")
ACTION_HEADERS = ("Action (with timescale)", "Completion by", "Signature")
# The county form's own sizes: nine attendance rows and eight actions.
ATTENDANCE_ROWS = 9
ACTION_ROWS = 8

# Dates of birth as managers write them: 03/04/2016, 3.4.16, 2016-04-03, 3rd April 2016.
_DATE = re.compile(
    r"\b(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}-\d{2}"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?\s+\d{4})\b",
    re.IGNORECASE,
)
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9]+")


@dataclass(frozen=True)
class MinutesPack:
    """What the bot knows for the action plan summary. Personal data: only in the email body and the document."""

    case_id: str
    n_numbers: tuple[str, ...]
    surname: str | None
    children: str | None  # names and dates of birth, free text as the manager wrote it
    address: str | None
    presenting_issue: str | None
    meeting_start: datetime  # aware, Europe/London
    venue: str
    attendees: tuple[tuple[str, str], ...]  # (name or email, organisation)
    requester_name: str | None
    requester_role: str | None
    urgent: bool


def _longdate(value: datetime) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}"


def _child_ids(pack: MinutesPack) -> str:
    return ", ".join(pack.n_numbers)


def _name(pack: MinutesPack) -> str:
    if pack.children:
        return " ".join(pack.children.split())
    return f"{pack.surname} children" if pack.surname else ""


def _dates_of_birth(pack: MinutesPack) -> str:
    return ", ".join(_DATE.findall(pack.children or ""))


def _summary_rows(pack: MinutesPack) -> list[tuple[str, str]]:
    """The 'Agreed action plan in respect of' fields as (label, value); "" where the manager fills it in."""
    return [
        ("Name", _name(pack)),
        ("Child ID", _child_ids(pack)),
        ("Address", " ".join((pack.address or "").split())),
        ("DOB", _dates_of_birth(pack)),
        ("Meeting date", _longdate(pack.meeting_start)),
        ("Meeting time", f"{pack.meeting_start:%H:%M}"),
        ("Meeting venue", pack.venue),
    ]


def _attendance(pack: MinutesPack) -> list[tuple[str, str]]:
    rows = [(name, organisation) for name, organisation in pack.attendees]
    return rows + [("", "")] * max(0, ATTENDANCE_ROWS - len(rows))


def _requested_by(pack: MinutesPack) -> str:
    if not pack.requester_name:
        return ""
    return f"{pack.requester_name}, {pack.requester_role}" if pack.requester_role else pack.requester_name


def minutes_filename(pack: MinutesPack) -> str:
    """N numbers and the meeting date only, never a name: attachment names show in every mail log."""
    ids = "-".join(part for n in pack.n_numbers if (part := _UNSAFE_IN_FILENAME.sub("", n)))
    return f"strategy-meeting-{ids or _UNSAFE_IN_FILENAME.sub('', pack.case_id)}-{pack.meeting_start:%Y-%m-%d}.docx"


def minutes_context(pack: MinutesPack) -> dict[str, Any]:
    """The variables of the `minutes_template` email templates, on top of the service's common context."""
    attendance = _attendance(pack)
    return {
        "meeting_start": pack.meeting_start,
        "venue": pack.venue,
        "surname": pack.surname or "",
        "urgent": pack.urgent,
        "summary_rows": _summary_rows(pack),
        "attendance": attendance,
        # Plain-text columns line up on the longest entry; underscores fill the blank rows to that width.
        "name_width": max(24, *(len(name) for name, _ in attendance)),
        "organisation_width": max(18, *(len(organisation) for _, organisation in attendance)),
        "action_rows": ACTION_ROWS,
        "presenting_issue": " ".join((pack.presenting_issue or "").split()),
        "purpose_intro": PURPOSE_INTRO,
        "purpose": PURPOSE,
        "purpose_points": PURPOSE_POINTS,
        "example_actions": EXAMPLE_ACTIONS,
        "additional_actions": ADDITIONAL_ACTIONS,
        "medical_nb": MEDICAL_NB,
        "record_note": RECORD_NOTE,
        "document_filename": minutes_filename(pack),
    }


def _header_row(table: Table, titles: tuple[str, ...]) -> None:
    row = table.rows[0]
    for cell, title in zip(row.cells, titles, strict=True):
        cell.paragraphs[0].add_run(title).bold = True
    # Repeat the column titles when the table runs onto a second page.
    marker = OxmlElement("w:tblHeader")
    marker.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(marker)


def _fillable_table(doc: DocxDocument, titles: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    table = doc.add_table(rows=1, cols=len(titles))
    table.style = "Table Grid"
    _header_row(table, titles)
    for values in rows:
        row = table.add_row()
        # Room to type or sign in an empty row; the empty cell itself shows what is left to fill.
        row.height = Cm(0.9)
        row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
        for cell, value in zip(row.cells, values, strict=False):
            cell.text = value


def _british_a4(doc: DocxDocument) -> None:
    """python-docx's blank template is US Letter, US English: the county prints A4 and spells in British."""
    for section in doc.sections:
        section.page_width, section.page_height = Cm(21), Cm(29.7)
        section.left_margin = section.right_margin = Cm(2)
        section.top_margin = section.bottom_margin = Cm(2)
    for lang in doc.styles.element.iter(qn("w:lang")):
        lang.set(qn("w:val"), "en-GB")


@cache
def _template() -> bytes:
    """python-docx's blank document, read from its package once rather than for every minutes pack."""
    return (Path(docx.__file__).parent / "templates" / "default.docx").read_bytes()


def minutes_document(pack: MinutesPack) -> bytes:
    """The action plan summary as a Word document the manager fills in and circulates."""
    doc = Document(io.BytesIO(_template()))
    _british_a4(doc)
    ids = _child_ids(pack)
    props = doc.core_properties
    props.title = f"Strategy meeting action plan summary {ids}".strip()
    # No one's name in the metadata, and none of the template's own.
    props.author = props.last_modified_by = props.comments = ""
    props.subject = props.keywords = props.category = ""
    # The meeting time, not the clock: the same case gives the same document, and no stale 2013 date.
    stamp = pack.meeting_start.astimezone(UTC).replace(tzinfo=None)
    props.created = props.modified = stamp
    props.revision = 1

    doc.add_heading(f"Strategy meeting action plan summary {ids}".strip(), level=1)
    if pack.urgent:
        doc.add_paragraph().add_run("URGENT S47 ENQUIRY").bold = True
    if requested_by := _requested_by(pack):
        doc.add_paragraph(f"Requested by: {requested_by}")

    doc.add_paragraph().add_run("Agreed action plan in respect of:").bold = True
    summary = doc.add_table(rows=0, cols=2)
    summary.style = "Table Grid"
    for label, value in _summary_rows(pack):
        row = summary.add_row()
        row.height = Cm(0.8)
        row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
        row.cells[0].paragraphs[0].add_run(label.upper()).bold = True
        row.cells[1].text = value
        row.cells[0].width, row.cells[1].width = Cm(4), Cm(13)

    doc.add_heading("In attendance", level=2)
    _fillable_table(doc, ATTENDANCE_HEADERS, _attendance(pack))

    doc.add_heading("Presenting issue:", level=2)
    issue = doc.add_table(rows=1, cols=1)
    issue.style = "Table Grid"
    issue.rows[0].height = Cm(3)
    issue.rows[0].height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
    issue.cell(0, 0).text = " ".join((pack.presenting_issue or "").split())

    # The rest is the same in every pack: made once and copied in, each document its own copy
    # (python-docx finds each paragraph's style by name through every style: half a pack's CPU).
    for element in _fixed_tail():
        doc.element.body.sectPr.addprevious(copy.deepcopy(element))
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


@cache
def _fixed_tail() -> tuple[Any, ...]:
    """The pack from "Agreed action plan" on, as the body elements python-docx writes for it."""
    doc = Document(io.BytesIO(_template()))
    _british_a4(doc)  # a table's column widths follow the page's
    doc.add_heading("Agreed action plan", level=2)
    _fillable_table(doc, ACTION_HEADERS, [("", "", "")] * ACTION_ROWS)

    doc.add_heading("Notes", level=2)
    doc.add_paragraph(RECORD_NOTE)
    doc.add_paragraph(COPY_NOTE)

    doc.add_heading("Agenda for strategy discussions", level=2)
    for item in AGENDA:
        doc.add_paragraph(item, style="List Number")

    doc.add_heading("Recording strategy discussions", level=2)
    doc.add_heading("1) Purpose", level=3)
    doc.add_paragraph(PURPOSE_INTRO).runs[0].italic = True
    for paragraph in PURPOSE:
        doc.add_paragraph(paragraph)
    for point in PURPOSE_POINTS:
        doc.add_paragraph(point, style="List Bullet")

    doc.add_heading("2) For consideration", level=3)
    for heading, paragraphs in FOR_CONSIDERATION:
        doc.add_paragraph().add_run(heading).bold = True
        for paragraph in paragraphs:
            doc.add_paragraph(paragraph)

    doc.add_heading("Example action plan wording", level=3)
    for action in EXAMPLE_ACTIONS:
        doc.add_paragraph(action, style="List Bullet")
    doc.add_paragraph().add_run("Additional actions to consider:").bold = True
    for action in ADDITIONAL_ACTIONS:
        doc.add_paragraph(action, style="List Bullet")
    doc.add_paragraph(MEDICAL_NB)
    return tuple(element for element in doc.element.body if element.tag != qn("w:sectPr"))
