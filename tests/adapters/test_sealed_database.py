"""The database file itself, read byte by byte: with privacy.key_env set no name, phone or manager is in clear."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Config, PrivacyConfig
from bot.ports import IncomingMail
from bot.sealing import new_key
from bot.wiring import build
from tests.support.requests_mail import london, request_email

T0 = london("2026-11-23 09:00")
KEY_ENV = "TEST_STRATEGY_BOT_SEALED_DB_KEY"
PERSONAL = (b"Bondarenko", b"01632 960123", b"Alex Morgan", b"neglect")


def database_bytes(config: Config) -> bytes:
    path = Path(config.store.url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def run_a_case(config: Config) -> None:
    """A request booked, its emails sent, then moved by RESCHEDULE: every write path of a case."""
    bot = build(config)
    try:
        raw = request_email(T0, surname="Bondarenko", message_id="<sealed@council.example>")
        assert bot.service.handle(IncomingMail("k", raw, T0), T0).booked
        at = london("2026-11-23 10:00")
        reschedule = request_email(
            at,
            subject="RE: Strategy discussion N146782",
            message_id="<reschedule@council.example>",
            in_reply_to="<SD000001.confirmation.1@police.example>",
            body="RESCHEDULE\n\nThanks\n",
        )
        bot.service.handle(IncomingMail("r", reschedule, at), at)
        assert bot.delivery is not None and bot.delivery.deliver_due(at).sent >= 2
    finally:
        bot.close()


def test_with_a_key_the_raw_database_holds_no_name_phone_or_manager_and_reads_back(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, new_key())
    sealed = replace(config, privacy=PrivacyConfig(KEY_ENV, 365, config.privacy.purge_time))
    run_a_case(sealed)

    data = database_bytes(sealed)
    assert data and [word for word in PERSONAL if word in data] == []
    assert b"N146782" in data  # the N number is what the bot works by, never sealed

    bot = build(sealed)
    try:
        [event] = bot.calendar.all_events()  # type: ignore[attr-defined]
        assert event.body.startswith("Bondarenko children / Team Manager: Alex Morgan (01632 960123)")
        assert "alex.morgan@council.example" in event.attendees
        with bot.store.transaction() as tx:
            case = tx.case("SD000001")
        assert case is not None and case.details.surname == "Bondarenko"
    finally:
        bot.close()


def test_without_a_key_the_same_case_is_in_clear_bytes(config: Config) -> None:
    run_a_case(config)  # the same scan finds them: the sealed test's scan is not blind
    data = database_bytes(config)
    assert [word for word in PERSONAL[:3] if word in data] == list(PERSONAL[:3])


def test_the_database_and_the_data_folders_are_the_bot_s_user_s_only(config: Config) -> None:
    path = Path(config.store.url.removeprefix("sqlite:///"))
    assert not path.parent.exists()
    run_a_case(config)  # the database, the inbox and the sent Maildir made on the way
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    folders = [path.parent, *(p for p in path.parent.rglob("*") if p.is_dir())]
    assert {config.inbox.path, config.sender.path} <= set(folders)
    assert {str(p.relative_to(path.parent)): oct(stat.S_IMODE(p.stat().st_mode)) for p in folders} == {
        str(p.relative_to(path.parent)): "0o700" for p in folders
    }
