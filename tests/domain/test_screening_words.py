"""Urgent screening looks for each pattern's words before trying it: every way of writing a criterion still counts.

``screen_urgent_indicators`` rules a criterion out when the lower-cased text lacks all the
words one of its patterns needs (issue 18). These are one sentence per alternative of every
pattern, as written, in capitals, and with the characters outside ASCII that a
case-insensitive pattern reads as ASCII letters (İ ı ſ and the Kelvin sign): each must still
be screened as its criterion.
"""

from __future__ import annotations

import pytest

from bot.domain.urgent_screening import screen_urgent_indicators

WRITTEN = [
    ("sexual_abuse", "She says she was sexually abused by him."),
    ("sexual_abuse", "An allegation that she was raped."),
    ("sexual_abuse", "Disclosed a sexual assault at the party."),
    ("sexual_abuse", "Police report an indecent assault."),
    ("sexual_abuse", "Evidence of penetration."),
    ("non_mobile_injury", "A non-mobile child with bruising to the cheek."),
    ("non_mobile_injury", "A 6 week old with a burn on the hand."),
    ("non_mobile_injury", "The infant has a fracture."),
    ("non_mobile_injury", "The newborn was bleeding from the mouth."),
    ("non_mobile_injury", "A new-born with swelling on the head."),
    ("non_mobile_injury", "The baby was hurt."),
    ("non_mobile_injury", "A 3-month-old with bite marks."),
    ("non_mobile_injury", "The baby has marks on her legs."),
    ("serious_physical_injury", "He suffered a serious physical injury."),
    ("serious_physical_injury", "Serious injuries to the face."),
    ("serious_physical_injury", "Her wrist is fractured."),
    ("serious_physical_injury", "A broken arm, unexplained."),
    ("serious_physical_injury", "A head injury at home."),
    ("serious_physical_injury", "X-ray of the skull taken."),
    ("serious_physical_injury", "He was hospitalised overnight."),
    ("serious_physical_injury", "She was admitted to hospital."),
    ("sadistic", "Treatment described as sadistic."),
    ("sadistic", "A brutal beating."),
    ("sadistic", "The boy was tortured."),
    ("dv_child_injured", "Domestic violence last night; the child was injured."),
    ("dv_child_injured", "A DV incident in which her son was bruised."),
    ("dv_child_injured", "DA incident: the daughter was hurt."),
    ("home_alone", "The children were home alone."),
    ("home_alone", "She was left alone overnight."),
    ("home_alone", "They were left at home unsupervised."),
    ("home_alone", "The twins were left on their own."),
    ("home_alone", "Found alone at home by police."),
    ("dv_pregnancy", "Mother is pregnant; a domestic abuse incident last night."),
    ("dv_pregnancy", "She is pregnant and was assaulted."),
    ("dv_pregnancy", "He hit her while she was pregnant."),
    ("dv_pregnancy", "Pregnant mother punched in the stomach."),
    ("dv_pregnancy", "In her pregnancy she was kicked."),
    ("dv_pregnancy", "Pregnant and slapped by her partner."),
    ("dv_pregnancy", "She was struck, and she is pregnant."),
    ("dv_pregnancy", "Pregnancy; he strangled her."),
    ("missing_child", "She has been missing for 30 hours."),
    ("missing_child", "There have been five missing episodes this month."),
    ("missing_child", "He has gone missing 4 times in the last 90 days."),
    ("sexual_exploitation", "We believe she is being sexually exploited."),
    ("sexual_exploitation", "She is exploited sexually by older men."),
    ("sexual_exploitation", "Concerns of CSE from the youth club."),
    ("sexual_exploitation", "She is being groomed online."),
]


@pytest.mark.parametrize(("code", "sentence"), WRITTEN)
def test_each_way_of_writing_a_criterion_is_screened(code: str, sentence: str) -> None:
    assert code in screen_urgent_indicators(sentence)
    assert code in screen_urgent_indicators(sentence.upper())
    assert code in screen_urgent_indicators("Concerns raised by school.\n\n" + sentence + "\nNo other agency.")


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("sexual_abuse", "An allegation of \u017fexual abuse."),  # long s
        ("non_mobile_injury", "The baby has an \u0130NJURY to the head."),  # I with a dot above
        ("non_mobile_injury", "The baby has an \u0131njury to the head."),  # dotless i
        ("dv_pregnancy", "Pregnant and \u212aICKED by her partner."),  # Kelvin sign
        ("missing_child", "She has been mi\u017f\u017fing for 30 hours."),
        ("sexual_exploitation", "Concerns of C\u017fE from the youth club."),
    ],
)
def test_letters_read_as_ascii_by_the_patterns_are_screened(code: str, text: str) -> None:
    assert screen_urgent_indicators(text) == [code]


def test_a_text_with_none_of_the_words_is_screened_as_nothing() -> None:
    assert screen_urgent_indicators("Concerns raised by school about neglect.\nRole: Team Manager") == []
