"""Benchmark (issue 18): what a request costs on an empty database and on one holding years of work.

    python bench/growth.py --requests 2000 [--daemon-requests 10000] [--skip-empty]

For each database (empty, then pre-filled with 50,000 cases, 35,000 calendar events, 100,000
pending timers and 100,000 outbox rows by ``prefill``, batch inserts, a few seconds; what is older
than ``privacy.retention_days`` already purged, as the daily purge of years of running leaves it):

- in-process: the daemon's own rounds (``Daemon.round``) drain ``--requests`` requests from the
  Maildir inbox on the embedded default, in this process's main thread; reported: CPU per
  request (process time over the drain / requests), p50 and p99 wall time of one request's
  handling, and the longest pause of the round thread: the longest wait of the inbox between
  two handled messages (commits, moves, delivery, timers, the feed: whatever the round did
  between them);
- as a daemon: ``strategy-bot run`` in a subprocess drains ``--daemon-requests`` requests;
  reported: requests/s (start-up included), the daemon's CPU per request and peak RSS;
- ``strategy-bot status`` on the database as the drain left it: its wall time.

The requests are those of bench/backlog.py (70 % standard, 20 % urgent, 10 % unrecognised, one
in five complex), dated eight hours apart from now. Not a test: no thresholds here.
"""

from __future__ import annotations

import argparse
import json
import mailbox
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from backlog import request  # noqa: E402

# The subprocesses run this tree's bot, whichever is installed (to measure an older commit's copy).
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
SIZES = {"cases": 50_000, "events": 35_000, "timers": 100_000, "outbox": 100_000}
RETENTION_DAYS = 365  # privacy.retention_days of config.example.toml (the default)


# -- the pre-filled database ---------------------------------------------------------------------


