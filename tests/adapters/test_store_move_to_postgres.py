"""`strategy-bot migrate` as an administrator runs it: the schema brought up to date, and SQLite moved onto PostgreSQL.

The SQLite database moved is a real one: the examples/ requests replayed through the service on the
simulated clock, with their timers fired for three days (cases, bookings, calendar events, emails,
timers fired and pending, the history). After the move every row of every table is equal on both
sides, and the PostgreSQL store goes on numbering cases after the last one copied.
"""

from __future__ import annotations

import sqlite3
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.adapters import sql_migrations as migrations
from bot.adapters.sql_copy import copied_tables
from bot.adapters.sql_store import SqlStore
from bot.cli import main
from bot.config import ConfigError, load_config
from bot.domain.model import CaseState, Kind, RequestDetails
from bot.replay import Replay, load
from bot.wiring import check_kinds
from tests.support.ports import Ports

REPO = Path(__file__).resolve().parents[2]
LEGACY_V4 = REPO / "tests" / "fixtures" / "legacy_store_v4.sql"


def config_file(tmp_path: Path, kind: str, path: Path | None = None) -> Path:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    text = text.replace("[store]\n", f'[store]\nkind = "{kind}"\n', 1)
    if path is not None:
        text = text.replace('path = "strategy-bot-data/bot.sqlite3"', f'path = "{path}"', 1)
    made = tmp_path / f"{kind}.toml"
    made.write_text(text, encoding="utf-8")
    return made


def replayed_sqlite(tmp_path: Path) -> Path:
    """The examples replayed into an SQLite database, timers fired three days on; its path."""
    engine = Replay(load_config(None, base=tmp_path), workdir=tmp_path / "replayed")
    saved = load([REPO / "examples"])
    last = max(item.received_at for item in saved if item.received_at is not None)
    try:
        for _ in engine.run(saved, last + timedelta(days=3)):
            pass
    finally:
        engine.close()
    return tmp_path / "replayed" / "bot.sqlite3"


def every_row(store: SqlStore) -> dict[str, list[dict[str, object]]]:
    with store.connection() as conn:
        return {
            table.name: [
                dict(row)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns, *table.columns)).mappings()
            ]
            for table in copied_tables()
        }


