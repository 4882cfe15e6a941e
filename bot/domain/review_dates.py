"""The date of ``REVIEW <date>`` (§5, §6): ``REVIEW 14/12``, ``REVIEW 14 Dec``, ``REVIEW 14/12/2026``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

# "14/12", "14/12/2026", "14.12.26", "14 Dec", "14 December 2026", "14th Dec".
_NUMERIC = re.compile(r"^(?P<day>\d{1,2})[/.-](?P<month>\d{1,2})(?:[/.-](?P<year>\d{2}|\d{4}))?\b")
_WORDS = re.compile(r"^(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?P<month>[A-Za-z]{3,9})\.?(?:\s+(?P<year>\d{4}))?\b")


@dataclass(frozen=True)
class ReviewDate:
    """The date as written: day and month, and the year when given."""

    day: int
    month: int
    year: int | None = None


def read_review_date(text: str) -> ReviewDate | None:
    """The date right after ``REVIEW``; None when there is none."""
    text = text.strip()
    numeric = _NUMERIC.match(text)
    if numeric is not None:
        month = int(numeric.group("month"))
        year_text = numeric.group("year")
    else:
        words = _WORDS.match(text)
        if words is None:
            return None
        name = words.group("month").lower()
        if name[:3] not in _MONTHS or not _full_month(name[:3]).startswith(name):
            return None
        month = _MONTHS.index(name[:3]) + 1
        year_text = words.group("year")
        numeric = words
    year = None if year_text is None else int(year_text) + (2000 if len(year_text) == 2 else 0)
    found = ReviewDate(int(numeric.group("day")), month, year)
    return found if _valid(found, year or 2028) else None  # 2028: a leap year, so 29/2 reads


def _full_month(short: str) -> str:
    return date(2000, _MONTHS.index(short) + 1, 1).strftime("%B").lower()


def _valid(review: ReviewDate, year: int) -> bool:
    try:
        date(year, review.month, review.day)
    except ValueError:
        return False
    return True


def review_day(review: ReviewDate, today: date) -> date | None:
    """The date meant: with a year, that date; without, the next such date on or after ``today``.
    None when it is before today, or 29 February in no year soon."""
    if review.year is not None:
        meant = date(review.year, review.month, review.day) if _valid(review, review.year) else None
        return meant if meant is not None and meant >= today else None
    for year in range(today.year, today.year + 8):
        if _valid(review, year) and date(year, review.month, review.day) >= today:
            return date(year, review.month, review.day)
    return None
