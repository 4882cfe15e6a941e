"""`strategy-bot health`: is the bot doing its job? One line per check, and an exit code.

Each check is a function of a ``Probe`` (the config, the store, the time, the environment)
returning one ``Finding``: ok, degraded or down, and a line in plain words. The command runs
every function in ``CHECKS`` and exits with the worst state: 0 ok, 1 degraded, 2 down, the
codes a container ``HEALTHCHECK`` and a Nagios-style monitor read.

To add a check, write ``def check_something(probe: Probe) -> Finding`` and append it to
``CHECKS``; a check that raises is reported down with its error, and the others still run.
What the daemon records for them lives in the store's adapter state (``HEARTBEAT_KEY``,
``INBOX_KEY``). Lines carry times, counts and configured names only: no personal data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum

from bot.config import Config
from bot.delivery import sender_outage
from bot.domain.model import wall_clock
from bot.errors import BotError, StorageError
from bot.ports import Store

# What the daemon writes (adapter state rows) and the checks read.
HEARTBEAT_KEY = "health:round"  # ISO time the daemon last finished a round
INBOX_KEY = "health:inbox"  # {"ok": bool, "since": ISO time, "error": str | None}
PROBE_KEY = "health:probe"  # written by the database check, to prove the store takes writes
ROUNDS_KEY = "health:rounds"  # bot.round_watch: {"ok": bool, "since": ISO time, "error": str | None, "count": int}

# The daemon records its heartbeat at most this often; a round is due every inbox.poll_seconds.
# Not a threshold: the daemon check allows for it on top of health.daemon_down_minutes.
HEARTBEAT_EVERY_SECONDS = 30.0
# The thresholds of the checks are the config's [health] table (``HealthConfig``).


class State(IntEnum):
    """The exit code of `strategy-bot health`: the worst of the findings."""

    OK = 0
    DEGRADED = 1
    DOWN = 2


@dataclass(frozen=True)
class Finding:
    name: str
    state: State
    detail: str

    def line(self) -> str:
        return f"{self.state.name.lower():<8} {self.name}: {self.detail}"


@dataclass
class Probe:
    """What a check may look at. ``store`` is None when there is no database to open."""

    config: Config
    store: Store | None
    now: datetime
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    store_error: str | None = None  # why the store could not be opened, when it could not

    def when(self, moment: datetime) -> str:
        return wall_clock(moment, self.config.bot.timezone)


def _no_store(name: str) -> Finding:
    return Finding(name, State.DOWN, "not checked: no database to read")


def check_database(probe: Probe) -> Finding:
    """The store takes a write (a disk full or read-only database does not)."""
    if probe.store is None:
        where = probe.config.store.url.removeprefix("sqlite:///")
        return Finding("database", State.DOWN, probe.store_error or f"no database at {where}")
    probe.store.put_state(PROBE_KEY, probe.now.isoformat(), probe.now)
    return Finding("database", State.OK, "writable")


def check_daemon(probe: Probe) -> Finding:
    """The daemon's heartbeat: a round finished recently."""
    if probe.store is None:
        return _no_store("daemon")
    text = probe.store.get_state(HEARTBEAT_KEY)
    if not text:
        return Finding("daemon", State.DOWN, "no round recorded: the daemon has not run on this database")
    last = datetime.fromisoformat(text)
    down = timedelta(minutes=probe.config.health.daemon_down_minutes)
    limit = max(down, timedelta(seconds=3 * probe.config.inbox.poll_seconds + HEARTBEAT_EVERY_SECONDS))
    if probe.now - last > limit:
        return Finding("daemon", State.DOWN, f"no round since {probe.when(last)}: is `strategy-bot run` running?")
    return Finding("daemon", State.OK, f"last round {probe.when(last)}")


def check_inbox(probe: Probe) -> Finding:
    """The referral inbox answered at the daemon's last try; down once silent past the alert time."""
    if probe.store is None:
        return _no_store("inbox")
    text = probe.store.get_state(INBOX_KEY)
    kind = probe.config.inbox.kind
    if not text:
        return Finding("inbox", State.DEGRADED, f"{kind}: not yet heard from (the daemon records it each round)")
    record = json.loads(text)
    since = datetime.fromisoformat(record["since"])
    if record["ok"]:
        return Finding("inbox", State.OK, f"{kind}: answering since {probe.when(since)}")
    silence = timedelta(minutes=probe.config.inbox.silence_alert_minutes)
    state = State.DOWN if probe.now - since >= silence else State.DEGRADED
    return Finding("inbox", state, f"{kind}: NOT ANSWERING since {probe.when(since)} ({record['error']})")


