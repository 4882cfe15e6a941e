"""The command-line contracts: `parse`, `replay`, `check-config` and `demo`, as users call them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from tests.support.deploy import init
from tests.support.requests_mail import london, request_email

REPO = Path(__file__).resolve().parents[2]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write_received(path: Path, raw: bytes, received: datetime) -> Path:
    """The message as the inbox's server saved it: a topmost Received header with its time."""
    stamp = received.strftime("%a, %d %b %Y %H:%M:%S %z")
    header = f"Received: from mail.council.example by mx.police.example; {stamp}\r\n".encode()
    path.write_bytes(header + raw)
    return path


WORKED_EXAMPLES = [
    ("2026-11-23 09:00:00", "2026-11-25T10:00:00+00:00", "2026-11-25T10:15:00+00:00"),
    ("2026-11-24 16:00:00", "2026-11-25T10:00:00+00:00", "2026-11-25T10:15:00+00:00"),
    ("2026-11-24 16:00:01", "2026-11-27T10:00:00+00:00", "2026-11-27T10:15:00+00:00"),
    ("2026-11-27 15:00:00", "2026-11-30T10:00:00+00:00", "2026-11-30T10:15:00+00:00"),
    ("2026-11-28 11:00:00", "2026-12-02T10:00:00+00:00", "2026-12-02T10:15:00+00:00"),
    ("2026-12-24 10:00:00", "2026-12-30T10:00:00+00:00", "2026-12-30T10:15:00+00:00"),
    # Both clock changes: 10:00 local is 10:00 local on either side.
    ("2026-10-23 12:00:00", "2026-10-26T10:00:00+00:00", "2026-10-26T10:15:00+00:00"),
    # Thursday before Easter 2027: Good Friday 26 March and Easter Monday 29 March are bank
    # holidays, and the clocks go forward on the 28th.
    ("2027-03-25 12:00:00", "2027-03-31T10:00:00+01:00", "2027-03-31T10:15:00+01:00"),
]


@pytest.mark.parametrize(("received", "start", "end"), WORKED_EXAMPLES)
def test_replay_books_every_worked_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], received: str, start: str, end: str
) -> None:
    at = london(received)
    path = write_received(tmp_path / "request.eml", request_email(at), at)
    code, out, _ = run_cli(capsys, "replay", str(path))
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    booked = [e for e in lines if e["event"] == "booked"]
    assert [(b["start"], b["end"]) for b in booked] == [(start, end)]
    assert booked[0]["subject"] == "Strategy discussion N146782"
    assert booked[0]["n_numbers"] == ["N146782"]
    received_event = lines[0]
    assert received_event["event"] == "received" and received_event["kind"] == "standard"
    assert datetime.fromisoformat(received_event["at"]) == at
    [confirmation] = [e for e in lines if e["event"] == "email"]
    assert confirmation["purpose"] == "confirmation"
    assert confirmation["to"] == ["alex.morgan@council.example"]


