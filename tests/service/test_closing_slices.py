"""The hourly closing check a slice per round (issue 18): many open cases never hold a round up, none is missed."""

from __future__ import annotations

from datetime import timedelta

from bot.daemon import CLOSE_SLICE, Daemon
from bot.domain.model import CaseState, Kind, RequestDetails
from bot.wiring import Bot
from tests.support.requests_mail import StepClock, london

MONDAY = london("2026-11-23 09:00")


def _states(bot: Bot) -> dict[str, str]:
    with bot.store.transaction() as tx:
        ids = [f"SD{n:06d}" for n in range(1, 2 * CLOSE_SLICE + 6)]
        return {i: case.state.value for i in ids if (case := tx.case(i)) is not None}


def test_the_hourly_check_closes_every_cancelled_case_a_slice_per_round(bot: Bot) -> None:
    count = 2 * CLOSE_SLICE + 5
    with bot.store.transaction() as tx:
        for n in range(count):
            details = RequestDetails(n_numbers=(f"N{400000 + n}",))
            case = tx.add_case(Kind.STANDARD, CaseState.CANCELLED, details, f"<c{n}@council.example>", MONDAY, MONDAY)
            tx.add_history(case.case_id, MONDAY, "bot", "cancelled", "by the manager")
    clock = StepClock(MONDAY + timedelta(hours=1))
    daemon = Daemon(bot, clock)
    closed_after = []
    for minute in range(5):
        clock.at = MONDAY + timedelta(hours=1, minutes=minute)
        daemon.round()
        closed_after.append(sum(state == "closed" for state in _states(bot).values()))
    # 20, then 40, then all 45; the pass is over and the next waits for the hour.
    assert closed_after == [CLOSE_SLICE, 2 * CLOSE_SLICE, count, count, count]
    assert set(_states(bot).values()) == {"closed"}
    with bot.store.transaction() as tx:
        [closing] = [h for h in tx.history(f"SD{count:06d}") if h.action == "closed"]
        assert closing.at == MONDAY + timedelta(hours=1, minutes=2)  # the third round's slice