def check_outbox(probe: Probe) -> Finding:
    """Emails are leaving: the oldest one waiting is young."""
    if probe.store is None:
        return _no_store("outbox")
    with probe.store.transaction() as tx:
        waiting = tx.pending_email_count()
        oldest = tx.oldest_pending_email()
    if oldest is None:
        return Finding("outbox", State.OK, "nothing waiting")
    age = probe.now - oldest
    minutes = int(age.total_seconds() // 60)
    detail = f"{waiting} waiting, the oldest for {minutes} min (since {probe.when(oldest)})"
    if age >= timedelta(minutes=probe.config.health.outbox_down_minutes):
        return Finding("outbox", State.DOWN, detail)
    if age >= timedelta(minutes=probe.config.health.outbox_degraded_minutes):
        return Finding("outbox", State.DEGRADED, detail)
    return Finding("outbox", State.OK, detail)


def check_sender(probe: Probe) -> Finding:
    """The mail server takes the bot's email; down once it has not for ``sender.outage_alert_minutes``."""
    if probe.store is None:
        return _no_store("sender")
    kind = probe.config.sender.kind
    outage = sender_outage(probe.store)
    if outage is None:
        return Finding("sender", State.OK, f"{kind}: taking mail")
    long = probe.now - outage.since >= timedelta(minutes=probe.config.sender.outage_alert_minutes)
    detail = f"{kind}: NOT TAKING MAIL since {probe.when(outage.since)} ({outage.error})"
    return Finding("sender", State.DOWN if long else State.DEGRADED, detail)


def check_integrity(probe: Probe) -> Finding:
    """SQLite's ``PRAGMA quick_check`` on the database file: a damaged one is said, with what to do."""
    from bot.storage_faults import quick_check, sqlite_file

    path = sqlite_file(probe.config.store)
    if path is None:
        return Finding("integrity", State.OK, "not checked here: the database server checks its own")
    if not path.is_file():
        return Finding("integrity", State.DOWN, f"no database at {path}")
    fault = quick_check(path)
    return Finding("integrity", State.DOWN, fault) if fault else Finding("integrity", State.OK, "quick_check ok")


def check_rounds(probe: Probe) -> Finding:
    """The daemon's rounds are not failing again and again for one reason (``bot.round_watch`` records it)."""
    if probe.store is None:
        return _no_store("rounds")
    text = probe.store.get_state(ROUNDS_KEY)
    record = json.loads(text) if text else None
    if record is None or record["ok"]:
        return Finding("rounds", State.OK, "not failing")
    since = datetime.fromisoformat(str(record["since"]))
    detail = f"FAILING since {probe.when(since)}, {record['count']} times in a row or more: {record['error']}"
    return Finding("rounds", State.DOWN, detail)


def check_timers(probe: Probe) -> Finding:
    """No timer (escalation, reminder, chase) more than ``health.timer_overdue_minutes`` past its due time."""
    if probe.store is None:
        return _no_store("timers")
    grace = probe.config.health.timer_overdue_minutes
    with probe.store.transaction() as tx:
        overdue = tx.overdue_timer_count(probe.now - timedelta(minutes=grace))
        pending = len(tx.pending_timers())
    if overdue:
        late = "a minute" if grace == 1 else f"{grace:g} minutes"
        return Finding("timers", State.DOWN, f"{overdue} of {pending} pending overdue by more than {late}")
    return Finding("timers", State.OK, f"{pending} pending, none overdue")


def check_sealing_key(probe: Probe) -> Finding:
    """With ``privacy.key_env`` set, the variable holds a usable key."""
    from bot.sealing import Sealer

    key_env = probe.config.privacy.key_env
    if key_env is None:
        return Finding("sealing key", State.OK, "not configured (privacy.key_env unset: personal data stored unsealed)")
    if not probe.env.get(key_env):
        return Finding("sealing key", State.DOWN, f"privacy.key_env: ${key_env} is not set in this environment")
    try:
        Sealer([k for k in probe.env[key_env].split(",") if k.strip()])
    except ValueError:
        return Finding("sealing key", State.DOWN, f"privacy.key_env: ${key_env} does not hold a valid key")
    return Finding("sealing key", State.OK, f"${key_env} present")


Check = Callable[[Probe], Finding]
# In the order they are printed. Append a check here to add it to `strategy-bot health`.
CHECKS: list[Check] = [
    check_database,
    check_integrity,
    check_daemon,
    check_rounds,
    check_inbox,
    check_outbox,
    check_sender,
    check_timers,
    check_sealing_key,
]


def _name_of(check: Check) -> str:
    return check.__name__.removeprefix("check_").replace("_", " ")


def run_checks(probe: Probe, checks: list[Check] | None = None) -> list[Finding]:
    findings = []
    for check in CHECKS if checks is None else checks:
        try:
            findings.append(check(probe))
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            detail = str(exc) if isinstance(exc, BotError | StorageError) else f"{type(exc).__name__}: {exc}"
            findings.append(Finding(_name_of(check), State.DOWN, detail))
    return findings


def overall(findings: list[Finding]) -> State:
    return max((f.state for f in findings), default=State.OK)


def report(findings: list[Finding]) -> str:
    """A first line a Nagios-style monitor shows, then one line per check."""
    state = overall(findings)
    failing = [f.name for f in findings if f.state is not State.OK]
    summary = f"strategy-bot health: {state.name}" + (f" ({', '.join(failing)})" if failing else "")
    return "\n".join([summary, *(f.line() for f in findings)]) + "\n"
