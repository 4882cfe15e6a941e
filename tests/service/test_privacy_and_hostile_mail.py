"""Nothing leaked, nothing stops the loop: a personal-data scan over a week of mail, and a bounded fuzz run."""

from __future__ import annotations

import email
import email.policy
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.adapters import sql_schema as t
from bot.config import load_config
from bot.logging_setup import JsonFormatter
from bot.metrics import render_metrics
from bot.ports import IncomingMail
from bot.replay import Replay, load
from bot.wiring import Bot, build
from tests.support.requests_mail import london, queued_emails

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.eml"))

# What the example requests say about children and families: none of it may reach a calendar
# subject or location, an email subject, a log line, a metric, the history or the timers.
PERSONAL = [
    "Bond",
    "Okafor",
    "Lewis",
    "Patel-Hughes",
    "Achterberg",
    "Súilleabháin",
    "Grant",
    "Novak",
    "James",
    "Daniel",
    "Asha",
    "Renée",
    "03/04/2016",
    "12/09/2019",
    "14/02/2013",
    "11/08/2026",
    "Orchard Close",
    "Mill Lane",
    "Station Road",
    "NN1 4AB",
    "bruising",
    "belt",
    "hungry",
    "home alone",
    "neglect",
    "alcohol",
    "hit him",
    "exploit",
]


SURNAMES = {"Bond", "Okafor", "Lewis", "Patel-Hughes", "Achterberg", "Súilleabháin", "Grant", "Novak"}


