"""The minutes pack's second half (the action plan table, notes, agenda and guidance) is made once and copied.

Each document must still carry it whole, once, after its own case's part, and the same pack must
give the same document whatever was made before it.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace

import docx

from bot.mail.minutes_pack import ACTION_ROWS, AGENDA, minutes_document
from tests.service.test_minutes_pack import SUMMER, WINTER


def document_xml(data: bytes) -> bytes:
    return zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml")


def test_each_pack_carries_the_shared_half_once_after_its_own_case() -> None:
    first = minutes_document(WINTER)
    urgent = replace(SUMMER, urgent=True, presenting_issue="Burns seen at nursery.")
    for data in (minutes_document(urgent), minutes_document(WINTER), first):
        doc = docx.Document(io.BytesIO(data))
        headings = [p.text for p in doc.paragraphs if p.style is not None and p.style.name.startswith("Heading")]
        assert headings[1:4] == ["In attendance", "Presenting issue:", "Agreed action plan"]
        assert headings.count("Agreed action plan") == 1 and headings.count("Example action plan wording") == 1
        numbered = [p.text for p in doc.paragraphs if p.style is not None and p.style.name == "List Number"]
        assert numbered == list(AGENDA)
        assert len(doc.tables) == 4 and len(doc.tables[3].rows) == 1 + ACTION_ROWS  # the action plan
    assert document_xml(minutes_document(WINTER)) == document_xml(first)
    assert b"Burns seen at nursery." not in document_xml(first)
