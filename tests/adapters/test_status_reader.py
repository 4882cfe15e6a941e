"""Issue 18: `status` on SQLite reads the file through Python's sqlite3, without importing SQLAlchemy,
and says exactly what it said when it read through ``SqlStore``."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters import sql_outbox, sql_overview, sql_quarantine
from bot.adapters.sql_head import HEAD
from bot.adapters.sql_store import SqlStore
from bot.adapters.sqlite_reader import SqliteReader
from bot.cli import main
from bot.config import ConfigError, load_config
from bot.domain.model import Booking, CaseState, Kind, OutgoingEmail, RequestDetails
from bot.status import render_status, status_json
from bot.store_opening import open_status_view, open_store, open_view
from tests.support.fresh_python import fresh_python

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _fill(store: SqlStore) -> None:
    """Open cases, a closed one, bookings over and to come, timers overdue and pending, an email
    waiting, a quarantined message, the inbox and the sender both failing."""
    with store.transaction() as tx:
        old = NOW - timedelta(days=40)
        closed = tx.add_case(Kind.STANDARD, CaseState.CLOSED, RequestDetails(n_numbers=("N300001",)), "<o>", old, old)
        tx.add_booking(Booking(closed.case_id, "old@x.example", old, old + timedelta(minutes=15)))
        tx.add_timer("old", closed.case_id, "minutes_reminder", old + timedelta(days=1))
        for i in range(3):
            state = (CaseState.NEEDS_PERSON, CaseState.BOOKED)[i % 2]
            numbers = (f"N40000{i}", f"N50000{i}") if i else ()
            case = tx.add_case(Kind.URGENT, state, RequestDetails(n_numbers=numbers), f"<a{i}>", NOW, NOW)
            start = NOW + timedelta(days=2, hours=i)
            tx.add_booking(Booking(case.case_id, f"next{i}@x.example", start, start + timedelta(minutes=15)))
            tx.add_timer(f"next{i}", case.case_id, "reminder_day_before", start - timedelta(days=1))
        tx.add_timer("agenda", None, "daily_agenda", NOW + timedelta(hours=3))
        email = OutgoingEmail("agenda", ("sw@x.example",), (), "Agenda", "text", "", "<agenda@bot.example>")
        tx.queue_email(email, b"raw", NOW)
        tx.record_message("<q>", "f" * 64, NOW - timedelta(hours=2), NOW, "unrecognised", "quarantine", "x", None)
    store.put_state("health:inbox", json.dumps({"ok": False, "since": NOW.isoformat(), "error": "refused"}), NOW)
    outage = {"ok": False, "since": (NOW - timedelta(minutes=7)).isoformat(), "error": "timed out"}
    store.put_state("health:sender", json.dumps(outage), NOW)


def _site(tmp_path: Path, kind: str = "sqlite") -> Path:
    """The example configuration (``store.kind`` as given) with its database made by `init`, then filled."""
    config = tmp_path / "bot.toml"
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    config.write_text(text.replace("[store]\n", f'[store]\nkind = "{kind}"\n', 1), encoding="utf-8")
    assert main(["init", "--config", str(config)]) == 0
    assert main(["migrate", "--config", str(config)]) == 0  # init leaves a server's database to `migrate`
    store = open_store(load_config(config))
    try:
        _fill(store)
    finally:
        store.dispose()
    return config


def test_status_says_the_same_read_by_sqlite3_as_by_sqlalchemy(tmp_path: Path) -> None:
    config = load_config(_site(tmp_path))
    full, light = open_view(config), open_status_view(config)
    try:
        assert isinstance(full.store, SqlStore) and isinstance(light.store, SqliteReader)
        for limit in (2, None):
            text = render_status(light, NOW, limit)
            assert text == render_status(full, NOW, limit)
            assert status_json(light, NOW, limit) == status_json(full, NOW, limit)
        shown = render_status(light, NOW, 2)
    finally:
        full.close()
        light.close()
    assert "Open cases: 3 (urgent booked 1, urgent needs_person 2)" in shown
    assert "  SD000002  urgent    needs_person          (no N number yet)" in shown
    assert "  SD000003  urgent    booked                N400001, N500001" in shown
    assert "  ... 1 more open cases (--all lists every one)" in shown
    assert "Upcoming bookings: 3" in shown and "Wed 25 Nov 2026 09:00-09:15  SD000002" in shown
    assert "Pending timers: 5 (1 OVERDUE)" in shown and "minutes_reminder      SD000001  OVERDUE" in shown
    assert "Inbox (maildir): NOT ANSWERING (refused) since Mon 23 Nov 2026 09:00" in shown
    assert "Mail server (maildir): NOT TAKING MAIL since Mon 23 Nov 2026 08:53 (timed out)" in shown
    assert "Emails waiting to be delivered: 1" in shown
    assert "Quarantined messages: 1 (oldest received Mon 23 Nov 2026 07:00)" in shown


def test_status_on_postgresql_reads_through_sqlalchemy_and_says_what_sqlite_says(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRATEGY_BOT_DATABASE_URL", postgres_url)
    (tmp_path / "pg").mkdir()
    (tmp_path / "lite").mkdir()
    on_postgres, on_sqlite = load_config(_site(tmp_path / "pg", "postgresql")), load_config(_site(tmp_path / "lite"))
    postgres, sqlite = open_status_view(on_postgres), open_status_view(on_sqlite)
    try:
        assert isinstance(postgres.store, SqlStore) and postgres.store.dialect == "postgresql"
        for limit in (2, None):  # the same but for the configuration file's name
            said = render_status(postgres, NOW, limit).replace(str(on_postgres.source), str(on_sqlite.source))
            assert said == render_status(sqlite, NOW, limit)
            assert {**status_json(postgres, NOW, limit), "config": ""} == {
                **status_json(sqlite, NOW, limit),
                "config": "",
            }
        assert "Pending timers: 5 (1 OVERDUE)" in render_status(postgres, NOW, 2)
    finally:
        postgres.close()
        sqlite.close()


RUN = """
import contextlib, io, json, sys
from bot.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "out": out.getvalue(), "sqlalchemy": "sqlalchemy" in sys.modules}))
"""


@pytest.mark.parametrize("json_form", [False, True])
def test_status_on_sqlite_never_imports_sqlalchemy(tmp_path: Path, json_form: bool) -> None:
    config = _site(tmp_path)
    result = fresh_python(tmp_path, RUN, "status", "--config", str(config), *(["--json"] if json_form else []))
    said = json.loads(result["out"])["open_cases"]["count"] if json_form else result["out"]
    assert (result["code"], result["sqlalchemy"]) == (0, False)
    assert said == 3 if json_form else "Open cases: 3 (urgent booked 1, urgent needs_person 2)" in said


@pytest.mark.parametrize(("stamp", "words"), [("0001", "older than this strategy-bot's"), ("9999", "newer")])
def test_a_database_at_another_revision_is_refused_as_by_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stamp: str, words: str
) -> None:
    config_path = _site(tmp_path)
    config = load_config(config_path)
    database = Path(config.store.url.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (stamp,))
    conn.close()
    assert SqliteReader.at_head(database, config.store.url) is None
    with pytest.raises(ConfigError) as refused:
        open_view(config)
    assert words in str(refused.value)
    capsys.readouterr()
    assert main(["status", "--config", str(config_path)]) == 2
    assert capsys.readouterr().err == f"strategy-bot: configuration error: {refused.value}\n"


def test_a_sealed_site_without_its_key_is_refused_before_anything_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _site(tmp_path)
    text = config.read_text(encoding="utf-8")
    assert '# key_env = "STRATEGY_BOT_SEALING_KEY"' in text
    config.write_text(text.replace('# key_env = "STRATEGY_BOT_SEALING_KEY"', 'key_env = "STRATEGY_BOT_NO_KEY"'))
    monkeypatch.delenv("STRATEGY_BOT_NO_KEY", raising=False)
    capsys.readouterr()  # what init said
    assert main(["status", "--config", str(config)]) == 2
    said = capsys.readouterr()
    assert "privacy.key_env: environment variable 'STRATEGY_BOT_NO_KEY' is not set" in said.err
    assert said.out == ""


def test_the_reader_opens_only_a_database_stamped_at_head(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sqlite3"
    assert SqliteReader.at_head(missing, f"sqlite:///{missing}") is None
    assert not missing.exists()  # never created empty
    bare = tmp_path / "bare.sqlite3"
    sqlite3.connect(bare).close()
    assert SqliteReader.at_head(bare, f"sqlite:///{bare}") is None  # no alembic_version: a new database
    with sqlite3.connect(bare) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES (?)", (HEAD,))
    conn.close()
    reader = SqliteReader.at_head(bare, f"sqlite:///{bare}")
    assert reader is not None
    reader.dispose()


def test_the_overview_s_own_words_are_the_store_s() -> None:
    assert sql_overview.WAITING == sql_outbox.WAITING
    assert sql_overview.QUARANTINE == sql_quarantine.QUARANTINE
