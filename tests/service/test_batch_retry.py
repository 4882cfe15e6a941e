"""A batch of messages whose third fails (issue 18): no savepoint per message, so the batch is
rolled back and handled again one message at a time; the bad one is quarantined alone, the
others handled once each. And a batch leaves the same history as messages handled one by one.
Both on SQLite and on PostgreSQL.

The failure is a real one: a deployment's confirmation template naming a value the bot does
not provide, so a standard request (which is confirmed) fails after it has written its case,
its booking and its history, while urgent requests (acknowledged by other templates) go through.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import load_config
from bot.daemon import Daemon
from bot.ports import IncomingMail
from bot.wiring import Bot, build
from tests.support.requests_mail import StepClock, london, request_email
from tests.support.stores import ENGINES

SENT = london("2026-11-23 09:00")
REPO = Path(__file__).resolve().parents[2]
URL_ENV = "STRATEGY_BOT_DATABASE_URL"  # store.postgresql.url_env's default

# A bot built on a fresh database in the given folder: (folder, broken confirmation template) -> Bot.
Builder = Callable[[Path, bool], Bot]


@pytest.fixture(params=ENGINES)
def make_bot(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Builder]:
    made: list[str] = []
    engine = str(request.param)
    server = request.getfixturevalue("postgres") if engine == "postgresql" else None

    def make(folder: Path, broken_confirmation: bool) -> Bot:
        templates = folder / "templates"
        shutil.copytree(REPO / "mail_templates", templates)
        if broken_confirmation:
            (templates / "confirmation.txt.j2").write_text("{{ no_such_value }}\n", encoding="utf-8")
        example = (REPO / "config.example.toml").read_text(encoding="utf-8")
        example = example.replace("[store]\n", f'[store]\nkind = "{engine}"\n', 1)
        (folder / "bot.toml").write_text(f'templates_dir = "{templates}"\n' + example, encoding="utf-8")
        if server is not None:
            made.append(server.create_database())
            monkeypatch.setenv(URL_ENV, made[-1])
        return build(load_config(folder / "bot.toml"))

    yield make
    for url in made:
        server.drop_database(url)


def rows(bot: Bot, sql: str) -> list[tuple[object, ...]]:
    with bot.store.connection() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def five_requests() -> list[tuple[str, bytes]]:
    """Urgent, urgent, standard (the third), urgent, urgent: (Message-ID, raw)."""
    mails = []
    for n in range(1, 6):
        message_id = f"<batch-{n}@council.example>"
        subject = f"Strategy discussion N22222{n}" if n == 3 else f"URGENT S47 ENQUIRY N22222{n}"
        mails.append((message_id, request_email(SENT, subject=subject, message_id=message_id, n_number=f"N22222{n}")))
    return mails


def put_in_inbox(tmp_path: Path, mails: list[tuple[str, bytes]]) -> list[str]:
    """Each message in the Maildir inbox's new/, delivered a second apart in this order; their file names."""
    new = tmp_path / "strategy-bot-data" / "inbox" / "new"
    names = []
    for n, (_, raw) in enumerate(mails):
        path = new / f"1700000000.batch{n}.example"
        path.write_bytes(raw)
        stamp = SENT.timestamp() + n
        os.utime(path, (stamp, stamp))
        names.append(path.name)
    return names


def in_folder(tmp_path: Path, folder: str) -> list[str]:
    cur = tmp_path / "strategy-bot-data" / "inbox" / f".{folder}" / "cur"
    return sorted(p.name.split(":")[0] for p in cur.iterdir()) if cur.exists() else []


def test_a_batch_whose_third_message_fails_is_handled_again_one_by_one(
    tmp_path: Path, make_bot: Builder, caplog: pytest.LogCaptureFixture
) -> None:
    bot = make_bot(tmp_path, True)
    try:
        mails = five_requests()
        names = put_in_inbox(tmp_path, mails)
        with caplog.at_level(logging.INFO):
            Daemon(bot, StepClock(SENT + timedelta(minutes=1))).round()

        assert in_folder(tmp_path, "Quarantine") == [names[2]]
        assert in_folder(tmp_path, "Processed") == sorted(names[:2] + names[3:])
        assert not list((tmp_path / "strategy-bot-data" / "inbox" / "new").iterdir())
        # Every message recorded once: four handled, the standard one quarantined.
        assert sorted(rows(bot, "SELECT message_id, outcome FROM messages")) == sorted(
            (message_id, "quarantine" if n == 2 else "processed") for n, (message_id, _) in enumerate(mails)
        )
        # One case for each urgent request, none for the quarantined one (its writes were rolled back).
        assert sorted(rows(bot, "SELECT n_numbers FROM cases")) == [(f"N22222{n}",) for n in (1, 2, 4, 5)]
        received = rows(bot, "SELECT case_id, COUNT(*) FROM history WHERE action = 'received' GROUP BY case_id")
        assert len(received) == 4 and all(count == 1 for _, count in received)
        assert rows(bot, "SELECT message_id FROM history WHERE action = 'quarantined'") == [(mails[2][0],)]
        assert rows(bot, "SELECT COUNT(*) FROM bookings") == [(0,)]  # the standard one's booking rolled back
        acknowledged = rows(
            bot, "SELECT case_id, COUNT(*) FROM outbox WHERE purpose = 'urgent_acknowledgement' GROUP BY case_id"
        )
        assert len(acknowledged) == 4 and all(count == 1 for _, count in acknowledged)
        assert rows(bot, "SELECT COUNT(*) FROM outbox WHERE purpose = 'quarantine_notice'") == [(1,)]
    finally:
        bot.close()
    assert any("the batch is rolled back" in r.getMessage() for r in caplog.records)


