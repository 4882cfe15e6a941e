"""Personal data at rest: sealed with a key from the environment, purged after the retention period."""

from __future__ import annotations

import mailbox
import os
import sqlite3
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.config import Config, ConfigError, PrivacyConfig
from bot.daemon import Daemon
from bot.domain.model import CaseState, RequestDetails
from bot.errors import PermanentError
from bot.ports import Folder, IncomingMail
from bot.sealing import new_key
from bot.status import render_history
from bot.wiring import Bot, build
from tests.support.requests_mail import StepClock, london, request_email

T0 = london("2026-11-23 09:00")
KEY_ENV = "TEST_STRATEGY_BOT_KEY"


def sealed_config(config: Config, retention_days: int = 365) -> Config:
    return replace(config, privacy=PrivacyConfig(KEY_ENV, retention_days, config.privacy.purge_time))


def db_rows(config: Config, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(config.store.url.removeprefix("sqlite:///"))
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def request(n: str = "N146782") -> IncomingMail:
    raw = request_email(
        T0, subject=f"Strategy discussion {n}", n_number=n, surname="Bondarenko-Whitfield", message_id=f"<{n}@x>"
    )
    return IncomingMail(n, raw, T0)


def test_case_details_and_stored_emails_are_sealed_and_still_work(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, new_key())
    bot = build(sealed_config(config))
    try:
        result = bot.service.handle(request(), T0)
        assert result.case_id == "SD000001" and result.booked
        [(details,)] = db_rows(config, "SELECT details FROM cases")
        assert str(details).startswith("sealed:v1:") and "Bondarenko" not in str(details)
        stored = [bytes(raw) for (raw,) in db_rows(config, "SELECT raw FROM outbox")]  # type: ignore[call-overload]
        assert stored and all(raw.startswith(b"sealed:v1:") for raw in stored), [r[:40] for r in stored]
        assert not [raw for raw in stored if b"Bondarenko" in raw]
        # Opened again for the people who need it: the delivered email and the case as read back.
        assert bot.delivery is not None and bot.delivery.deliver_due(T0).sent == len(stored)
        delivered = [bytes(m) for m in mailbox.Maildir(config.sender.path, create=False)]
        assert any(b"Bondarenko-Whitfield" in raw for raw in delivered)
        with bot.store.transaction() as tx:
            case = tx.case("SD000001")
        assert case is not None and case.details.surname == "Bondarenko-Whitfield"
    finally:
        bot.close()


def test_a_rotated_key_opens_what_the_old_one_sealed_and_a_wrong_one_says_so(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = new_key()
    monkeypatch.setenv(KEY_ENV, old)
    bot = build(sealed_config(config))
    bot.service.handle(request(), T0)
    bot.close()

    monkeypatch.setenv(KEY_ENV, f"{new_key()},{old}")
    bot = build(sealed_config(config))
    with bot.store.transaction() as tx:
        case = tx.case("SD000001")
    assert case is not None and case.details.surname == "Bondarenko-Whitfield"
    bot.close()

    monkeypatch.setenv(KEY_ENV, new_key())
    bot = build(sealed_config(config))
    with pytest.raises(PermanentError, match="privacy.key_env"), bot.store.transaction() as tx:
        tx.case("SD000001")
    bot.close()

    bot = build(config)  # sealing turned off: the sealed rows are not silently misread
    with pytest.raises(PermanentError, match="set privacy.key_env"), bot.store.transaction() as tx:
        tx.case("SD000001")
    bot.close()


def test_a_missing_or_malformed_key_stops_the_start(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ConfigError, match=f"privacy.key_env: environment variable '{KEY_ENV}' is not set"):
        build(sealed_config(config))
    monkeypatch.setenv(KEY_ENV, "not-a-key")
    with pytest.raises(ConfigError, match="does not hold a valid key"):
        build(sealed_config(config))


def finish(bot: Bot, case_id: str, when: object) -> None:
    with bot.store.transaction() as tx:
        tx.update_case(case_id, when, state=CaseState.CLOSED)  # type: ignore[arg-type]
        tx.cancel_timers(case_id)


def test_finished_cases_keep_only_their_n_numbers_after_the_retention_period(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, new_key())
    bot = build(sealed_config(config, retention_days=30))
    try:
        bot.service.handle(request("N146782"), T0)
        bot.service.handle(request("N146783"), T0)
        finish(bot, "SD000001", T0 + timedelta(days=2))  # SD000002 stays booked: never purged
        assert bot.delivery is not None
        sent = bot.delivery.deliver_due(T0).sent
        assert sent >= 2

        # 31 days on: every sent email is over 30 days old; SD000001 finished only 29 days ago.
        assert bot.service.purge(T0 + timedelta(days=31)) == (0, sent)
        assert bot.service.purge(T0 + timedelta(days=33)) == (1, 0)
        assert bot.service.purge(T0 + timedelta(days=34)) == (0, 0)  # nothing twice

        with bot.store.transaction() as tx:
            purged, kept = tx.case("SD000001"), tx.case("SD000002")
        assert purged is not None and purged.details == RequestDetails(n_numbers=("N146782",))
        assert kept is not None and kept.details.surname == "Bondarenko-Whitfield"
        subjects = db_rows(config, "SELECT case_id, subject, length(raw) FROM outbox WHERE case_id = 'SD000001'")
        assert subjects and all(subject == "(purged)" and size == 0 for _, subject, size in subjects)
        history = render_history(bot, "N146782") or ""
        assert "purged: personal details and stored emails removed" in history
        assert "Bondarenko" not in history
        events = {e.subject: e for e in bot.calendar.all_events()}  # type: ignore[attr-defined]
        assert events["Strategy discussion N146782"].body == ""  # the family's name went with it
        assert events["Strategy discussion N146782"].attendees == ()
        assert "Bondarenko-Whitfield" in events["Strategy discussion N146783"].body
    finally:
        bot.close()


def test_the_history_is_append_only_in_the_database_itself(config: Config) -> None:
    bot = build(config)
    try:
        bot.service.handle(request("N146782"), T0)
        with pytest.raises(IntegrityError, match="the history is append-only"), bot.store.connection() as conn:
            conn.execute(text("UPDATE history SET detail = 'rewritten'"))
        with pytest.raises(IntegrityError, match="the history is append-only"), bot.store.connection() as conn:
            conn.execute(text("DELETE FROM history"))
        assert "received: standard request for N146782" in (render_history(bot, "N146782") or "")
    finally:
        bot.close()


def test_the_daemon_purges_once_a_day_after_purge_time_and_empties_old_handled_mail(config: Config) -> None:
    bot = build(replace(config, privacy=PrivacyConfig(None, 30, config.privacy.purge_time)))
    assert bot.inbox is not None
    inbox_path = config.inbox.path
    old_key = bot.inbox.deliver(bytes(request("N146782").raw))  # type: ignore[attr-defined]
    clock = StepClock(london("2026-12-30 02:00"))
    daemon = Daemon(bot, clock)
    try:
        daemon.round()  # handles the request; before 02:30: no purge
        processed = mailbox.Maildir(inbox_path / ".Processed", factory=None, create=False)
        assert len(processed) == 1
        [path] = (inbox_path / ".Processed" / "cur").iterdir()
        delivered = london("2026-11-23 09:00").timestamp()
        os.utime(path, (delivered, delivered))
        assert old_key

        clock.at = london("2026-12-30 02:31")
        daemon.round()
        assert len(processed) == 0
        assert bot.store.get_state("purge:last") == "2026-12-30"
        with bot.store.transaction() as tx:
            notes = [h.detail for h in tx.history(None) if h.action == "purged"]
        assert notes == ["1 handled messages from the inbox's folders"]

        daemon.round()  # the same day again: nothing more
        with bot.store.transaction() as tx:
            assert len([h for h in tx.history(None) if h.action == "purged"]) == 1
    finally:
        bot.close()


def test_the_handled_folders_are_purged_by_delivery_time_and_the_inbox_never(config: Config) -> None:
    bot = build(config)
    try:
        inbox = bot.inbox
        assert inbox is not None
        keep = inbox.deliver(bytes(request("N1").raw))  # type: ignore[attr-defined]
        gone = inbox.deliver(bytes(request("N2").raw))  # type: ignore[attr-defined]
        inbox.move(gone, Folder.TRIAGE)
        assert inbox.purge(T0 + timedelta(days=3650)) == 1  # type: ignore[attr-defined]
        assert [m.key for m in inbox.pending()] == [keep]
    finally:
        bot.close()