def test_replay_of_a_folder_shows_each_message_in_time_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    # Named against time order on purpose: replay orders by the Received time.
    standard = request_email(london("2026-11-24 10:00"), message_id="<a@council.example>")
    write_received(folder / "a.eml", standard, london("2026-11-24 10:00"))
    urgent = request_email(
        london("2026-11-23 14:00"),
        subject="URGENT S47 ENQUIRY N222222",
        n_number="N222222",
        message_id="<b@council.example>",
    )
    write_received(folder / "b.eml", urgent, london("2026-11-23 14:05"))
    auto = request_email(
        london("2026-11-23 15:00"), subject="Automatic reply: hello", extra_headers={"Auto-Submitted": "auto-replied"}
    )
    write_received(folder / "c.eml", auto, london("2026-11-23 15:00"))
    code, out, _ = run_cli(capsys, "replay", str(folder), "--until", "2026-11-26T12:00:00+00:00")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    received = [(Path(e["file"]).name, e["kind"]) for e in lines if e["event"] == "received"]
    assert received == [("b.eml", "urgent"), ("c.eml", "auto"), ("a.eml", "standard")]
    [ignored] = [e for e in lines if e["event"] == "ignored"]
    assert Path(ignored["file"]).name == "c.eml" and "auto" in ignored["reason"]
    emails = [(e["at"], e["purpose"], e["to"]) for e in lines if e["event"] == "email"]
    tm, unit = ["alex.morgan@council.example"], ["referrals@police.example"]
    assert emails == [
        ("2026-11-23T14:05:00+00:00", "urgent_acknowledgement", tm),
        ("2026-11-23T14:05:00+00:00", "duty_referral", ["duty.ds@police.example"]),
        ("2026-11-23T15:00:00+00:00", "escalation_60", tm),  # an hour from the Date header
        ("2026-11-23T15:30:00+00:00", "escalation_90", ["admin.support@police.example"]),
        ("2026-11-23T16:00:00+00:00", "escalation_120", ["mash.manager@council.example"]),
        *[
            (f"2026-11-23T{h}:00:00+00:00", "escalation_repeat", ["mash.manager@council.example"])
            for h in range(17, 23)
        ],
        ("2026-11-24T10:00:00+00:00", "confirmation", tm),
        ("2026-11-24T16:00:00+00:00", "reminder_day_before", tm),
        ("2026-11-25T09:00:00+00:00", "daily_agenda", unit),
        ("2026-11-25T09:30:00+00:00", "reminder_30_min", tm),
        ("2026-11-25T10:00:00+00:00", "minutes_template", tm),
        ("2026-11-25T16:15:00+00:00", "minutes_reminder", tm),
        ("2026-11-26T10:15:00+00:00", "minutes_overdue", tm),
    ]
    # The last line is the compliance figures over the replayed days (issue 14); every other has its time.
    assert lines[-1]["event"] == "compliance" and (lines[-1]["from"], lines[-1]["to"]) == ("2026-11-23", "2026-11-26")
    never_rang = {"due": 1, "met": 0, "missed_cases": [{"case": "SD000001", "n_numbers": ["N222222"]}]}
    assert lines[-1]["timescales"]["callback_within_60"] == never_rang
    ats = [datetime.fromisoformat(e["at"]) for e in lines[:-1]]
    assert ats == sorted(ats) and all(a.tzinfo is not None for a in ats)


def test_replay_with_contacted_at_thirty_minutes_shows_no_escalation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t0 = london("2026-11-23 14:00")
    urgent = request_email(
        t0, subject="URGENT S47 ENQUIRY N222222", n_number="N222222", message_id="<u@council.example>"
    )
    write_received(tmp_path / "1.eml", urgent, t0)
    # The duty DS replies CONTACTED to the referral the bot sent them (its Message-ID is the case's).
    contacted = request_email(
        t0 + timedelta(minutes=30),
        subject="RE: URGENT S47 ENQUIRY N222222",
        sender="DS Sam Carver <sam.carver@police.example>",
        auth="mx.police.example; dmarc=pass header.from=police.example",
        message_id="<contacted@police.example>",
        in_reply_to="<SD000001.duty_referral.1@police.example>",
        body="CONTACTED\n\nSpoke to the TM at 14:25.\n",
    )
    write_received(tmp_path / "2.eml", contacted, t0 + timedelta(minutes=30))
    code, out, _ = run_cli(capsys, "replay", str(tmp_path), "--until", "2026-11-23T18:00:00+00:00")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    purposes = [e["purpose"] for e in lines if e["event"] == "email"]
    # No escalation; the meeting not yet recorded as held is chased at 18:00 (domain.md §4.6).
    assert purposes == ["urgent_acknowledgement", "duty_referral", "minutes_template", "held_chase"]
    assert [e["kind"] for e in lines if e["event"] == "received"] == ["urgent", "reply"]


