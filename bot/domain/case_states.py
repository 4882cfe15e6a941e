"""Which case state may follow which: the life of a case as a small state machine."""

from __future__ import annotations

from bot.domain.model import CaseState

S = CaseState

# A standard case books once its details are complete; an urgent one waits for the police
# call-back (domain.md §4). Cancelling is possible until the discussion is held. A family that
# moves (§5, ``MOVED``) gets a new discussion whatever stage the case is at, so any open case
# may become booked, or need a person when no slot is free within the horizon. A standard
# request after emergency action with no rota slot in time (§3.4) waits for the police call as
# an urgent one does: it opens as booked, or completes from awaiting information. Any case
# closes once nothing is pending (§5 Closing a case), a cancelled one included.
TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    S.AWAITING_INFORMATION: frozenset({S.BOOKED, S.NEEDS_PERSON, S.CANCELLED, S.AWAITING_CONTACT, S.CLOSED}),
    S.BOOKED: frozenset({S.NEEDS_PERSON, S.HELD, S.CANCELLED, S.AWAITING_CONTACT, S.CLOSED}),
    S.NEEDS_PERSON: frozenset({S.BOOKED, S.CANCELLED, S.CLOSED}),
    S.AWAITING_CONTACT: frozenset({S.CONTACTED, S.HELD, S.CANCELLED, S.BOOKED, S.NEEDS_PERSON, S.CLOSED}),
    S.CONTACTED: frozenset({S.HELD, S.CANCELLED, S.BOOKED, S.NEEDS_PERSON, S.CLOSED}),
    S.HELD: frozenset({S.CLOSED, S.BOOKED, S.NEEDS_PERSON}),
    S.CANCELLED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}


class IllegalTransition(ValueError):
    """A case was asked to move to a state that cannot follow its current one."""


def can_move(current: CaseState, target: CaseState) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: CaseState, target: CaseState) -> None:
    """Raise ``IllegalTransition`` unless ``target`` may follow ``current``."""
    if not can_move(current, target):
        raise IllegalTransition(f"a case that is {current.value} cannot become {target.value}")