def test_mail_from_an_untrusted_sender_in_a_batch_is_quarantined_and_the_rest_handled_once(
    tmp_path: Path, make_bot: Builder, caplog: pytest.LogCaptureFixture
) -> None:
    """Refused after reading only: on SQLite nothing was written, so the batch goes on without a retry."""
    bot = make_bot(tmp_path, False)
    try:
        mails = five_requests()
        untrusted = "<untrusted@evil.example>"
        mails[2] = (untrusted, request_email(SENT, sender="Eve <eve@evil.example>", message_id=untrusted))
        names = put_in_inbox(tmp_path, mails)
        with caplog.at_level(logging.INFO):
            Daemon(bot, StepClock(SENT + timedelta(minutes=1))).round()
        assert in_folder(tmp_path, "Quarantine") == [names[2]]
        assert in_folder(tmp_path, "Processed") == sorted(names[:2] + names[3:])
        assert sorted(rows(bot, "SELECT message_id, outcome FROM messages")) == sorted(
            (message_id, "quarantine" if n == 2 else "processed") for n, (message_id, _) in enumerate(mails)
        )
        received = rows(bot, "SELECT case_id, COUNT(*) FROM history WHERE action = 'received' GROUP BY case_id")
        assert len(received) == 4 and all(count == 1 for _, count in received)
        assert rows(bot, "SELECT message_id FROM history WHERE action = 'quarantined'") == [(untrusted,)]
        on_sqlite = bot.config.store.kind == "sqlite"
    finally:
        bot.close()
    retried = any("the batch is rolled back" in r.getMessage() for r in caplog.records)
    assert retried is not on_sqlite  # PostgreSQL cannot tell that nothing was written: it does the batch again


def test_a_batch_leaves_the_same_history_timers_and_outbox_as_messages_handled_one_by_one(
    tmp_path: Path, make_bot: Builder
) -> None:
    later = SENT + timedelta(minutes=5)
    mails = [
        (SENT, request_email(SENT, message_id="<s1@council.example>")),
        (SENT, request_email(SENT, subject="URGENT S47 ENQUIRY N333333", message_id="<u1@council.example>")),
        (SENT, request_email(SENT, message_id="<s2@council.example>", n_number="N444444", phone=None)),
        (later, request_email(later, message_id="<s1@council.example>")),  # the first again: a duplicate
        (later, request_email(later, message_id="<s3@council.example>", n_number="N555555")),
    ]
    tables = {
        "history": "SELECT id, case_id, at, actor, action, detail, message_id FROM history ORDER BY id",
        "timers": "SELECT id, key, case_id, purpose, due_at, status, scope FROM timers ORDER BY id",
        "outbox": "SELECT id, case_id, purpose, message_id, status FROM outbox ORDER BY id",
        "messages": "SELECT message_id, kind, outcome, case_id FROM messages ORDER BY message_id",
    }
    found: dict[bool, dict[str, list[tuple[object, ...]]]] = {}
    for batched in (False, True):
        work = tmp_path / ("batched" if batched else "one-by-one")
        work.mkdir()
        bot = make_bot(work, False)
        try:
            incoming = [IncomingMail(f"k{n}", raw, at) for n, (at, raw) in enumerate(mails)]
            if batched:
                with bot.store.batch():
                    handled = [bot.service.handle(mail, mail.received_at) for mail in incoming]
            else:
                handled = [bot.service.handle(mail, mail.received_at) for mail in incoming]
            assert [h.duplicate for h in handled] == [False, False, False, True, False]
            found[batched] = {name: rows(bot, sql) for name, sql in tables.items()}
        finally:
            bot.close()
    assert len(found[False]["history"]) > 10 and len(found[False]["timers"]) >= 5
    assert found[True] == found[False]
