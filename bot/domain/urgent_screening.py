"""Urgent-threshold screening of a STANDARD request's text (domain.md §1, the county's list)."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.domain.screening_phrases import mentions_missing_child, mentions_sexual_exploitation

# The county document's wording of each circumstance meeting the URGENT threshold.
URGENT_CRITERIA: dict[str, str] = {
    "sexual_abuse": "a clear allegation of sexual abuse",
    "non_mobile_injury": "any injury to a non-mobile baby or child",
    "serious_physical_injury": "alleged or suspected serious physical injury to a child",
    "sadistic": "injury or treatment that is sadistic or brutal",
    "dv_child_injured": "domestic violence where the child has been injured, even if inadvertently",
    "home_alone": "children home alone",
    "dv_pregnancy": "domestic violence during pregnancy (physical assault to mother)",
    "missing_child": "children missing for over 24 hours or more than three times in 90 days",
    "sexual_exploitation": "children who have been sexually exploited",
}

_INJURY = r"(?:injur\w*|bruis\w*|fractur\w*|broken|burn\w*|bite\s+marks?|marks?\s+on|bleed\w*|swelling|hurt)"
_DV = r"(?:domestic\s+(?:violence|abuse|incident)|\bDV\b|DA\s+incident)"

# Each criterion: every pattern in the tuple must match the same sentence.
_PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    "sexual_abuse": (
        re.compile(
            r"sexual(?:ly)?\s+abus\w*|\brap(?:e|ed)\b|sexual(?:ly)?\s+assault\w*|indecent\s+assault|penetrat\w*", re.I
        ),
    ),
    "non_mobile_injury": (
        re.compile(r"non[\s-]?mobile|\b(?:baby|infant|newborn|new-born|\d+[\s-]?(?:week|month)s?[\s-]old)\b", re.I),
        re.compile(_INJURY, re.I),
    ),
    "serious_physical_injury": (
        re.compile(
            r"serious\s+(?:physical\s+)?injur\w*|fractur\w*|broken\s+(?:arm|leg|bone|rib|wrist|nose|jaw)\w*|"
            r"head\s+injur\w*|skull|hospitali[sz]ed|admitted\s+to\s+hospital",
            re.I,
        ),
    ),
    "sadistic": (re.compile(r"sadistic\w*|brutal\w*|tortur\w*", re.I),),
    "dv_child_injured": (
        re.compile(_DV, re.I),
        re.compile(
            rf"\b(?:child|son|daughter|baby|boy|girl)\w*\b.*{_INJURY}|{_INJURY}.*\b(?:child|son|daughter|baby|boy|girl)",
            re.I,
        ),
    ),
    "home_alone": (
        re.compile(
            r"home\s+alone|left\s+(?:at\s+home\s+)?(?:alone|unsupervised|on\s+(?:their|his|her)\s+own)|alone\s+at\s+home",
            re.I,
        ),
    ),
    "dv_pregnancy": (
        re.compile(r"pregnan\w*", re.I),
        re.compile(rf"{_DV}|assault\w*|\b(?:hit|punch\w*|kick\w*|slapp\w*|struck|strangl\w*)\b", re.I),
    ),
}

# For each pattern above, in order, words (lower case) one of which every match of it holds:
# the words of each alternative that it cannot match without. Looking for them with ``in`` is
# much cheaper than the search, which tries the pattern at every character.
_INJURY_WORDS = ("injur", "bruis", "fractur", "broken", "burn", "bite", "mark", "bleed", "swelling", "hurt")
_DV_WORDS = ("domestic", "dv", "incident")
_WORDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "sexual_abuse": (("sexual", "rap", "indecent", "penetrat"),),
    "non_mobile_injury": (("mobile", "baby", "infant", "newborn", "new-born", "old"), _INJURY_WORDS),
    "serious_physical_injury": (("injur", "fractur", "broken", "skull", "hospitali", "admitted"),),
    "sadistic": (("sadistic", "brutal", "tortur"),),
    "dv_child_injured": (_DV_WORDS, _INJURY_WORDS),
    "home_alone": (("alone", "left"),),
    "dv_pregnancy": (
        ("pregnan",),
        (*_DV_WORDS, "assault", "hit", "punch", "kick", "slapp", "struck", "strangl"),
    ),
    # The phrase readers answer yes only on a match of their own patterns, each of which holds
    # "missing" (_EPISODES_BEFORE, _MISSING), or "exploit", "CSE" or "groom" (_EXPLOITATION):
    # a reader taught another word needs it here too (tests/domain/test_reading.py asks
    # screen_urgent_indicators, so a new wording it tests fails until it is added).
    "missing_child": (("missing",),),
    "sexual_exploitation": (("exploit", "cse", "groom"),),
}
# The only characters outside ASCII that re.IGNORECASE matches to an ASCII letter (İ ı ſ and
# the Kelvin sign; found by trying every code point): in a text without them, a match of a
# pattern's word is that word in the lower-cased text.
_FOLDS_TO_ASCII = frozenset("\u0130\u0131\u017f\u212a")

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*[-*•])")


def _all_of(patterns: tuple[re.Pattern[str], ...]) -> Callable[[str], bool]:
    return lambda sentence: all(p.search(sentence) for p in patterns)


# Missing children and sexual exploitation are written too many ways for one pattern: how
# long, how often, and "not missing" or "missed school" are read in bot.domain.screening_phrases.
_CHECKS: dict[str, Callable[[str], bool]] = {
    **{code: _all_of(patterns) for code, patterns in _PATTERNS.items()},
    "missing_child": mentions_missing_child,
    "sexual_exploitation": mentions_sexual_exploitation,
}


def _in_text(code: str, text: str) -> bool:
    """Whether each of the criterion's patterns occurs somewhere in the whole text (always, for the phrase readers).

    A criterion whose patterns do not all occur in the text cannot be met by one of its
    sentences: a sentence is a piece of the text with whitespace on either side, and the
    patterns look at nothing around a match but word boundaries, which whitespace keeps. So
    one search of the text each rules most criteria out without trying every sentence.
    """
    return all(pattern.search(text) for pattern in _PATTERNS.get(code, ()))


def _words_in(code: str, lowered: str | None) -> bool:
    """False when the lower-cased text lacks every word of one of the criterion's patterns (None: not known)."""
    if lowered is None:
        return True
    return all(any(word in lowered for word in words) for words in _WORDS.get(code, ()))


def screen_urgent_indicators(text: str) -> list[str]:
    """The criteria the text seems to describe, in the county's order. A person decides (§1)."""
    sentences = [s for s in _SENTENCE.split(text) if s.strip()]
    lowered = None if not text.isascii() and _FOLDS_TO_ASCII.intersection(text) else text.lower()
    return [
        code
        for code in URGENT_CRITERIA
        if _words_in(code, lowered) and _in_text(code, text) and any(_CHECKS[code](s) for s in sentences)
    ]
