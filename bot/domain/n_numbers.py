"""N numbers: the child's case reference, the only identifier the calendar and logs may carry."""

from __future__ import annotations

import re

# N, an optional space or hyphen, 5 to 8 digits, standing alone (not inside UN12345 or a
# longer number).
N_NUMBER = re.compile(r"(?<![A-Za-z0-9])[Nn][ \-]?(\d{5,8})(?!\d)")


def find_n_numbers(text: str) -> list[str]:
    """Every N number in ``text``, written ``N146782``, each once, in order of first appearance."""
    return list(dict.fromkeys(f"N{m.group(1)}" for m in N_NUMBER.finditer(text)))


def normalise_n_number(text: str) -> str | None:
    """``n 146782`` → ``N146782``; None when ``text`` is not exactly one N number."""
    match = N_NUMBER.fullmatch(text.strip())
    return f"N{match.group(1)}" if match else None
