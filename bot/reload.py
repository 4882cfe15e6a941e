"""SIGHUP: read the configuration file again and apply what can change while the daemon runs.

The rules' settings change live: the rota (``schedule``), ``timers``, ``urgent``, ``people``,
``conference``, ``trust``, ``cases``, ``metrics``, ``logging``, ``health``, and the daemon's own pace and
alerts (``inbox.poll_seconds``, ``inbox.silence_alert_minutes``, ``inbox.quiet_alert_hours``)
and the retention and attachment limits of ``privacy``. A key that names something opened at
start-up (the store, the inbox's server or folder, the sender, the calendar, Graph or EWS, the
bot's own address, the sealing key, the templates) cannot: the log names it and the daemon
keeps its old value until it is restarted. A file that does not load is logged and changes
nothing: the daemon goes on with the configuration it has. The mail templates in the templates
folder are read again (kept compiled between): an edit that fails the start-up check is logged
and the ones in use stay.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import Config, ConfigError, load_config
from bot.domain.working_days import WorkingDays
from bot.logging_setup import configure
from bot.wiring import PURPOSES, Bot

log = logging.getLogger(__name__)

# Whole tables that change live.
LIVE_TABLES = (
    "schedule",
    "timers",
    "urgent",
    "people",
    "conference",
    "trust",
    "cases",
    "metrics",
    "logging",
    "health",
)
# Single keys that change live in tables that otherwise do not.
LIVE_KEYS = {
    "inbox": ("poll_seconds", "silence_alert_minutes", "quiet_alert_hours"),
    "privacy": ("retention_days", "purge_time", "max_minutes_attachment_bytes", "receiving_authority_domains"),
}


@dataclass(frozen=True)
class Reloaded:
    config: Config  # what the daemon now runs on
    applied: tuple[str, ...]  # keys changed and applied
    kept: tuple[str, ...]  # keys changed in the file that cannot change live: the old value is kept


def changed_keys(old: Any, new: Any, prefix: str = "") -> Iterator[str]:
    """The dotted names of the fields that differ, looking inside nested tables."""
    if dataclasses.is_dataclass(old) and dataclasses.is_dataclass(new) and type(old) is type(new):
        for f in dataclasses.fields(old):
            if f.name == "source":
                continue
            yield from changed_keys(getattr(old, f.name), getattr(new, f.name), f"{prefix}{f.name}.")
    elif old != new:
        yield prefix.rstrip(".")


def _live(key: str) -> bool:
    table, _, rest = key.partition(".")
    return table in LIVE_TABLES or rest.split(".")[0] in LIVE_KEYS.get(table, ())


def merge(old: Config, new: Config) -> Reloaded:
    """``old`` with every live change of ``new`` applied."""
    keys = list(changed_keys(old, new))
    merged = dataclasses.replace(old, **{table: getattr(new, table) for table in LIVE_TABLES})
    for table, names in LIVE_KEYS.items():
        section, fresh = getattr(merged, table), getattr(new, table)
        present = [n for n in names if hasattr(section, n)]
        merged = dataclasses.replace(
            merged, **{table: dataclasses.replace(section, **{n: getattr(fresh, n) for n in present})}
        )
    return Reloaded(merged, tuple(k for k in keys if _live(k)), tuple(k for k in keys if not _live(k)))


def reload(bot: Bot) -> Reloaded | None:
    """Read ``bot.config.source`` again and apply it to ``bot``; None (and the error logged) when it does not load.

    Call it between rounds: the service is set up again on the new values in place, so
    everything that holds it (the outbox's alerts, the daemon) sees them at once.
    """
    try:
        # The renderer keeps its templates compiled; edited ones are read again here, once they pass the check.
        bot.renderer.reread(PURPOSES)
    except ConfigError as exc:
        log.error("mail templates not read again (SIGHUP): %s; still using the previous ones", exc)
    source = bot.config.source
    path = None if source == "embedded default" else Path(source)
    try:
        new = load_config(path)
    except ConfigError as exc:
        log.error("configuration not reloaded (SIGHUP): %s; still running on the previous one", exc)
        return None
    result = merge(bot.config, new)
    for key in result.kept:
        log.warning("configuration: %s cannot change while the bot runs; keeping the old value until a restart", key)
    if not result.applied:
        log.info("configuration reloaded from %s (SIGHUP): nothing to change", source)
        return result
    config = result.config
    bot.config = config
    service = bot.service
    # In place: the delivery's alerts and anything else holding the service use the new values.
    service.__init__(  # type: ignore[misc]
        config,
        bot.store,
        bot.calendar,
        bot.renderer,
        reader=bot.reader,
        days=WorkingDays.from_schedule(config.schedule),
    )
    if "logging" in {key.split(".")[0] for key in result.applied}:
        configure(config.logging)
    log.info("configuration reloaded from %s (SIGHUP): applied %s", source, ", ".join(result.applied))
    return result
