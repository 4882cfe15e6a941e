"""Benchmark: a backlog of requests in the Maildir, drained by `strategy-bot run` on the embedded default.

    python bench/backlog.py --requests 10000
    python bench/backlog.py --requests 10000 --store postgresql

With ``--store postgresql`` the database is a PostgreSQL started for the run on loopback (as the
tests start it, but durable: fsync and synchronous commit on, as SQLite's synchronous=FULL is).

Measures requests per second from the daemon's start until the inbox is empty and every
outgoing email has been delivered, and the daemon's peak RSS. Not a test: no thresholds here.
"""

from __future__ import annotations

import argparse
import atexit
import mailbox
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.support: the PostgreSQL the tests start
AUTH = (
    "mx.police.example; spf=pass smtp.mailfrom=council.example; "
    "dkim=pass header.d=council.example; dmarc=pass header.from=council.example"
)


def request(i: int, sent: datetime) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Manager {i} <manager{i % 50}@council.example>"
    msg["To"] = "referrals@police.example"
    msg["Date"] = format_datetime(sent)
    msg["Message-ID"] = f"<bench-{i}@council.example>"
    msg["Authentication-Results"] = AUTH
    n = f"N{100000 + i}"
    kind = i % 10
    if kind < 7:
        msg["Subject"] = f"Strategy discussion {n}"
    elif kind < 9:
        msg["Subject"] = f"URGENT S47 ENQUIRY {n}"
    else:
        msg["Subject"] = "Question about the rota"
    msg.set_content(
        f"N number: {n}\nChildren's surname: Family{i}\nRequesting manager: Manager {i}\nRole: Team Manager\n"
        "Contact number: 01632 960123\nReason for strategy discussion: Concerns raised by school about neglect.\n"
        f"Longer slot needed: {'yes' if i % 5 == 0 else 'no'}\nHealth representative: health@nhs.example\n"
    )
    return bytes(msg)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="strategy-bot-bench-"))
    config = work / "bot.toml"
    text = (REPO / "config.example.toml").read_text().replace("poll_seconds = 1.0", "poll_seconds = 0.2")
    env = dict(os.environ)
    server = None
    if args.store == "postgresql":
        from tests.support.ports import free_port
        from tests.support.postgres import PostgresServer

        server = PostgresServer(free_port(), durable=True)
        atexit.register(server.stop)  # whatever ends the run, the server goes with it
        server.start()
        env["STRATEGY_BOT_DATABASE_URL"] = server.create_database()
        text = text.replace("[store]\n", '[store]\nkind = "postgresql"\n', 1)
    config.write_text(text)
    # `run` starts only on what `strategy-bot init` made: the data folder, the Maildirs, the database.
    subprocess.run([sys.executable, "-m", "bot", "init", "--config", str(config)], cwd=work, env=env, check=True)
    inbox = mailbox.Maildir(work / "strategy-bot-data" / "inbox", create=True)
    # From now on, so every deadline the backlog creates lies ahead: this measures intake.
    start_day = datetime.now(UTC).replace(microsecond=0)
    for i in range(args.requests):
        # Spread over years, a few a day, so the calendar fills as it would in real use.
        sent = start_day + timedelta(hours=8 * i)
        key = inbox.add(request(i, sent))
        path = work / "strategy-bot-data" / "inbox" / "new" / key
        os.utime(path, (sent.timestamp(), sent.timestamp() + 60))
    print(f"{args.requests} requests delivered to {work}", file=sys.stderr)

    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        cwd=work,
        env=env,
        stderr=open(work / "daemon.log", "wb"),  # noqa: SIM115 - open while the daemon runs
    )
    db = work / "strategy-bot-data" / "bot.sqlite3"
    inbox_dirs = [work / "strategy-bot-data" / "inbox" / d for d in ("new", "cur")]
    while True:
        time.sleep(0.2)
        if proc.poll() is not None:
            tail = (work / "daemon.log").read_text(errors="replace").splitlines()[-5:]
            raise SystemExit(
                f"the daemon exited ({proc.returncode}) before the backlog was drained:\n" + "\n".join(tail)
            )
        if any(any(d.iterdir()) for d in inbox_dirs):
            continue
        try:
            waiting, sent = outbox_counts(db, env.get("STRATEGY_BOT_DATABASE_URL"))
        except (sqlite3.Error, OSError):
            continue
        if waiting == 0:
            break
    elapsed = time.perf_counter() - started
    status = Path(f"/proc/{proc.pid}/status").read_text()
    peak_mb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024
    proc.send_signal(signal.SIGTERM)
    stop_started = time.perf_counter()
    proc.wait(timeout=120)
    stop_seconds = time.perf_counter() - stop_started
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}, {platform.platform()}")
    print(f"requests: {args.requests}; emails delivered: {sent}")
    print(f"drained in {elapsed:.1f} s (including start-up): {args.requests / elapsed:.0f} requests/s")
    print(f"peak RSS of the daemon: {peak_mb:.0f} MB")
    print(f"stopped {stop_seconds:.1f} s after SIGTERM, exit code {proc.returncode}")
    print(f"store: {args.store}")
    return 0


def outbox_counts(db: Path, postgresql_url: str | None) -> tuple[int, int]:
    """Emails still to deliver (pending or being sent), and emails delivered."""
    query = (
        "SELECT count(*) FILTER (WHERE status IN ('pending', 'sending')), "
        "count(*) FILTER (WHERE status = 'sent') FROM outbox"
    )
    if postgresql_url is None:
        con = sqlite3.connect(db)
        try:
            waiting, sent = con.execute(query).fetchone()
        finally:
            con.close()
        return int(waiting), int(sent)
    import psycopg

    with psycopg.connect(postgresql_url.replace("+psycopg", "", 1)) as conn:
        row = conn.execute(query).fetchone()
    if row is None:
        raise OSError("no answer")
    return int(row[0]), int(row[1])


if __name__ == "__main__":
    sys.exit(main())
