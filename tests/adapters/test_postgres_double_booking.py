"""No double booking with two writers (issue 15 item 3): two processes race for one slot on one PostgreSQL.

Each process is the bot's service built from a config with ``[store] kind = "postgresql"`` and
handles one request, as two instances would. The race is made certain, not hoped for: the test
holds the ``bookings`` table locked (reads allowed), so each process gets as far as writing its
calendar event and stops; both chose the same free slot, neither having seen the other's
uncommitted event. The second event waits on the exclusion constraint for the first's
transaction. Once the test sees both waiting in the database it lets go: the first commits, the
second's event is refused, and that case is booked in the next slot.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import select

from bot.adapters import sql_schema as t
from bot.adapters.sql_store import SqlStore
from tests.support.postgres import PostgresServer
from tests.support.requests_mail import request_email

REPO = Path(__file__).resolve().parents[2]
SENT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday: the next slots are that week's

# One instance handling one request: what the daemon does with a message from its inbox.
HANDLE = """
import json, sys
from datetime import datetime
from pathlib import Path
from bot.config import load_config
from bot.ports import IncomingMail
from bot.wiring import build

config_path, mail_path, at = sys.argv[1:4]
bot = build(load_config(Path(config_path)), with_mail=False)
now = datetime.fromisoformat(at)
result = bot.service.handle(IncomingMail(Path(mail_path).name, Path(mail_path).read_bytes(), now), now)
bot.close()
print(json.dumps([[case_id, event.start.isoformat()] for case_id, event in result.booked]))
"""


def config_file(tmp_path: Path) -> Path:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    text = text.replace("[store]\n", '[store]\nkind = "postgresql"\n', 1)
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def waiting(postgres: PostgresServer, database: str) -> list[str]:
    """The statements of the sessions on ``database`` waiting for a lock, by the table they write."""
    with psycopg.connect(postgres.dsn(database), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT query FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", (database,)
        ).fetchall()
    return sorted(" ".join(str(row[0]).split()[:3]) for row in rows)


def test_two_instances_racing_for_one_slot_give_one_booking_there_and_the_other_case_the_next_slot(
    postgres: PostgresServer, postgres_url: str, tmp_path: Path
) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    SqlStore(postgres_url).migrate()  # as `strategy-bot migrate` before the instances start
    config = config_file(tmp_path)
    mails = []
    for n, number in enumerate(("N146782", "N200301")):
        path = tmp_path / f"request-{n}.eml"
        path.write_bytes(request_email(SENT, subject=f"Strategy discussion {number}", n_number=number))
        mails.append(path)
    env = {**os.environ, "STRATEGY_BOT_DATABASE_URL": postgres_url, "PYTHONPATH": str(REPO)}

    holder = psycopg.connect(postgres.dsn(database))
    holder.execute("LOCK TABLE bookings IN EXCLUSIVE MODE")  # reads go on; the instances' booking rows wait
    instances = [
        subprocess.Popen(
            [sys.executable, "-c", HANDLE, str(config), str(mail), SENT.isoformat()],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mail in mails
    ]
    try:
        try:
            # Both instances are inside their unit of work: one waits on the bookings lock with its event
            # written, the other writing its own event in the same slot, held back by the exclusion
            # constraint until the first's transaction ends. Polled, not slept.
            deadline = time.monotonic() + 180  # an overall bound only
            while waiting(postgres, database) != ["INSERT INTO bookings", "INSERT INTO calendar_events"]:
                ended = [p.communicate() for p in instances if p.poll() is not None]
                assert not ended, ended
                assert time.monotonic() < deadline, "the two instances never both reached the calendar"
                time.sleep(0.05)
        finally:
            holder.rollback()
            holder.close()
        outputs = [p.communicate(timeout=180) for p in instances]
    finally:
        for p in instances:  # a failure above: no instance outlives the test
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert [p.returncode for p in instances] == [0, 0], outputs

    booked = sorted(pair for out, _ in outputs for pair in json.loads(out))
    assert len(booked) == 2 and booked[0][1] != booked[1][1]  # each instance says it booked its case
    store = SqlStore(postgres_url)
    try:
        with store.connection() as conn:
            events = conn.execute(
                select(t.calendar_events.c.start, t.calendar_events.c.end).order_by(t.calendar_events.c.start)
            ).all()
            bookings = conn.execute(select(t.bookings.c.case_id, t.bookings.c.start)).all()
            confirmations = conn.execute(
                select(t.outbox.c.case_id).where(t.outbox.c.purpose == "confirmation").order_by(t.outbox.c.case_id)
            ).scalars()
            confirmed = list(confirmations)
    finally:
        store.dispose()
    # Two events, one after the other: the loser took the next slot, never the same one.
    assert len(events) == 2
    (first_start, first_end), (second_start, _) = events
    assert first_start < second_start and second_start >= first_end
    # Both cases booked, each once, each confirmed once: nothing lost to the race.
    assert len(bookings) == 2 and len({case_id for case_id, _ in bookings}) == 2
    assert sorted(start for _, start in bookings) == [first_start, second_start]
    assert len(confirmed) == 2 and len(set(confirmed)) == 2
