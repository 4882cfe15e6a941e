"""Benchmark: from delivery to Dovecot to the bot's reply accepted by an SMTP sink, with IDLE and with polling.

    python bench/latency.py [--single 40] [--bursts 3x20] [--polled 8] [--backlog 1000]

Runs `strategy-bot run` as a subprocess against a real Dovecot (started here, as the tests do,
on loopback) and an aiosmtpd sink. Four runs, each on a fresh state:

- single: requests appended one at a time, the next after the reply to the last, with IDLE;
- bursts: groups of requests appended at once, with IDLE;
- polled: one at a time with IDLE off and a 30-second poll (the helpdesk default);
- backlog: requests waiting in the INBOX before the daemon starts; drained rate until every
  request has had its reply.

Latency is from just before the APPEND to the SMTP sink accepting the request's confirmation (the
email whose Message-ID says confirmation and whose References name the request). Not a test: no
thresholds here.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for the package tests.support

from aiosmtpd.controller import Controller  # noqa: E402

from tests.support.dovecot import IMAP_PASSWORD_ENV, bot_config, start_dovecot  # noqa: E402
from tests.support.mail_servers import HOST, PASSWORD, free_port, self_signed  # noqa: E402
from tests.support.requests_mail import request_email  # noqa: E402


@dataclass
class Sink:
    """Records when the confirmation of each request arrived."""

    first_reply: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        now = time.monotonic()
        msg = message_from_bytes(envelope.content, policy=default_policy)
        if ".confirmation." not in str(msg.get("Message-ID", "")):
            return "250 OK"  # only the confirmation counts (a complete request gets nothing else)
        for ref in str(msg.get("References", "")).split():
            with self.lock:
                self.first_reply.setdefault(ref, now)
        return "250 OK"


class Run:
    def __init__(self, root: Path, idle: bool, poll_seconds: float) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.server = start_dovecot(root / "dovecot", self_signed(root, "bench"))
        self.sink = Sink()
        self.controller = Controller(self.sink, hostname=HOST, port=free_port())
        self.controller.start()
        self.config = bot_config(
            root, self.server, self.controller.port, imap={"idle": idle}, inbox={"poll_seconds": poll_seconds}
        )
        self.client = self.server.client()
        self.daemon: subprocess.Popen[bytes] | None = None
        self.count = 0

    def start_daemon(self) -> None:
        env = {**os.environ, IMAP_PASSWORD_ENV: PASSWORD}
        self.daemon = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(self.config)],
            cwd=self.root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(self.root / "daemon.log").open("ab"),
        )

    def request(self) -> tuple[str, bytes]:
        self.count += 1
        n = f"N{200000 + self.count}"
        message_id = f"<latency-{self.count}@council.example>"
        raw = request_email(datetime.now(UTC), subject=f"Strategy discussion {n}", n_number=n, message_id=message_id)
        return message_id, raw

    def deliver(self, batch: int) -> dict[str, float]:
        sent = {}
        for _ in range(batch):
            message_id, raw = self.request()
            sent[message_id] = time.monotonic()
            self.client.append("INBOX", raw)
        return sent

    def wait_replies(self, ids: list[str], timeout: float = 600) -> list[float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.sink.lock:
                if all(i in self.sink.first_reply for i in ids):
                    return [self.sink.first_reply[i] for i in ids]
            time.sleep(0.005)
        raise RuntimeError(f"no reply within {timeout} s; see {self.root / 'daemon.log'}")

    def close(self) -> None:
        if self.daemon is not None:
            self.daemon.send_signal(signal.SIGTERM)
            self.daemon.wait(timeout=60)
        self.client.logout()
        self.controller.stop()
        self.server.stop()


def latencies(run: Run, groups: int, size: int, settle: float) -> list[float]:
    out: list[float] = []
    for _ in range(groups):
        sent = run.deliver(size)
        replies = run.wait_replies(list(sent))
        out += [reply - sent[i] for i, reply in zip(sent, replies, strict=True)]
        time.sleep(settle)
    return out


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return (
        f"| {name} | {len(values)} | {statistics.median(values) * 1000:.0f} ms | {p95 * 1000:.0f} ms "
        f"| {max(values) * 1000:.0f} ms |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=40)
    parser.add_argument("--bursts", default="3x20", help="GROUPSxSIZE (0x0: none)")
    parser.add_argument("--polled", type=int, default=8)
    parser.add_argument("--backlog", type=int, default=1000)
    args = parser.parse_args()
    groups, size = (int(x) for x in args.bursts.split("x"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="strategy-bot-latency-") as tmp:
        base = Path(tmp)

        if args.single or groups:
            run = Run(base / "idle", idle=True, poll_seconds=30)
            try:
                run.start_daemon()
                time.sleep(2)  # connected and in IDLE
                if args.single:
                    rows.append(summary("IDLE, one at a time", latencies(run, args.single, 1, 0.2)))
                if groups:
                    rows.append(summary(f"IDLE, bursts of {size}", latencies(run, groups, size, 1.0)))
            finally:
                run.close()

        if args.polled:
            run = Run(base / "polled", idle=False, poll_seconds=30)
            try:
                run.start_daemon()
                time.sleep(2)
                polled: list[float] = []
                for _ in range(args.polled):
                    polled += latencies(run, 1, 1, 0)
                    time.sleep(7.3)  # arrive at varied points of the 30-second poll
                rows.append(summary("30-second poll, one at a time", polled))
            finally:
                run.close()

        drained = 0.0
        if args.backlog:
            run = Run(base / "backlog", idle=True, poll_seconds=30)
            try:
                sent = run.deliver(args.backlog)
                started = time.monotonic()
                run.start_daemon()
                replies = run.wait_replies(list(sent))
                drained = max(replies) - started
            finally:
                run.close()

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}, {platform.system()} {platform.release()}")
    print("| run | requests | p50 | p95 | max |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(row)
    if args.backlog:
        rate = args.backlog / drained
        print(f"backlog: {args.backlog} requests drained in {drained:.1f} s = {rate:.0f} requests/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
