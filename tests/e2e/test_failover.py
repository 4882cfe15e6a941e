"""Two daemons on one PostgreSQL and one inbox; the leader SIGKILLed mid-run; the standby carries on.

`strategy-bot run` twice as subprocesses, on a real PostgreSQL (tests/support/postgres.py), a
Maildir inbox and a Maildir sender, in rehearsal on a fast simulated clock so that the urgent
cases' escalations fall due within the test. 200 requests, every tenth urgent. The leader is
SIGKILLed once it has handled some of them; then every request must end with exactly one case
and one confirmation (the urgent acknowledgement for an urgent case), and every escalation due
by the end must have fired exactly once. The gap between the kill and the standby taking the
lease, and its first email, is measured and printed, not asserted: conditions are waited for by
polling the database with one generous overall deadline, never by sleeping a margin.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError

from bot.adapters.sql_lease import view
from tests.support.requests_mail import london, request_email

REPO = Path(__file__).resolve().parents[2]
REQUESTS = 200
URGENT_EVERY = 10
START = london("2026-11-23 09:00")
SPEED = 300.0  # simulated seconds per real second: the 60- and 90-minute escalations come within ~20 s
# Renewed every second, lasting 6: a leader whose renewal is held up a few seconds on a busy machine
# keeps its lease (with 3, a 2 s hold-up stopped a leader the test meant to keep running).
LEASE = {"lease_seconds": 6, "renew_seconds": 1}
DEADLINE = 300.0  # one overall deadline for the whole run (a busy machine may be slow); nothing is timed against it


def n_number(i: int) -> str:
    return f"N{500000 + i}"


def write_config(folder: Path, lease: dict[str, int] = LEASE) -> Path:
    text_ = (REPO / "config.example.toml").read_text(encoding="utf-8")
    assert text_.count("[store]\n") == 1
    text_ = text_.replace("[store]\n", '[store]\nkind = "postgresql"\n')
    # Room in the calendar for 200 requests at once, so that every one is booked within its timescale.
    schedule = 'meeting_days = ["Monday", "Wednesday", "Friday"]\nwindow_start = "10:00"\nwindow_end = "11:30"\n'
    assert schedule in text_
    weekdays = '["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]'
    roomy = f'meeting_days = {weekdays}\nwindow_start = "08:00"\nwindow_end = "18:00"\nslot_minutes = 5\n'
    text_ = text_.replace(schedule, roomy)
    text_ += "\n[leader]\n" + "".join(f"{key} = {value}\n" for key, value in lease.items())
    config = folder / "bot.toml"
    config.write_text(text_, encoding="utf-8")
    return config


def feed(inbox: Path) -> None:
    """200 requests, as a mail server delivers them into the Maildir (tmp/ then new/)."""
    for i in range(REQUESTS):
        n = n_number(i)
        urgent = i % URGENT_EVERY == 0
        subject = f"URGENT S47 ENQUIRY {n}" if urgent else f"Strategy discussion {n}"
        raw = request_email(START, subject=subject, n_number=n, message_id=f"<{n}@council.example>")
        staged = inbox / "tmp" / f"{n}.eml"
        staged.write_bytes(raw)
        os.utime(staged, (START.timestamp(), START.timestamp()))
        os.rename(staged, inbox / "new" / f"{n}.eml")


class Daemons:
    def __init__(self, folder: Path, config: Path, url: str) -> None:
        self.folder, self.config = folder, config
        self.env = {**os.environ, "STRATEGY_BOT_DATABASE_URL": url}
        self.running: list[subprocess.Popen[bytes]] = []
        self.alive: list[subprocess.Popen[bytes]] = []  # those expected to be running

    def start(
        self, name: str, rehearsal: bool = True, clock: tuple[datetime, float] = (START, SPEED)
    ) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "bot", "run", "--config", str(self.config)]
        if rehearsal:
            command += ["--clock-start", clock[0].isoformat(), "--clock-speed", str(clock[1])]
        process = subprocess.Popen(
            command,
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / f"{name}.log").open("wb"),
        )
        self.running.append(process)
        self.alive.append(process)
        return process

    def command(self, *words: str) -> str:
        """`strategy-bot status` or `metrics` as an admin runs it, beside the daemons."""
        done = subprocess.run(
            [sys.executable, "-m", "bot", *words, "--config", str(self.config)],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def stop_all(self) -> list[int]:
        codes = []
        try:
            for process in self.running:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                codes.append(process.wait(timeout=180))
        finally:
            for process in self.running:  # one that did not stop (or a failure above): none outlives the test
                if process.poll() is None:
                    process.kill()
                    process.wait()
        return codes


def wait_for(condition: Callable[[], bool], what: str, until: float, daemons: Daemons) -> None:
    """Poll ``condition``; fail at once, with the logs, if a daemon that should be running has stopped."""
    while time.monotonic() < until:
        if condition():
            return
        if any(process.poll() is not None for process in daemons.alive):
            break
        time.sleep(0.02)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in sorted(daemons.folder.glob("*.log")))
    raise AssertionError(f"gave up waiting for {what}\n{tails}")


def one(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def holder(engine: Engine) -> str | None:
    try:
        lease = view(engine)
    except ProgrammingError:  # the first daemon has not made the tables yet
        return None
    return lease.holder if lease is not None and lease.expires_in > 0 else None


def test_the_standby_takes_over_from_a_killed_leader_and_nothing_is_lost_or_doubled(
    tmp_path: Path, postgres_url: str
) -> None:
    until = time.monotonic() + DEADLINE
    config = write_config(tmp_path)
    env = {**os.environ, "STRATEGY_BOT_DATABASE_URL": postgres_url}
    subprocess.run([sys.executable, "-m", "bot", "init", "--config", str(config)], cwd=tmp_path, env=env, check=True)
    engine = create_engine(postgres_url)
    daemons = Daemons(tmp_path, config, postgres_url)
    try:
        first = daemons.start("first")
        wait_for(lambda: holder(engine) is not None, "the first daemon to lead", until, daemons)
        leader_name = holder(engine)
        assert leader_name is not None and f":{first.pid}:" in leader_name
        second = daemons.start("second")
        wait_for_standby(engine, second, until, daemons)

        # What an admin sees: the leader and the standby, in `status` and in `metrics`.
        status = daemons.command("status")
        assert f"Leader: {socket.gethostname()} (PID {first.pid}) (epoch 1)" in status
        assert f"Standbys: 1\n  {socket.gethostname()} (PID {second.pid})  seen" in status
        described = json.loads(daemons.command("status", "--json"))["instances"]
        assert described["leader"]["holder"] == leader_name and described["leader"]["epoch"] == 1
        assert [f":{second.pid}:" in s["holder"] for s in described["standbys"]] == [True]
        figures = daemons.command("metrics")
        assert f'strategy_bot_leader{{holder="{leader_name}"}} 1.0' in figures
        assert re.search(rf'strategy_bot_leader{{holder="[^"]*:{second.pid}:[^"]*"}} 0.0', figures)
        assert "strategy_bot_lease_age_seconds " in figures

        feed(tmp_path / "strategy-bot-data" / "inbox")
        wait_for(
            lambda: one(engine, "SELECT count(*) FROM cases") >= 40, "the leader to open some cases", until, daemons
        )
        sent_before = one(engine, "SELECT count(*) FROM outbox WHERE status = 'sent'")
        daemons.alive.remove(first)
        first.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        assert first.wait(timeout=180) == -signal.SIGKILL
        written_before = one(engine, "SELECT count(*) FROM history")

        wait_for(lambda: holder(engine) not in (None, leader_name), "the standby to take the lease", until, daemons)
        took_over = time.monotonic()
        taken = holder(engine)
        assert taken is not None and f":{second.pid}:" in taken
        wait_for(
            lambda: one(engine, "SELECT count(*) FROM history") > written_before,
            "the new leader's first recorded action",
            until,
            daemons,
        )
        first_action = time.monotonic()
        wait_for(
            lambda: one(engine, "SELECT count(*) FROM outbox WHERE status = 'sent'") > sent_before,
            "the new leader's first email",
            until,
            daemons,
        )
        first_email = time.monotonic()
        print(
            f"\nfailover (lease_seconds = {LEASE['lease_seconds']}): after the kill, lease taken in "
            f"{took_over - killed:.2f} s, first action recorded in {first_action - killed:.2f} s, "
            f"first email sent in {first_email - killed:.2f} s"
        )

        urgent = REQUESTS // URGENT_EVERY
        wait_for(
            lambda: (
                one(engine, "SELECT count(*) FROM cases") == REQUESTS
                and one(engine, "SELECT count(*) FROM outbox WHERE status <> 'sent'") == 0
                and one(engine, "SELECT count(*) FROM timers WHERE purpose = 'escalation_90' AND status = 'fired'")
                == urgent
            ),
            "every request handled and both escalations fired",
            until,
            daemons,
        )
        assert list((tmp_path / "strategy-bot-data" / "inbox" / "new").iterdir()) == []
    finally:
        codes = daemons.stop_all()

    assert codes[1] == 0, (tmp_path / "second.log").read_text()[-3000:]
    with engine.connect() as conn:
        cases = Counter(row[0] for row in conn.execute(text("SELECT n_numbers FROM cases")))
        answers = Counter(
            (row[0], row[1])
            for row in conn.execute(
                text(
                    "SELECT case_id, purpose FROM outbox WHERE purpose IN "
                    "('confirmation', 'urgent_acknowledgement', 'escalation_60', 'escalation_90')"
                )
            )
        )
        fired = Counter(
            (row[0], row[1].split()[0])
            for row in conn.execute(text("SELECT case_id, detail FROM history WHERE action = 'timer_fired'"))
        )
        kinds = {str(row[0]): str(row[1]) for row in conn.execute(text("SELECT case_id, kind FROM cases"))}
        got = Counter(conn.execute(text("SELECT case_id || ' ' || purpose FROM outbox")).scalars())
        states = {str(row[0]): str(row[1]) for row in conn.execute(text("SELECT case_id, state FROM cases"))}
    engine.dispose()
    assert cases == Counter({n_number(i): 1 for i in range(REQUESTS)})
    for case_id, kind in kinds.items():
        reply = "urgent_acknowledgement" if kind == "urgent" else "confirmation"
        assert answers[(case_id, reply)] == 1, (case_id, states[case_id], [k for k in got if case_id in k])
        if kind == "urgent":
            for escalation in ("escalation_60", "escalation_90"):
                assert answers[(case_id, escalation)] == 1, (case_id, escalation)
                assert fired[(case_id, escalation)] == 1, (case_id, escalation)
    assert list(kinds.values()).count("urgent") == REQUESTS // URGENT_EVERY
    assert max(answers.values()) == 1


def lease_row(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT value FROM adapter_state WHERE key = 'leader:lease'")).scalar_one()
    return dict(json.loads(raw))


def setup(tmp_path: Path, postgres_url: str, lease: dict[str, int]) -> tuple[Daemons, Engine]:
    config = write_config(tmp_path, lease)
    env = {**os.environ, "STRATEGY_BOT_DATABASE_URL": postgres_url}
    subprocess.run([sys.executable, "-m", "bot", "init", "--config", str(config)], cwd=tmp_path, env=env, check=True)
    return Daemons(tmp_path, config, postgres_url), create_engine(postgres_url)


def test_a_leader_whose_lease_is_taken_writes_nothing_and_exits_non_zero(tmp_path: Path, postgres_url: str) -> None:
    until = time.monotonic() + DEADLINE
    daemons, engine = setup(tmp_path, postgres_url, LEASE)
    try:
        leader = daemons.start("leader", rehearsal=False)
        wait_for(lambda: holder(engine) is not None, "the daemon to lead", until, daemons)
        # Another instance holds the lease now (as after a network cut longer than the lease).
        stolen = {**lease_row(engine), "holder": "vm-z:9:ff", "epoch": 2, "expires": 4.0e9}
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE adapter_state SET value = :value WHERE key = 'leader:lease'"),
                {"value": json.dumps(stolen)},
            )
        feed_one(tmp_path / "strategy-bot-data" / "inbox", "N600001")
        daemons.alive.remove(leader)
        wait_for(lambda: leader.poll() is not None, "the old leader to stop", until, daemons)
    finally:
        daemons.stop_all()
    log = (tmp_path / "leader.log").read_text()
    assert leader.returncode == 1, log
    assert [line for line in log.splitlines() if "no longer the leader" in line] == [
        line for line in log.splitlines() if "ERROR" in line
    ]
    assert "no longer the leader: " in log and "vm-z (PID 9)" in log
    assert "Traceback" not in log
    # Nothing written after the lease was gone: no case, and the request is still in the inbox for the new leader.
    assert one(engine, "SELECT count(*) FROM cases") == 0
    assert [p.name for p in (tmp_path / "strategy-bot-data" / "inbox" / "new").iterdir()] == ["N600001.eml"]
    engine.dispose()


def test_a_clean_stop_hands_the_lease_to_the_standby_before_it_would_expire(tmp_path: Path, postgres_url: str) -> None:
    until = time.monotonic() + DEADLINE
    daemons, engine = setup(tmp_path, postgres_url, {"lease_seconds": 120, "renew_seconds": 1})
    try:
        first = daemons.start("first", rehearsal=False)
        wait_for(lambda: holder(engine) is not None, "the first daemon to lead", until, daemons)
        second = daemons.start("second", rehearsal=False)
        wait_for_standby(engine, second, until, daemons)
        daemons.alive.remove(first)
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=180) == 0
        released = lease_row(engine)
        wait_for(lambda: lease_row(engine)["epoch"] == 2, "the standby to take over", until, daemons)
        taken = lease_row(engine)
        assert f":{second.pid}:" in taken["holder"]
        # Taken as soon as it was released, not when it would have run out (120 s after its last renewal).
        assert taken["since"] < released["renewed"] + 120
        assert "leader now" in (tmp_path / "second.log").read_text()
    finally:
        codes = daemons.stop_all()
    assert codes == [0, 0]
    engine.dispose()


def wait_for_standby(engine: Engine, standby: subprocess.Popen[bytes], until: float, daemons: Daemons) -> None:
    """Until ``standby`` has recorded its heartbeat as a waiting standby."""
    key = f"leader:standby:%:{standby.pid}:%"
    wait_for(
        lambda: one(engine, f"SELECT count(*) FROM adapter_state WHERE key LIKE '{key}'") == 1,
        "the second daemon to wait as a standby",
        until,
        daemons,
    )


def feed_one(inbox: Path, n: str) -> None:
    raw = request_email(START, subject=f"Strategy discussion {n}", n_number=n, message_id=f"<{n}@council.example>")
    (inbox / "tmp" / f"{n}.eml").write_bytes(raw)
    os.rename(inbox / "tmp" / f"{n}.eml", inbox / "new" / f"{n}.eml")


def test_a_leader_paused_past_its_lease_wakes_up_a_standby_and_exits(tmp_path: Path, postgres_url: str) -> None:
    """SIGSTOP as a VM frozen or cut off: the standby takes over; the old leader, resumed, stops at once."""
    until = time.monotonic() + DEADLINE
    daemons, engine = setup(tmp_path, postgres_url, LEASE)
    try:
        first = daemons.start("first", rehearsal=False)
        wait_for(lambda: holder(engine) is not None, "the first daemon to lead", until, daemons)
        second = daemons.start("second", rehearsal=False)
        wait_for_standby(engine, second, until, daemons)
        first.send_signal(signal.SIGSTOP)
        wait_for(lambda: lease_row(engine)["epoch"] == 2, "the standby to take over", until, daemons)
        daemons.alive.remove(first)
        first.send_signal(signal.SIGCONT)
        wait_for(lambda: first.poll() is not None, "the old leader to stop", until, daemons)
        feed_one(tmp_path / "strategy-bot-data" / "inbox", "N600002")
        wait_for(lambda: one(engine, "SELECT count(*) FROM cases") == 1, "the new leader's case", until, daemons)
    finally:
        codes = daemons.stop_all()
    log = (tmp_path / "first.log").read_text()
    assert codes == [1, 0], log
    assert len([line for line in log.splitlines() if "no longer the leader: " in line]) == 1, log
    assert "Traceback" not in log
    engine.dispose()


def test_the_new_leader_fires_at_once_what_fell_due_while_no_one_led(tmp_path: Path, postgres_url: str) -> None:
    """The escalation falls due between the kill and the takeover: the new leader sends it once, marked late.

    Each daemon runs on its own rehearsal clock: the first at 09:02 (real speed, so the hour never
    comes while it leads), the standby at 10:05, an hour past the request.
    """
    until = time.monotonic() + DEADLINE
    daemons, engine = setup(tmp_path, postgres_url, LEASE)
    inbox = tmp_path / "strategy-bot-data" / "inbox"
    try:
        first = daemons.start("first", clock=(START + timedelta(minutes=2), 1.0))
        wait_for(lambda: holder(engine) is not None, "the first daemon to lead", until, daemons)
        raw = request_email(START, subject="URGENT S47 ENQUIRY N600003", n_number="N600003")
        (inbox / "tmp" / "N600003.eml").write_bytes(raw)
        os.utime(inbox / "tmp" / "N600003.eml", (START.timestamp(), START.timestamp()))
        os.rename(inbox / "tmp" / "N600003.eml", inbox / "new" / "N600003.eml")
        wait_for(
            lambda: one(engine, "SELECT count(*) FROM outbox WHERE purpose = 'urgent_acknowledgement'") == 1,
            "the urgent case to be acknowledged",
            until,
            daemons,
        )
        second = daemons.start("second", clock=(START + timedelta(minutes=65), 1.0))
        wait_for_standby(engine, second, until, daemons)
        assert one(engine, "SELECT count(*) FROM outbox WHERE purpose = 'escalation_60'") == 0
        daemons.alive.remove(first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=180)
        wait_for(
            lambda: one(engine, "SELECT count(*) FROM outbox WHERE purpose = 'escalation_60' AND status = 'sent'") == 1,
            "the escalation from the new leader",
            until,
            daemons,
        )
    finally:
        daemons.stop_all()
    with engine.connect() as conn:
        timer = conn.execute(text("SELECT status, late FROM timers WHERE purpose = 'escalation_60'")).one()
        fired = conn.execute(text("SELECT detail FROM history WHERE action = 'timer_fired'")).scalars().all()
    assert tuple(timer) == ("fired", 1)
    assert len(fired) == 1 and fired[0].startswith("escalation_60 late by")
    assert one(engine, "SELECT count(*) FROM outbox WHERE purpose = 'escalation_60'") == 1
    assert "fired late" in (tmp_path / "second.log").read_text()
    engine.dispose()
