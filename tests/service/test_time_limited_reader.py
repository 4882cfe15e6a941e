"""The time-limited reader: each message read once in a worker, a stuck one stopped, the worker stopped at close.

The stub read functions (``tests/support/reading_stubs.py``) name the process that read each
message, so where a message was read is seen, not inferred from timing. The only time limit
that matters here is one a stuck message always exceeds.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.config import Config
from bot.mail.reading import ReadingLimits, TooSlow, read_message
from bot.ports import IncomingMail
from bot.reading_limit import TimeLimitedReader
from bot.service import StrategyService
from bot.wiring import build
from tests.support.reading_stubs import read_where, stub_read
from tests.support.requests_mail import london, plain_text, queued_emails, request_email

LIMITS = ReadingLimits(500, 100, 10)
OWN = frozenset({"referrals@police.example"})
# Only so that a reader that fails to stop fails the test instead of hanging the suite.
GIVE_UP_SECONDS = 180.0  # an overall bound only: a busy machine may be slow


@pytest.fixture
def reader() -> Iterator[TimeLimitedReader]:
    # A limit no ordinary reading comes near; only a stuck one reaches it.
    built = TimeLimitedReader(2.0, OWN, LIMITS, read=stub_read)
    yield built
    built.close()


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.01)


def in_thread(call: Callable[[], object]) -> object:
    """``call()``, failing the test instead of hanging the suite if it never returns."""
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(call()), daemon=True)
    worker.start()
    worker.join(GIVE_UP_SECONDS)
    assert results, "gave up waiting"
    return results[0]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_with_no_limit_each_message_is_read_in_this_process() -> None:
    reader = TimeLimitedReader(0, OWN, LIMITS, read=stub_read)
    reader.read_ahead([b"a", b"b"])
    assert read_where(reader.read(b"a")) == ("a", os.getpid())
    assert read_where(reader.read(b"b")) == ("b", os.getpid())
    reader.close()


def test_a_message_read_in_the_worker_reads_as_it_does_here() -> None:
    raw = request_email(london("2026-11-23 09:00"))
    reader = TimeLimitedReader(30.0, OWN, LIMITS)
    try:
        assert reader.read(raw) == read_message(raw, OWN, LIMITS)
    finally:
        reader.close()


def test_a_batch_read_ahead_gives_each_message_its_own_reading_in_any_order(reader: TimeLimitedReader) -> None:
    batch = [b"first", b"second", b"third"]
    reader.read_ahead(batch)
    third, worker = read_where(reader.read(batch[2]))
    assert third == "third" and worker != os.getpid()
    assert read_where(reader.read(batch[0])) == ("first", worker)
    assert read_where(reader.read(batch[1])) == ("second", worker)
    # Equal bytes that were not read ahead are read in their turn.
    assert read_where(reader.read(b"first")) == ("first", worker)


def test_a_message_stuck_past_the_limit_is_too_slow_and_its_worker_replaced(reader: TimeLimitedReader) -> None:
    _, worker = read_where(reader.read(b"before"))
    stuck, after, last = b"STALL", b"after", b"last"
    reader.read_ahead([stuck, after, last])

    assert reader.read(stuck) == TooSlow("reading the message took longer than 2 s (inbox.parse_seconds)")
    assert gone(worker)
    # The messages read ahead behind it are read by the fresh worker.
    text, fresh = read_where(reader.read(after))
    assert text == "after" and fresh not in (worker, os.getpid())
    assert read_where(reader.read(last)) == ("last", fresh)


def test_a_message_that_cannot_be_read_raises_as_it_would_here_and_the_worker_stays(
    reader: TimeLimitedReader,
) -> None:
    _, worker = read_where(reader.read(b"before"))
    with pytest.raises(ValueError, match="cannot be read"):
        reader.read(b"BOOM")
    assert read_where(reader.read(b"after")) == ("after", worker)


def test_a_worker_killed_under_a_message_has_it_read_again_in_a_fresh_worker(
    reader: TimeLimitedReader, tmp_path: Path
) -> None:
    _, worker = read_where(reader.read(b"before"))
    text, fresh = read_where(reader.read(f"DIE-ONCE {tmp_path / 'started'}".encode()))
    assert text.startswith("DIE-ONCE") and fresh not in (worker, os.getpid())


def test_a_stuck_message_whose_worker_is_killed_from_outside_is_still_stopped_at_the_limit(
    reader: TimeLimitedReader, tmp_path: Path
) -> None:
    _, worker = read_where(reader.read(b"before"))
    stuck = f"STALL {tmp_path / 'started'}".encode()
    reader.read_ahead([stuck])
    wait_for(lambda: (tmp_path / "started").exists())
    os.kill(worker, signal.SIGTERM)  # as systemd's SIGTERM to the process group does
    # Never read here without a limit, where it would hang the daemon.
    assert in_thread(lambda: reader.read(stuck)) == TooSlow(
        "reading the message took longer than 2 s (inbox.parse_seconds)"
    )


def test_a_message_that_ends_every_worker_is_read_here_and_the_next_in_a_fresh_worker(
    reader: TimeLimitedReader,
) -> None:
    _, worker = read_where(reader.read(b"before"))
    assert read_where(reader.read(b"DIE")) == ("DIE", os.getpid())
    text, fresh = read_where(reader.read(b"after"))
    assert text == "after" and fresh not in (worker, os.getpid())


def test_a_worker_killed_while_idle_is_replaced(reader: TimeLimitedReader) -> None:
    _, worker = read_where(reader.read(b"before"))
    os.kill(worker, signal.SIGTERM)
    for raw in (b"next", b"then"):
        text, where = read_where(reader.read(raw))
        assert text == raw.decode() and where != worker
    assert read_where(reader.read(b"last"))[1] not in (worker, os.getpid())


def test_close_stops_the_worker_whatever_it_is_doing(reader: TimeLimitedReader) -> None:
    _, worker = read_where(reader.read(b"before"))
    reader.read_ahead([b"STALL"])
    in_thread(reader.close)
    assert gone(worker)
    reader.close()  # twice is harmless


def test_the_bot_reads_in_its_reader_and_close_stops_it(config: Config) -> None:
    before = set(multiprocessing.active_children())
    bot = build(config)
    assert config.inbox.parse_seconds > 0
    at = london("2026-11-23 09:00")
    result = bot.service.handle(IncomingMail("k", request_email(at), at), at)
    assert result.outcome == "processed" and result.case_id
    started = set(multiprocessing.active_children()) - before
    assert started, "the message should have been read in a worker"
    bot.close()
    assert not set(multiprocessing.active_children()) & started


def test_a_message_stuck_past_the_limit_is_quarantined_unread_and_the_administrator_told(config: Config) -> None:
    bot = build(config)
    stub = TimeLimitedReader(2.0, OWN, LIMITS, read=stub_read)
    service = StrategyService(bot.config, bot.store, bot.calendar, bot.renderer, reader=stub)
    at = london("2026-11-23 09:00")
    try:
        result = service.handle(IncomingMail("k", b"STALL", at), at)
        assert result.outcome == "quarantine"
        assert result.reason == "reading the message took longer than 2 s (inbox.parse_seconds)"
        [notice] = queued_emails(bot)
        assert str(notice["To"]) == config.people.administrator
        assert "reading the message took longer than 2 s (inbox.parse_seconds)" in plain_text(notice)
        # A second delivery is recognised by its content: one quarantine, one notice.
        again = service.handle(IncomingMail("k2", b"STALL", at), at)
        assert again.duplicate and again.outcome == "quarantine"
        assert len(queued_emails(bot)) == 1
    finally:
        stub.close()
        bot.close()
