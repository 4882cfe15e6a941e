"""N numbers: the child's case reference, the only identifier the calendar and logs may carry."""

from __future__ import annotations

import re

# N, an optional space or hyphen, 5 to 8 ASCII digits, standing alone: not inside UN12345,
# N1234567890 or N146782a. Word processors turn spaces into no-break spaces and hyphens into
# Unicode hyphens, so those count too. Digits are [0-9], not \d, so that the result is always
# the ASCII form the calendar and the logs carry.
N_NUMBER = re.compile(r"(?<!\w)[Nn][ \u00a0\-\u2010\u2011]?([0-9]{5,8})(?!\w)")


def find_n_numbers(text: str) -> list[str]:
    """Every N number in ``text``, written ``N146782``, each once, in order of first appearance.

    domain.md "Words": ``n146782``, ``N 146782`` and ``N-146782`` are all ``N146782``.
    """
    return list(dict.fromkeys(f"N{match.group(1)}" for match in N_NUMBER.finditer(text)))


def normalise_n_number(text: str) -> str | None:
    """``n 146782`` → ``N146782``; None when ``text`` is not exactly one N number (domain.md "Words")."""
    match = N_NUMBER.fullmatch(text.strip())
    return f"N{match.group(1)}" if match else None