def test_sqlite_moves_onto_postgresql_with_every_row_equal(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = replayed_sqlite(tmp_path)
    monkeypatch.setenv("STRATEGY_BOT_DATABASE_URL", postgres_url)
    config = config_file(tmp_path, "postgresql")

    assert main(["migrate", "--config", str(config), "--from-sqlite", str(source)]) == 0
    said = capsys.readouterr().out

    before, after = SqlStore(f"sqlite:///{source}"), SqlStore(postgres_url)
    try:
        rows, moved = every_row(before), every_row(after)
        assert {name: len(found) for name, found in moved.items()} == {name: len(found) for name, found in rows.items()}
        assert len(rows["cases"]) >= 8 and rows["history"] and rows["timers"] and rows["calendar_events"]
        assert any(r["status"] == "pending" for r in rows["timers"]) and any(
            r["status"] == "fired" for r in rows["timers"]
        )
        assert moved == rows
        for name, found in rows.items():
            assert f"  {name:<16}{len(found):>8}" in said
        # The copy goes on as the database of the instances: the next case is numbered after the last.
        last = max(int(str(r["case_id"]).removeprefix("SD")) for r in rows["cases"])
        with after.transaction() as tx:
            made = tx.add_case(
                Kind.STANDARD,
                CaseState.AWAITING_INFORMATION,
                RequestDetails(n_numbers=("N999001",)),
                "<after@council.example>",
                rows_time(rows),
                rows_time(rows),
            )
            tx.add_history(made.case_id, rows_time(rows), "bot", "opened")
        assert made.case_id == f"SD{last + 1:06d}"
    finally:
        before.dispose()
        after.dispose()

    # A second move into the same, no longer empty, database is refused and changes nothing.
    assert main(["migrate", "--config", str(config), "--from-sqlite", str(source)]) == 1
    assert "the PostgreSQL database is not empty" in capsys.readouterr().err


def rows_time(rows: dict[str, list[dict[str, object]]]) -> datetime:
    return datetime.fromisoformat(str(rows["cases"][-1]["updated_at"]))


def test_migrate_on_postgresql_creates_then_has_nothing_to_do(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STRATEGY_BOT_DATABASE_URL", postgres_url)
    config = str(config_file(tmp_path, "postgresql"))
    assert main(["migrate", "--config", config]) == 0
    assert capsys.readouterr().out == f"database schema migrated from revision (new database) to {migrations.head()}\n"
    assert main(["migrate", "--config", config]) == 0
    assert capsys.readouterr().out == f"database schema already at revision {migrations.head()}; nothing to do\n"


def test_a_missing_database_url_is_a_config_error_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("STRATEGY_BOT_DATABASE_URL", raising=False)
    assert main(["migrate", "--config", str(config_file(tmp_path, "postgresql"))]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("strategy-bot: configuration error: store.postgresql.url_env: the environment variable ")
    assert "STRATEGY_BOT_DATABASE_URL is not set" in line


def test_an_sqlite_database_made_before_alembic_is_migrated_with_its_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data" / "bot.sqlite3"
    path.parent.mkdir()
    db = sqlite3.connect(path)
    db.executescript(LEGACY_V4.read_text())
    db.execute(
        "INSERT INTO cases (case_id, kind, state, n_numbers, details, root_message_id, received_at, created_at, "
        "updated_at) VALUES ('SD000001', 'standard', 'booked', 'N146782', ?, '<a@council.example>', "
        "'2026-11-23T09:00:00+00:00', '2026-11-23T09:00:00+00:00', '2026-11-23T09:00:00+00:00')",
        ('{"n_numbers": ["N146782"], "requester": {}, "invitees": []}',),
    )
    db.execute(
        "INSERT INTO history (case_id, at, actor, action, detail) "
        "VALUES ('SD000001', '2026-11-23T09:00:00+00:00', 'bot', 'opened', '')"
    )
    db.commit()
    db.close()
    config = str(config_file(tmp_path, "sqlite", path))

    # Started before migrating: refused, saying what to run.
    assert main(["status", "--config", config]) != 0
    assert "run: strategy-bot migrate" in capsys.readouterr().err
    assert main(["migrate", "--config", config]) == 0
    assert capsys.readouterr().out == f"database schema migrated from revision 0004 to {migrations.head()}\n"
    store = SqlStore(f"sqlite:///{path}")
    try:
        assert store.check_schema() == migrations.head()
        with store.transaction() as tx:
            assert [c.case_id for c in tx.cases_for("N146782")] == ["SD000001"]
            assert [h.action for h in tx.history("SD000001")] == ["opened"]
    finally:
        store.dispose()


def test_a_database_newer_than_the_code_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data" / "bot.sqlite3"
    path.parent.mkdir()
    SqlStore(f"sqlite:///{path}").migrate()
    db = sqlite3.connect(path)
    db.execute("UPDATE alembic_version SET version_num = '9999'")
    db.commit()
    db.close()
    config = str(config_file(tmp_path, "sqlite", path))
    for command in (["status", "--config", config], ["migrate", "--config", config]):
        assert main(command) == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line == (
            "strategy-bot: configuration error: database: schema at revision 9999, newer than this strategy-bot "
            f"knows (its newest is {migrations.head()}); upgrade strategy-bot to the version that made it"
        )


def test_postgresql_without_its_extra_names_the_pip_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(config_file(tmp_path, "postgresql"))
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
    with pytest.raises(
        ConfigError,
        match=r"store.kind: got \"postgresql\", but the postgresql extra .*"
        r"pip install 'strategy-bot\[postgresql\]'",
    ):
        check_kinds(config)


def test_the_database_password_is_never_said_when_the_server_cannot_be_reached(
    ports: Ports, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "Sw0rdfish-not-to-be-logged"
    url = f"postgresql+psycopg://strategy_bot:{secret}@127.0.0.1:{ports.take()}/strategy_bot?connect_timeout=5"
    monkeypatch.setenv("STRATEGY_BOT_DATABASE_URL", url)
    config = str(config_file(tmp_path, "postgresql"))
    for command in (
        ["status", "--config", config],
        ["migrate", "--config", config],
        ["check-config", "--offline", config],
    ):
        code = main(command)
        said = capsys.readouterr()
        assert secret not in said.out + said.err
        if command[0] == "check-config":
            assert "postgresql" in said.out and "$STRATEGY_BOT_DATABASE_URL" in said.out  # named, never shown
        else:
            assert code != 0 and len(said.err.strip().splitlines()) == 1, said.err


def test_init_for_a_postgresql_store_leaves_the_unused_sqlite_path_alone(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STRATEGY_BOT_DATABASE_URL", postgres_url)
    stray = tmp_path / "stray.sqlite3"
    stray.write_bytes(b"not a database at all")
    config = config_file(tmp_path, "postgresql", path=stray)
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert str(stray) not in out and "malformed" not in out
    assert stray.read_bytes() == b"not a database at all"