def test_a_week_of_mail_leaks_no_personal_data(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    replay = Replay(load_config(None, base=tmp_path), workdir=tmp_path / "state")
    try:
        saved = load(EXAMPLES)
        for _ in replay.run(saved, until=london("2026-12-20 00:00")):
            pass
        bot = replay.bot
        events = bot.calendar.all_events()
        with bot.store.connection() as conn:
            history = [f"{r.actor} {r.action} {r.detail}" for r in conn.execute(select(t.history))]
            timers = [f"{r.key} {r.purpose} {r.detail}" for r in conn.execute(select(t.timers))]
        subjects = [str(m["Subject"]) for m in queued_emails(bot)]
        metrics = render_metrics(bot, london("2026-12-20 00:00")).splitlines()
    finally:
        replay.close()
    assert events and subjects and history and timers
    assert any(line.startswith("strategy_bot_messages_total{") for line in metrics)
    assert any("booked" in r.getMessage() for r in caplog.records)  # the scan reads real log lines
    places = {
        "calendar subject": [e.subject for e in events],
        "calendar location": [e.location for e in events],
        "email subject": subjects,
        "log line": caplog.text.splitlines(),  # messages and any traceback logged with them
        "JSON log line": [JsonFormatter().format(r) for r in caplog.records],  # [logging] format = "json"
        "history": history,
        "timers": timers,
        "metric": metrics,
    }
    leaks = [(where, word) for where, texts in places.items() for text in texts for word in PERSONAL if word in text]
    assert leaks == []
    # The event body may name the family by surname (§3.5: "<surname> children"), and nothing more.
    beyond = [w for w in PERSONAL if w not in SURNAMES]
    bodies = [e.body for e in events]
    assert any("Bond children" in body for body in bodies)  # the scan reads real bodies
    assert [(body[:40], word) for body in bodies for word in beyond if word in body] == []
    assert all(e.subject.startswith("Strategy discussion N") for e in events)


def _mutations(raw: bytes) -> st.SearchStrategy[bytes]:
    def mutate(data: bytes, cuts: list[tuple[int, int, bytes]]) -> bytes:
        for position, length, insert in cuts:
            position %= max(1, len(data))
            data = data[:position] + insert + data[position + length :]
        return data

    hostile = st.sampled_from(
        [
            b"\r\n",
            b"\n\n",
            b"\x00",
            b"=?utf-8?b?",
            b"Content-Type: multipart/mixed; boundary=x\r\n",
            b"--x\r\n",
            b"\r\nBcc: victim@evil.example\r\n",
            b"\xff\xfe",
            b"From: a@b.example, c@d.example\r\n",
            b"<",
            b">",
        ]
    )
    cut = st.tuples(st.integers(0, 10_000), st.integers(0, 40), st.one_of(hostile, st.binary(max_size=30)))
    return st.lists(cut, max_size=6).map(lambda cuts: mutate(raw, cuts))


@pytest.fixture(scope="module")
def fuzz_bot(tmp_path_factory: pytest.TempPathFactory) -> Bot:
    config = load_config(None, base=tmp_path_factory.mktemp("fuzz"))
    # No caps on notices and replies: every message's emails are written, so every header is checked.
    unlimited = replace(
        config.trust,
        max_quarantine_notices_per_hour=10**9,
        max_replies_per_sender_per_hour=10**9,
        max_replies_per_minute=10**9,
    )
    return build(replace(config, trust=unlimited), with_mail=False)


SEEDS = [p.read_bytes() for p in EXAMPLES]
OUTCOMES = {"processed", "triage", "quarantine", "ignored"}


# The slowest handling seen, for the long run's report (STRATEGY_BOT_FUZZ_REPORT names a file).
SLOWEST = [0.0]
HEADER_LINE = re.compile(rb"^[A-Za-z0-9-]+: ")


def assert_clean_head(raw: bytes) -> None:
    """On the wire: every header line is a header or its folded continuation, each header once."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    names = []
    for line in head.split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line and b"\x00" not in line, line[:80]
        if line[:1] in (b" ", b"\t"):
            continue
        assert HEADER_LINE.match(line), line[:80]
        names.append(line.split(b":", 1)[0].lower())
    assert b"bcc" not in names and len(names) == len(set(names)), names


@pytest.fixture(scope="module", autouse=True)
def fuzz_report() -> Iterator[None]:
    yield
    report = os.environ.get("STRATEGY_BOT_FUZZ_REPORT")
    if report:
        Path(report).write_text(f"slowest handling: {SLOWEST[0]:.3f} s\n", encoding="utf-8")


# The suite runs a bounded fuzz; set STRATEGY_BOT_FUZZ_EXAMPLES for the long run by hand.
FUZZ_EXAMPLES = int(os.environ.get("STRATEGY_BOT_FUZZ_EXAMPLES", "120"))


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.one_of(st.binary(max_size=3000), st.sampled_from(SEEDS).flatmap(_mutations)))
def test_any_bytes_end_in_exactly_one_outcome_and_no_header_carries_a_line_break(fuzz_bot: Bot, data: bytes) -> None:
    at = london("2026-11-23 09:00")
    with fuzz_bot.store.transaction() as tx:
        before = tx.conn.execute(select(func.count()).select_from(t.outbox)).scalar_one()
    started = time.perf_counter()
    result = fuzz_bot.service.handle(IncomingMail("fuzz", data, at), at)
    SLOWEST[0] = max(SLOWEST[0], time.perf_counter() - started)
    assert result.outcome in OUTCOMES
    for msg in queued_emails(fuzz_bot, after=before):
        for name, value in msg.items():
            assert "\r" not in str(value) and "\n" not in str(value), name
        assert msg["Bcc"] is None
    with fuzz_bot.store.connection() as conn:
        raws = [row.raw for row in conn.execute(select(t.outbox.c.raw).order_by(t.outbox.c.id).offset(before))]
    for raw in raws:
        assert_clean_head(raw)
    again = fuzz_bot.service.handle(IncomingMail("fuzz", data, at), at)
    assert again.duplicate and again.outcome == result.outcome


def test_the_fuzz_seeds_are_parseable_examples() -> None:
    assert len(SEEDS) >= 10
    assert all(email.message_from_bytes(s, policy=email.policy.default)["Message-ID"] for s in SEEDS)