def test_parse_prints_the_contract_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = request_email(
        london("2026-11-23 09:00"),
        subject="Strategy discussion N146782 and n 146783",
        complex_case=True,
        reason="Serious physical injury: a fractured arm.",
    )
    path = tmp_path / "r.eml"
    path.write_bytes(raw)
    code, out, _ = run_cli(capsys, "parse", str(path))
    assert code == 0
    data = json.loads(out)
    assert set(data) == {
        "kind",
        "is_reply",
        "n_numbers",
        "surname",
        "requester",
        "complex",
        "health_rep",
        "invitees",
        "emergency_action",
        "missing",
        "urgent_indicators",
    }
    assert data["kind"] == "standard" and data["is_reply"] is False
    assert data["n_numbers"][0] == "N146782"
    assert data["surname"] == "Bond"
    assert data["requester"] == {
        "name": "Alex Morgan",
        "role": "Team Manager",
        "phone": "01632 960123",
        "email": "alex.morgan@council.example",
    }
    assert data["complex"] is True
    assert data["health_rep"] == "health.safeguarding@nhs.example"
    assert data["invitees"] == ["dsl@school.council.example"]
    assert data["emergency_action"] is None
    assert data["missing"] == []
    assert "serious_physical_injury" in data["urgent_indicators"]


def test_parse_of_an_unreadable_file_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "parse", str(tmp_path / "missing.eml"))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "missing.eml" in err


def test_parse_of_mime_nested_2000_deep_says_so_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    depth = 2000
    opening = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth))
    closing = "".join(f"--b{i}--\n" for i in reversed(range(depth)))
    path = tmp_path / "deep.eml"
    path.write_text(
        "From: alex.morgan@council.example\nSubject: Strategy discussion\nMessage-ID: <deep@council.example>\n"
        "MIME-Version: 1.0\n" + opening + "Content-Type: text/plain\n\nN146782\n" + closing
    )
    code, out, err = run_cli(capsys, "parse", str(path))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"strategy-bot parse: {path} has MIME nested more than 10 levels deep (inbox.max_mime_depth);"
        " the bot quarantines such a message"
    ]


def test_parse_through_the_console_script(tmp_path: Path) -> None:
    path = tmp_path / "u.eml"
    path.write_bytes(request_email(london("2026-11-23 09:00"), subject="URGENT  s.47 enquiry N146782"))
    done = subprocess.run(
        [sys.executable, "-m", "bot", "parse", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["kind"] == "urgent"


def test_check_config_names_the_key_the_value_and_what_is_expected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        (REPO / "config.example.toml")
        .read_text(encoding="utf-8")
        .replace('window_start = "10:00"', 'window_start = "10am"')
    )
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli(capsys, "check-config", str(path))
    assert code == 2
    assert "schedule.window_start" in err and "'10am'" in err and "HH:MM" in err
    assert "Traceback" not in err


def test_check_config_accepts_the_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bot.toml"
    config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    code, out, _ = run_cli(capsys, "check-config", str(init(config)))  # once `init` made its folders
    assert code == 0 and "valid" in out


def test_demo_shows_bookings_and_emails_and_writes_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "demo"
    code, out, _ = run_cli(capsys, "demo", "--out", str(out_dir))
    assert code == 0
    assert "booked" in out and "email confirmation to" in out and "urgent_acknowledgement" in out
    assert (out_dir / "strategy-calendar.ics").read_bytes().count(b"BEGIN:VEVENT") >= 3
    htmls = list((out_dir / "emails").glob("*.html"))
    assert any("confirmation" in p.name for p in htmls)
    assert all(p.read_text(encoding="utf-8").strip() for p in htmls)
    # The compliance report over the week, beside the emails (issue 14).
    report = (out_dir / "compliance.html").read_text(encoding="utf-8")
    assert report.count('<img src="data:image/png;base64,') == 6 and "<script" not in report
    rows = (out_dir / "compliance.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("timescale,week,due,met,missed") and any(
        r.startswith("callback_within_60,all,") for r in rows
    )