def prefill(db: Path, now: datetime, sizes: dict[str, int] = SIZES) -> dict[str, float]:
    """Years of a county's work, written with batch inserts into a database at the newest schema."""
    from bot.adapters.sql_store import SqlStore
    from bot.domain.model import RequestDetails, Requester

    started = time.perf_counter()
    store = SqlStore(f"sqlite:///{db}")
    store.migrate(now)
    store.dispose()

    def utc(moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat(timespec="seconds")

    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("BEGIN")
    n_cases, n_events = sizes["cases"], sizes["events"]
    first = now - timedelta(days=5 * 365)
    cases, numbers, messages, history, bookings, events = [], [], [], [], [], []
    for i in range(n_cases):
        case_id = f"SD{i + 1:06d}"
        at = first + timedelta(hours=i * 5 * 365 * 24 / n_cases)
        n = f"N{500000 + i}"
        details = RequestDetails(
            n_numbers=(n,),
            surname=f"Family{i}",
            requester=Requester(f"Manager {i}", "Team Manager", "01632 960123", f"manager{i % 50}@council.example"),
            reason="Concerns raised by school about neglect.",
            health_rep="health@nhs.example",
        )
        # Every case done long ago, but the last 1 %: still open, not yet booked (a person has it).
        state = "needs_person" if i >= n_cases * 0.99 else "closed"
        # As years of daily purges leave them: a case closed over privacy.retention_days ago holds its
        # N numbers only, and says so in its history (not a first-ever purge of 40,000 cases at start).
        purged = state == "closed" and at + timedelta(days=30) < now - timedelta(days=RETENTION_DAYS)
        if purged:
            details = RequestDetails(n_numbers=(n,))
        cases.append(
            (i + 1, case_id, "standard", state, n, _details_json(details), f"<old-{i}@council.example>",
             utc(at), at.date().isoformat(), None, utc(at), utc(at))
        )  # fmt: skip
        numbers.append((n, case_id))
        messages.append((f"<old-{i}@council.example>", f"{i:064x}", utc(at), utc(at), "standard", "processed",
                         None, case_id, None))  # fmt: skip
        history += [(case_id, utc(at), "bot", "received", "", f"<old-{i}@council.example>"),
                    (case_id, utc(at), "bot", "booked", "", None),
                    (case_id, utc(at + timedelta(days=30)), "bot", "closed", "", None)]  # fmt: skip
        if purged:
            history.append((case_id, utc(at + timedelta(days=RETENTION_DAYS + 31)), "bot", "purged",
                            "personal details and stored emails removed", None))  # fmt: skip
        if i < n_events:
            # One event a case for the first 35,000, each in its own quarter hour, all in the past.
            start = first + timedelta(minutes=15 * (i * (5 * 365 * 24 * 4 // n_events)))
            end = start + timedelta(minutes=15)
            uid = f"strategy-{case_id}@bench.example"
            bookings.append((case_id, uid, utc(start), utc(end), 0, "booked"))
            events.append((uid, f"Strategy discussion {n}", utc(start), utc(end), "", "", "", "", 0, 1, 0))
    con.executemany(
        "INSERT INTO cases (id, case_id, kind, state, n_numbers, details, root_message_id, received_at, "
        "effective_day, clock_start, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        cases,
    )
    if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'case_numbers'").fetchone():
        con.executemany("INSERT INTO case_numbers (n_number, case_id) VALUES (?,?)", numbers)
    con.executemany(
        "INSERT INTO messages (message_id, content_hash, received_at, handled_at, kind, outcome, reason, case_id, "
        "raw) VALUES (?,?,?,?,?,?,?,?,?)",
        messages,
    )
    con.executemany(
        "INSERT INTO history (case_id, at, actor, action, detail, message_id) VALUES (?,?,?,?,?,?)", history
    )
    con.executemany(
        'INSERT INTO bookings (case_id, uid, start, "end", sequence, status) VALUES (?,?,?,?,?,?)', bookings
    )
    columns = [row[1] for row in con.execute("PRAGMA table_info(calendar_events)")]
    con.executemany(
        f"INSERT INTO calendar_events ({', '.join(map(_quoted, columns))}) VALUES ({', '.join('?' * len(columns))})",
        [e[: len(columns)] for e in events],
    )
    # Pending timers, due a year or two ahead (none fires during the bench); outbox rows sent long ago.
    timers = []
    for i in range(sizes["timers"]):
        due = now + timedelta(days=365) + timedelta(minutes=7 * i)
        case_id = f"SD{i % n_cases + 1:06d}"
        timers.append((f"{case_id}:review_reminder:{i}:", case_id, "review_reminder", utc(due), "", "pending", None, 0,
                       f"s{i}"))  # fmt: skip
    con.executemany(
        "INSERT INTO timers (key, case_id, purpose, due_at, detail, status, fired_at, late, scope) "
        "VALUES (?,?,?,?,?,?,?,?,?)",
        timers,
    )
    purposes = ("confirmation", "missing_information", "urgent_acknowledgement", "reminder_30_min", "minutes_chase")
    outbox = []
    for i in range(sizes["outbox"]):
        at = first + timedelta(minutes=i * 5 * 365 * 24 * 60 / sizes["outbox"])
        case_id = f"SD{i % n_cases + 1:06d}"
        kept = at >= now - timedelta(days=RETENTION_DAYS)  # older ones emptied by the daily purge
        outbox.append((f"<{case_id}.{i}@police.example>", case_id, purposes[i % len(purposes)],
                       f"manager{i % 50}@council.example", "Strategy discussion" if kept else "(purged)",
                       b"x" * 2000 if kept else b"", utc(at), "sent", 1, utc(at), None, utc(at)))  # fmt: skip
    con.executemany(
        "INSERT INTO outbox (message_id, case_id, purpose, recipients, subject, raw, created_at, status, attempts, "
        "next_attempt_at, last_error, sent_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        outbox,
    )
    con.execute("COMMIT")
    con.close()
    return {"prefill_seconds": time.perf_counter() - started, **{k: float(v) for k, v in sizes.items()}}


def _quoted(column: str) -> str:
    return f'"{column}"'


def _details_json(details: Any) -> str:
    from bot.adapters.sql_cases import _details_json as as_json

    return as_json(details)


# -- one measured drain --------------------------------------------------------------------------


def workdir(requests: int, prefilled: bool, now: datetime) -> Path:
    work = Path(tempfile.mkdtemp(prefix="strategy-bot-growth-"))
    (work / "bot.toml").write_text(
        (REPO / "config.example.toml").read_text().replace("poll_seconds = 1.0", "poll_seconds = 0.2")
    )
    data = work / "strategy-bot-data"
    # `run` starts only on what `strategy-bot init` made: the data folder, the Maildirs, the database.
    subprocess.run([sys.executable, "-m", "bot", "init", "--config", str(work / "bot.toml")], cwd=work, env=ENV,
                   stdout=subprocess.DEVNULL, check=True)  # fmt: skip
    if prefilled:
        prefill(data / "bot.sqlite3", now)
    inbox = mailbox.Maildir(data / "inbox", create=True)
    for i in range(requests):
        sent = now + timedelta(hours=8 * i)
        key = inbox.add(request(i, sent))
        os.utime(data / "inbox" / "new" / key, (sent.timestamp(), sent.timestamp() + 60))
    return work


@dataclass
class InProcess:
    requests: int
    seconds: float
    cpu_ms_per_request: float
    cpu_ms_per_request_from_first_message: float  # without the first round's checks (agenda, closing, purge)
    p50_ms: float
    p99_ms: float
    longest_pause_ms: float
    pause_at: str


def drain_in_process(work: Path) -> InProcess:
    """The daemon's rounds in this thread until the inbox and the outbox are empty."""
    os.chdir(work)
    from bot.adapters.system_clock import SystemClock
    from bot.config import load_config
    from bot.daemon import Daemon
    from bot.wiring import build

    bot = build(load_config(work / "bot.toml"))
    daemon = Daemon(bot, SystemClock())
    spans: list[tuple[float, float]] = []
    first_cpu: list[float] = []
    handle: Callable[..., Any] = bot.service.handle

    def timed(mail: Any, now: datetime) -> Any:  # the bench's own stopwatch around each message
        if not first_cpu:
            first_cpu.append(time.process_time())
        begun = time.perf_counter()
        try:
            return handle(mail, now)
        finally:
            spans.append((begun, time.perf_counter()))

    bot.service.handle = timed  # type: ignore[method-assign]
    inbox = work / "strategy-bot-data" / "inbox"
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while True:
        daemon.round()
        if not any((inbox / "new").iterdir()) and not any((inbox / "cur").iterdir()):
            with bot.store.transaction() as tx:
                if tx.pending_email_count() == 0:
                    break
    end_cpu = time.process_time()
    cpu, wall = end_cpu - cpu0, time.perf_counter() - wall0
    from_first = end_cpu - (first_cpu[0] if first_cpu else cpu0)
    daemon.stopping = True
    daemon._feed.close() if hasattr(daemon, "_feed") else None  # noqa: B018 - the feed thread, when there is one
    bot.close()
    durations = sorted(end - begun for begun, end in spans)
    gaps = [(spans[i + 1][0] - spans[i][1], i) for i in range(len(spans) - 1)]
    longest, where = max(gaps) if gaps else (0.0, 0)
    return InProcess(
        requests=len(spans),
        seconds=wall,
        cpu_ms_per_request=cpu / max(1, len(spans)) * 1000,
        cpu_ms_per_request_from_first_message=from_first / max(1, len(spans)) * 1000,
        p50_ms=statistics.median(durations) * 1000,
        p99_ms=durations[int(0.99 * (len(durations) - 1))] * 1000,
        longest_pause_ms=longest * 1000,
        pause_at=f"after message {where + 1} of {len(spans)}",
    )


@dataclass
class AsDaemon:
    requests: int
    seconds: float
    requests_per_second: float
    cpu_ms_per_request: float
    peak_rss_mb: float
    emails_sent: int


def drain_daemon(work: Path, requests: int) -> AsDaemon:
    """``strategy-bot run`` in a subprocess, as bench/backlog.py runs it."""
    since = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(work / "bot.toml")], cwd=work,
                            env=ENV, stdout=subprocess.DEVNULL, stderr=(work / "daemon.log").open("wb"))  # fmt: skip
    data = work / "strategy-bot-data"
    inbox_dirs = [data / "inbox" / d for d in ("new", "cur")]
    sent = 0
    while True:
        time.sleep(0.1)  # polling the bench's own view of the drain, not a test's synchronisation
        if proc.poll() is not None:
            raise RuntimeError(f"the daemon exited with {proc.returncode}; see {work / 'daemon.log'}")
        if any(any(d.iterdir()) for d in inbox_dirs):
            continue
        try:
            con = sqlite3.connect(data / "bot.sqlite3")
            pending = con.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
            sent = con.execute(
                "SELECT count(*) FROM outbox WHERE status = 'sent' AND created_at >= ?", (since,)
            ).fetchone()[0]
            con.close()
        except sqlite3.Error:
            continue
        if pending == 0:
            break
    elapsed = time.perf_counter() - started
    status = Path(f"/proc/{proc.pid}/status").read_text()
    peak_mb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=300)
    return AsDaemon(requests, elapsed, requests / elapsed, cpu / requests * 1000, peak_mb, sent)


def status_seconds(work: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot", "status", "--config", str(work / "bot.toml")], cwd=work,
                   env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)  # fmt: skip
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="drained in-process, per database")
    parser.add_argument("--daemon-requests", type=int, default=10000, help="drained by `strategy-bot run`; 0: not run")
    parser.add_argument("--skip-empty", action="store_true", help="only the pre-filled database")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    figures: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}",
        "load_average_at_start": os.getloadavg(),
    }
    here = os.getcwd()
    for name, prefilled in (("empty", False), ("prefilled", True)):
        if args.skip_empty and not prefilled:
            continue
        started = time.perf_counter()
        work = workdir(args.requests, prefilled, now)
        made = time.perf_counter() - started
        result = drain_in_process(work)
        os.chdir(here)
        row: dict[str, Any] = {
            "setup_seconds": made,
            "in_process": asdict(result),
            "status_seconds": status_seconds(work),
        }
        print(name, json.dumps(row), flush=True)
        if args.daemon_requests:
            work = workdir(args.daemon_requests, prefilled, now)
            row["daemon"] = asdict(drain_daemon(work, args.daemon_requests))
            row["status_seconds_after_daemon"] = status_seconds(work)
            print(name, json.dumps(row), flush=True)
        figures[name] = row
    if "empty" in figures and "prefilled" in figures:
        for key in ("cpu_ms_per_request", "cpu_ms_per_request_from_first_message"):
            ratio = figures["prefilled"]["in_process"][key] / figures["empty"]["in_process"][key]
            figures[f"ratio_prefilled_to_empty_{key}"] = ratio
            print(f"{key}, pre-filled / empty: {ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
