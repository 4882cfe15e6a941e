"""`status` in a fixed number of queries with the next N items, `--json` for status and history (issues 17.6, 18.3)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import event

from bot.cli import main
from bot.config import load_config
from bot.ports import IncomingMail
from bot.status import render_status
from bot.wiring import Bot, build
from tests.support.requests_mail import london, request_email

REPO = Path(__file__).resolve().parents[2]
AT = london("2030-11-25 09:00")  # a Monday in the future, so the timers are still pending


def site(tmp_path: Path) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return path


def requests(bot: Bot, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        raw = request_email(AT, n_number=f"N{100000 + n}", message_id=f"<r{n}@council.example>", surname="Bondarenko")
        bot.service.handle(IncomingMail(f"k{n}", raw, AT), AT)


def statements(bot: Bot, now: datetime) -> tuple[int, str]:
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    engine = bot.store.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", count)
    try:
        text = render_status(bot, now, 5)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len([s for s in seen if s.lstrip().upper().startswith("SELECT")]), text


def test_status_costs_the_same_queries_for_one_case_or_twelve(tmp_path: Path) -> None:
    bot = build(load_config(site(tmp_path)))
    try:
        requests(bot, 1)
        one, _ = statements(bot, AT)
        requests(bot, 11, start=1)
        twelve, text = statements(bot, AT)
    finally:
        bot.close()
    assert one == twelve
    assert "Open cases: 12 (standard booked 12)" in text
    assert "  ... 7 more open cases (--all lists every one)" in text
    assert len([line for line in text.splitlines() if line.startswith("  SD0000")]) == 5
    assert "Bondarenko" not in text


def test_status_limit_all_and_json_and_history_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = site(tmp_path)
    bot = build(load_config(config_path))
    try:
        requests(bot, 3)
        forged = request_email(AT, sender="x <x@evil.example>", message_id="<forged@evil.example>")
        bot.service.handle(IncomingMail("f", forged, london("2030-11-25 08:30")), AT)
    finally:
        bot.close()

    assert main(["status", "--limit", "1", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert "Open cases: 3 (standard booked 3)" in out and "  ... 2 more open cases" in out
    assert "Quarantined messages: 1 (oldest received Mon 25 Nov 2030 08:30)" in out
    assert main(["status", "--all", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert "more open cases" not in out and out.count("  SD00000") >= 3

    assert main(["status", "--json", "--limit", "2", "--config", str(config_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["open_cases"]["count"] == 3 and len(data["open_cases"]["listed"]) == 2
    assert data["open_cases"]["by_state"] == [{"kind": "standard", "state": "booked", "count": 3}]
    assert data["open_cases"]["listed"][0] == {
        "case_id": "SD000001",
        "kind": "standard",
        "state": "booked",
        "n_numbers": ["N100000"],
    }
    assert data["bookings"]["count"] == 3 and data["bookings"]["listed"][0]["start"] == "2030-11-27T10:00:00+00:00"
    assert data["timers"]["count"] >= 3 and data["timers"]["overdue"] == 0
    assert {"due_at", "purpose", "case_id", "overdue"} == set(data["timers"]["listed"][0])
    assert data["quarantine"] == {"count": 1, "oldest_received_at": "2030-11-25T08:30:00+00:00"}
    assert data["sealed"] is False and data["emails_waiting"] == 4
    assert "Bondarenko" not in json.dumps(data) and "evil" not in json.dumps(data)

    assert main(["history", "N100001", "--json", "--config", str(config_path)]) == 0
    history = json.loads(capsys.readouterr().out)
    [case] = history["cases"]
    assert case["case_id"] == "SD000002" and case["n_numbers"] == ["N100001"] and case["state"] == "booked"
    first = case["entries"][0]
    assert first == {
        "at": "2030-11-25T09:00:00+00:00",
        "actor": "alex.morgan@council.example",
        "action": "received",
        "detail": first["detail"],
        "message_id": "<r1@council.example>",
    }
    assert [e["action"] for e in case["entries"]][:3] == ["received", "read", "booked"]
    assert "Bondarenko" not in json.dumps(history)
    assert main(["history", "N999999", "--json", "--config", str(config_path)]) == 1
