"""Benchmark (issue 15 item 7): the takeover gap over repeated SIGKILLs of the leader.

    python bench/failover.py [--kills 10] [--lease-seconds 15] [--renew-seconds 5]

Starts a throw-away PostgreSQL on loopback (initdb in a temporary folder, as the tests do) and two
`strategy-bot run` daemons on it, sharing one Maildir inbox and one Maildir sender. Then, ``--kills``
times: wait until one daemon leads and the other waits as a standby, wait a random part of the
renew interval (so the kill falls anywhere between two renewals), SIGKILL the leader, drop one
request into the inbox, and measure from the kill to

- the standby holding the lease (the takeover gap), and
- the request's case being opened by it (its first action);

then start a fresh daemon as the next standby. Not a test: no thresholds here.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.exc import ProgrammingError  # noqa: E402

from bot.adapters.sql_lease import view  # noqa: E402
from tests.support.postgres import PostgresServer  # noqa: E402
from tests.support.requests_mail import request_email  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def holder(engine: Engine) -> str | None:
    try:
        lease = view(engine)
    except ProgrammingError:
        return None
    return lease.holder if lease is not None and lease.expires_in > 0 else None


def count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def wait_for(condition, what: str, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.01)


def drain(engine: Engine, inbox: Path, requests: int, standby_pid: int) -> None:
    """bench/backlog.py's requests (70 % standard, 20 % urgent, 10 % unrecognised), drained with a standby by."""
    sys.path.insert(0, str(REPO / "bench"))
    from backlog import request

    key = f"leader:standby:%:{standby_pid}:%"
    wait_for(lambda: count(engine, f"SELECT count(*) FROM adapter_state WHERE key LIKE '{key}'") == 1, "a standby")
    # As bench/backlog.py does: from now on, eight hours apart, so the calendar fills as in real use.
    start_day = datetime.now(UTC).replace(microsecond=0)
    for i in range(requests):
        sent = start_day + timedelta(hours=8 * i)
        (inbox / "tmp" / f"bench-{i}.eml").write_bytes(request(i, sent))
        os.utime(inbox / "tmp" / f"bench-{i}.eml", (sent.timestamp(), sent.timestamp() + 60))
    started = time.perf_counter()
    for i in range(requests):
        os.rename(inbox / "tmp" / f"bench-{i}.eml", inbox / "new" / f"bench-{i}.eml")
    wait_for(
        lambda: (
            count(engine, "SELECT count(*) FROM messages WHERE message_id LIKE '<bench-%'") >= requests
            and count(engine, "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')") == 0
        ),
        "the backlog drained",
        timeout=3600,
    )
    elapsed = time.perf_counter() - started
    delivered = count(engine, "SELECT count(*) FROM outbox WHERE status = 'sent'")
    print(f"backlog on PostgreSQL, two instances (one leading, one standby): {requests} requests, {delivered} emails")
    print(f"drained in {elapsed:.1f} s: {requests / elapsed:.0f} requests/s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--lease-seconds", type=float, default=15)
    parser.add_argument("--renew-seconds", type=float, default=5)
    parser.add_argument(
        "--backlog", type=int, default=0, help="first drain this many requests (bench/backlog.py's) with two instances"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="strategy-bot-failover-"))
    # Durable (fsync on) for the backlog, as bench/backlog.py's; the kills need no durability.
    server = PostgresServer(free_port(), durable=bool(args.backlog))
    server.start()
    daemons: list[subprocess.Popen[bytes]] = []
    try:
        url = server.create_database()
        env = {**ENV, "STRATEGY_BOT_DATABASE_URL": url}
        config = work / "bot.toml"
        example = (REPO / "config.example.toml").read_text(encoding="utf-8")
        if args.backlog:  # bench/backlog.py's poll
            example = example.replace("poll_seconds = 1.0", "poll_seconds = 0.2")
        config.write_text(
            example.replace("[store]\n", '[store]\nkind = "postgresql"\n')
            + f"\n[leader]\nlease_seconds = {args.lease_seconds:g}\nrenew_seconds = {args.renew_seconds:g}\n",
            encoding="utf-8",
        )
        subprocess.run([sys.executable, "-m", "bot", "init", "--config", str(config)], cwd=work, env=env, check=True)
        inbox = work / "strategy-bot-data" / "inbox"
        engine = create_engine(url)

        def start(n: int) -> subprocess.Popen[bytes]:
            log = (work / f"daemon-{n}.log").open("wb")
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--config", str(config)],
                cwd=work,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            daemons.append(process)
            return process

        by_pid = {}
        first = start(0)
        by_pid[first.pid] = first
        wait_for(lambda: holder(engine) is not None, "the first leader")
        gaps: list[float] = []
        actions: list[float] = []
        standby: subprocess.Popen[bytes] | None = None
        if args.backlog:
            standby = start(1)
            by_pid[standby.pid] = standby
            drain(engine, inbox, args.backlog, standby.pid)
        for kill in range(1, args.kills + 1):
            if standby is None:
                standby = start(kill)
                by_pid[standby.pid] = standby
            key = f"leader:standby:%:{standby.pid}:%"
            waiting = f"SELECT count(*) FROM adapter_state WHERE key LIKE '{key}'"
            wait_for(lambda sql=waiting: count(engine, sql) == 1, "a standby")
            leading = holder(engine)
            assert leading is not None
            leader = by_pid[int(leading.split(":")[1])]
            time.sleep(random.uniform(0, args.renew_seconds))  # anywhere between two renewals
            cases = count(engine, "SELECT count(*) FROM cases")
            leader.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            leader.wait()
            n = f"N{700000 + kill}"
            raw = request_email(datetime.now(UTC), subject=f"Strategy discussion {n}", n_number=n)
            (inbox / "tmp" / f"{n}.eml").write_bytes(raw)
            os.rename(inbox / "tmp" / f"{n}.eml", inbox / "new" / f"{n}.eml")
            wait_for(lambda old=leading: holder(engine) not in (None, old), "the takeover")
            gap = time.monotonic() - killed
            wait_for(lambda before=cases: count(engine, "SELECT count(*) FROM cases") > before, "the first case")
            action = time.monotonic() - killed
            standby = None
            gaps.append(gap)
            actions.append(action)
            print(
                f"kill {kill:2d}: lease taken after {gap:6.2f} s, first case opened after {action:6.2f} s", flush=True
            )
        if gaps:
            print()
            print(f"lease_seconds = {args.lease_seconds:g}, renew_seconds = {args.renew_seconds:g}, {args.kills} kills")
            print(
                f"takeover gap: min {min(gaps):.2f} s, median {statistics.median(gaps):.2f} s, max {max(gaps):.2f} s; "
                f"first action: min {min(actions):.2f} s, median {statistics.median(actions):.2f} s, "
                f"max {max(actions):.2f} s"
            )
        print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
        engine.dispose()
    finally:
        for process in daemons:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
