"""Reading two of the county's urgent criteria as people write them (domain.md §1).

"Children missing for over 24 hours or more than three times in 90 days" arrives as "missing
from home for over 24 hours", "missing five times in two months", "has gone missing 4 times in
the last 90 days"; "children who have been sexually exploited" as "CSE", "being exploited
sexually". A sentence is read word by word after each mention, so that how long and how
often can be told apart from the period they are counted over.
"""

from __future__ import annotations

import re

_NUMBER_WORDS: dict[str, int] = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    # Counted loosely: they say it has happened often, which is the criterion's point.
    "several": 3,
    "numerous": 4,
    "multiple": 3,
    "many": 4,
    "repeated": 3,
    # "for the fifth time" counts the episodes too.
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}
_ONCE_TWICE = {"once": 1, "twice": 2, "thrice": 3}
# Hours in one of each unit of time.
_HOURS_IN = {"hour": 1, "hr": 1, "day": 24, "night": 24, "week": 168, "month": 720}
_EPISODES = ("time", "occasion", "episode", "incident", "report", "occurrence")
# Words after which a length of time is the period episodes are counted over, not how long.
_PERIOD_WORDS = {"in", "within", "during", "last", "past", "previous", "since", "this", "these", "the"}
_NEGATIONS = {"not", "never", "no", "nor", "neither", "without", "denies", "denied"}
# Missing school, lessons or appointments is not a missing child.
_NOT_A_CHILD = re.compile(
    r"^\s+(?:from\s+|out\s+on\s+|a\s+lot\s+of\s+|some\s+|much\s+)?(?:school|education|lessons?|class(?:es)?|college|"
    r"nursery|appointments?|medication|meals?|work|the\s+bus)\b",
    re.I,
)
_MISSING = re.compile(r"\bmissing\b", re.I)
_WORD = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:['’-][a-z]+)*", re.I)
_CLAUSE_BREAK = re.compile(r"[;:,()]")
_HOURS_BEFORE = 2  # "twenty four" and "24 +" are one number; the unit follows within two words
_LOOK_AHEAD = 12  # words after "missing" read for how long or how often
_LOOK_BEHIND = 3  # words before "missing" read for a negation
_DURATION_HOURS = 24
_MORE_THAN_TIMES = 3  # "more than three times"; three is read as meeting it, a person decides


def _number(word: str) -> int | None:
    word = word.lower()
    if word.replace(".", "", 1).isdigit():
        return int(float(word))
    return _NUMBER_WORDS.get(word)


def _unit(word: str) -> tuple[str, str] | None:
    """('hours', 'day') for 'days', ('episodes', 'time') for 'times'; None for other words."""
    stem = word.lower().rstrip("s") if len(word) > 3 else word.lower()
    if stem in ("hrs", "hr", "hour"):
        return "hours", "hour"
    if stem in _HOURS_IN:
        return "hours", stem
    if stem in _EPISODES:
        return "episodes", stem
    return None


def _negated(before: str) -> bool:
    clause = _CLAUSE_BREAK.split(before)[-1]
    words = [w.lower() for w in _WORD.findall(clause)][-_LOOK_BEHIND:]
    return any(w in _NEGATIONS or w.endswith(("n't", "n’t")) for w in words)


def _compound(words: list[str], i: int) -> tuple[int | None, int]:
    """The number starting at ``words[i]`` and the index after it: "twenty four", "twenty-four", "24"."""
    first = words[i].lower()
    if "-" in first:
        parts = [_number(p) for p in first.split("-")]
        if all(p is not None for p in parts):
            return sum(p for p in parts if p is not None), i + 1
    value = _number(first)
    if value is None:
        return None, i + 1
    if value >= 20 and i + 1 < len(words):
        ones = _number(words[i + 1])
        if ones is not None and ones < 10 and not words[i + 1].isdigit():
            return value + ones, i + 2
    return value, i + 1


def _after_missing(words: list[str]) -> bool:
    """How long or how often, in the words after a mention of "missing"."""
    i = 0
    while i < len(words):
        word = words[i].lower()
        if word in _ONCE_TWICE:
            return _ONCE_TWICE[word] >= _MORE_THAN_TIMES
        value, after = _compound(words, i)
        if value is None:
            i += 1
            continue
        found = next(((k, u) for k, w in enumerate(words[after : after + _HOURS_BEFORE]) if (u := _unit(w))), None)
        if found is None:
            i = after
            continue
        at, (kind, name) = found
        if kind == "episodes":
            return value >= _MORE_THAN_TIMES
        following = words[after + at + 1].lower() if after + at + 1 < len(words) else ""
        # "a week ago" says when, and "in the last 90 days" over what period, not how long.
        period = (i > 0 and words[i - 1].lower() in _PERIOD_WORDS) or following == "ago"
        if not period and value * _HOURS_IN[name] >= _DURATION_HOURS:
            return True
        i = after
    return False


_EPISODES_BEFORE = re.compile(
    r"\b(\d+|[a-z]+)\s+(?:separate\s+|different\s+|recent\s+|reported\s+)?missing\s+(?:from\s+home\s+|person\s+)?"
    r"(?:episodes?|incidents?|reports?|occasions?)\b",
    re.I,
)


def mentions_missing_child(sentence: str) -> bool:
    """A child missing for 24 hours or more, or three or more times: "missing for 30 hours", "five missing episodes"."""
    for match in _EPISODES_BEFORE.finditer(sentence):
        value = _number(match.group(1))
        if value is not None and value >= _MORE_THAN_TIMES:
            return True
    for match in _MISSING.finditer(sentence):
        before, after = sentence[: match.start()], sentence[match.end() :]
        if _negated(before) or _NOT_A_CHILD.match(after):
            continue
        if _after_missing(_WORD.findall(after)[:_LOOK_AHEAD]):
            return True
        # "has gone missing again, for the fifth time" and "repeatedly missing" say how often.
        if re.search(r"\brepeated(?:ly)?\s+(?:gone\s+|going\s+|been\s+|went\s+)?$", before, re.I):
            return True
    return False


_EXPLOITATION = re.compile(
    r"\bsexual(?:ly)?\s+exploit\w*|\bexploit\w*\s+(?:\w+\s+)?sexually\b|\bCSE\b|\bgroom(?:ed|ing)\b", re.I
)


def mentions_sexual_exploitation(sentence: str) -> bool:
    """A child sexually exploited, however it is put; not "no concerns of CSE" or "not sexually exploited"."""
    for match in _EXPLOITATION.finditer(sentence):
        before = sentence[: match.start()]
        if not _negated(before) and not re.search(r"\bno\s+(?:\w+\s+){0,3}$", before, re.I):
            return True
    return False
