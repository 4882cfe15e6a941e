"""What `status` and `metrics` say about the instances sharing a database: the leader and the
standbys, read from the lease (``bot.adapters.sql_lease``); nothing on SQLite, where one instance
is all there is. Kept apart from ``bot.leadership`` (which holds and renews the lease) so the
read-only commands read it without building the bot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from bot.adapters.sql_lease import LeaseView, Standby
    from bot.store_opening import View


def describe(bot: View) -> list[str]:
    """What `status` says about the instances: the leader and the standbys; nothing on SQLite."""
    current = _view(bot)
    if current is None:
        return []
    from bot.adapters.sql_lease import shown

    if current.expires_in > 0:
        lines = [
            f"Leader: {shown(current.holder or '?')} (epoch {current.epoch}), lease renewed "
            f"{current.renewed_ago:.0f} s ago, leading for {_duration(current.held_for)}"
        ]
    else:
        lines = [
            f"Leader: NONE; the lease of {shown(current.holder or '?')} expired {-current.expires_in:.0f} s ago "
            "(a standby takes over at its next look)"
        ]
    waiting = _standbys(bot)
    lines.append(f"Standbys: {len(waiting)}")
    lines += [f"  {shown(s.holder)}  seen {s.seen_ago:.0f} s ago" for s in waiting]
    return [*lines, ""]


def instances(bot: View) -> dict[str, Any] | None:
    """`status --json`'s ``instances``: the leader (None when the lease has expired) and the standbys."""
    current = _view(bot)
    if current is None:
        return None
    leader = None
    if current.expires_in > 0:
        leader = {
            "holder": current.holder,
            "epoch": current.epoch,
            "renewed_seconds_ago": round(current.renewed_ago, 1),
            "leading_seconds": round(current.held_for, 1),
        }
    waiting = _standbys(bot)
    return {
        "leader": leader,
        "standbys": [{"holder": s.holder, "seen_seconds_ago": round(s.seen_ago, 1)} for s in waiting],
    }


def leader_metrics(bot: View) -> list[Metric]:
    """The leader gauge, by instance, and the lease age; nothing on SQLite."""
    current = _view(bot)
    if current is None:
        return []
    from prometheus_client.core import GaugeMetricFamily

    leader = GaugeMetricFamily(
        "strategy_bot_leader",
        "1 for the instance holding an unexpired lease, 0 for each standby heard from recently.",
        labels=("holder",),
    )
    if current.expires_in > 0:
        leader.add_metric([str(current.holder)], 1)
    for standby in _standbys(bot):
        leader.add_metric([standby.holder], 0)
    age = GaugeMetricFamily(
        "strategy_bot_lease_age_seconds",
        "Seconds since the leader last renewed its lease; above leader.lease_seconds no instance leads.",
        value=max(0.0, current.renewed_ago),
    )
    return [leader, age]


def _view(bot: View) -> LeaseView | None:
    # Asked of the store, not of its engine: `status` on SQLite reads it without SQLAlchemy (sqlite_reader).
    if bot.store.dialect == "sqlite":
        return None
    from bot.adapters.sql_lease import view

    return view(bot.store.engine)


def _standbys(bot: View) -> list[Standby]:
    """The standbys heard from within three lease periods: older ones are taken to be gone."""
    from bot.adapters.sql_lease import standbys

    return standbys(bot.store.engine, 3 * bot.config.leader.lease_seconds)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
