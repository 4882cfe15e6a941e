"""Issue 14 on the simulated clock: replay ends with the compliance figures, checked against known answers.

Christmas 2026: Fri 25 and Mon 28 Dec and Fri 1 Jan are bank holidays. With one slot a day, two
requests on Thu 24 Dec go to Wed 30 Dec (in time: the deadline is Thu 31 Dec, three working
days on) and Mon 4 Jan (one working day late). Two urgent cases: one called back in 40
minutes, one in 90. The first discussion's minutes come four hours late, its Section 47
record never; the second's minutes are early.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import datetime, time
from pathlib import Path

from bot.config import Config, load_config
from bot.replay import Replay, load
from tests.support.replays import replay, sent, write_received
from tests.support.requests_mail import LONDON, london, plain_text, queued_emails, reply_email, request_email

TM = "Alex Morgan <alex.morgan@council.example>"
DS = "DS Sam Carver <sam.carver@police.example>"
MASH = "mash.manager@council.example"
UNIT = "referrals@police.example"


def one_slot_a_day(folder: Path) -> Config:
    config = load_config(None, base=folder)
    return replace(config, schedule=replace(config.schedule, window_end=time(10, 15)))


def standard(at: datetime, n: str) -> tuple[datetime, bytes]:
    return at, request_email(at, subject=f"Strategy discussion {n}", n_number=n, message_id=f"<s.{n}@council.example>")


def urgent(at: datetime, n: str) -> tuple[datetime, bytes]:
    return at, request_email(at, subject=f"URGENT S47 ENQUIRY {n}", n_number=n, message_id=f"<u.{n}@council.example>")


def reply(at: datetime, case: str, purpose: str, line: str, sender: str = TM) -> tuple[datetime, bytes]:
    return at, reply_email(at, f"{case}.{purpose}.1", line, sender, f"Strategy discussion {case}")


def scenario() -> list[tuple[datetime, bytes]]:
    return [
        standard(london("2026-12-24 10:00"), "N111111"),  # SD000001: Wed 30 Dec 10:00
        standard(london("2026-12-24 10:30"), "N222222"),  # SD000002: Mon 4 Jan 10:00
        urgent(london("2026-12-29 09:00"), "N333333"),  # SD000003
        reply(london("2026-12-29 09:40"), "SD000003", "duty_referral", "CONTACTED", DS),
        urgent(london("2026-12-29 11:00"), "N444444"),  # SD000004
        reply(london("2026-12-29 12:30"), "SD000004", "duty_referral", "CONTACTED", DS),
        # Minutes due Thu 31 Dec 10:15 (one working day after 10:15 on Wed 30 Dec): four hours late.
        reply(london("2026-12-31 14:15"), "SD000001", "confirmation", "MINUTES SHARED"),
        reply(london("2026-12-31 15:00"), "SD000001", "confirmation", "OUTCOME joint S47"),
        # Minutes due Tue 5 Jan 10:15: early.
        reply(london("2027-01-05 09:00"), "SD000002", "confirmation", "MINUTES SHARED"),
    ]


def test_replay_ends_with_the_compliance_figures(tmp_path: Path) -> None:
    events = replay(tmp_path, scenario(), london("2027-01-08 12:00"), one_slot_a_day(tmp_path))
    booked = {
        e["case"]: e["start"] for e in events if e["event"] == "booked" and e["case"] not in ("SD000003", "SD000004")
    }
    assert booked == {"SD000001": "2026-12-30T10:00:00+00:00", "SD000002": "2027-01-04T10:00:00+00:00"}
    last = events[-1]
    assert json.loads(json.dumps(last)) == last  # one JSON line
    assert last == {
        "event": "compliance",
        "from": "2026-12-24",
        "to": "2027-01-08",
        "timescales": {
            "discussion_within_timescale": {
                "due": 2,
                "met": 1,
                "missed_cases": [{"case": "SD000002", "n_numbers": ["N222222"]}],
            },
            "callback_within_60": {
                "due": 2,
                "met": 1,
                "missed_cases": [{"case": "SD000004", "n_numbers": ["N444444"]}],
            },
            "minutes_on_time": {
                "due": 2,
                "met": 1,
                "missed_cases": [{"case": "SD000001", "n_numbers": ["N111111"]}],
            },
            # Due on day 3 (Tue 5 Jan); nobody replied S47 RECORDED: missed.
            "s47_record_by_day_3": {
                "due": 1,
                "met": 0,
                "missed_cases": [{"case": "SD000001", "n_numbers": ["N111111"]}],
            },
            # Due on working day 15, after the replay: not counted yet.
            "icpc_within_15": {"due": 0, "met": 0, "missed_cases": []},
        },
    }
    assert [e["event"] for e in events].count("compliance") == 1


def test_the_figures_stand_as_at_the_end_of_the_replay(tmp_path: Path) -> None:
    # Stopped on Wed 30 Dec at noon: nothing has passed its deadline but the call-backs.
    messages = [m for m in scenario() if m[0] < london("2026-12-30 12:00")]
    events = replay(tmp_path, messages, london("2026-12-30 12:00"), one_slot_a_day(tmp_path))
    figures = events[-1]["timescales"]
    assert {name: (f["due"], f["met"]) for name, f in figures.items()} == {
        "discussion_within_timescale": (0, 0),
        "callback_within_60": (2, 1),
        "minutes_on_time": (0, 0),
        "s47_record_by_day_3": (0, 0),
        "icpc_within_15": (0, 0),
    }
    assert events[-1]["to"] == "2026-12-30" and events[-1]["from"] == "2026-12-24"


def test_weekly_report_email_on_monday_0830_with_inline_charts_and_the_csv(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    paths = [write_received(folder / f"{n:03d}.eml", raw, at) for n, (at, raw) in enumerate(scenario())]
    engine = Replay(one_slot_a_day(tmp_path))
    try:
        events = [e for _, _, found in engine.run(load(paths), london("2027-01-08 12:00")) for e in found]
        reports = [s for s in sent(events, LONDON) if s.purpose == "compliance_report"]
        # Mondays 28 Dec (a bank holiday: the report still goes) and 4 Jan at 08:30.
        assert [(s.at, s.to, s.cc) for s in reports] == [
            (london("2026-12-28 08:30"), (MASH, UNIT), ()),
            (london("2027-01-04 08:30"), (MASH, UNIT), ()),
        ]
        # Week of 28 Dec: discussions 1 of 2, call-backs 1 of 2, minutes 0 of 1.
        assert reports[1].subject == "Strategy discussion timescales, week beginning Mon 28 Dec: 2 of 5 met"
        [mail] = [m for m in queued_emails(engine.bot) if m["Subject"] == reports[1].subject]
    finally:
        engine.close()
    html_part = mail.get_body(("html",))
    assert html_part is not None and html_part.get_content_type() == "text/html"
    related = next(p for p in mail.walk() if p.get_content_type() == "multipart/related")
    images = [p for p in related.iter_parts() if p.get_content_type() == "image/png"]
    cids = re.findall(r'src="cid:([^"]+)"', str(html_part.get_content()))
    assert len(images) == 6 and sorted(cids) == sorted(str(p["Content-ID"]).strip("<>") for p in images)
    assert all(p.get_content().startswith(b"\x89PNG") for p in images)
    assert "data:" not in str(html_part.get_content())
    [attached] = [p for p in mail.iter_attachments() if p.get_content_type() == "text/csv"]
    assert attached.get_filename() == "compliance-2026-12-28.csv"
    rows = {r["timescale"]: r for r in csv.DictReader(io.StringIO(attached.get_content())) if r["week"] == "all"}
    assert rows["discussion_within_timescale"]["missed_cases"] == "SD000002 N222222"
    assert rows["callback_within_60"]["missed_cases"] == "SD000004 N444444"
    assert rows["minutes_on_time"]["missed_cases"] == "SD000001 N111111"
    text = plain_text(mail)
    assert "missed: SD000004 N444444" in text and "Bond" not in text and "Alex Morgan" not in text


def test_s47_recorded_and_icpc_held_meet_their_timescales_and_stop_their_reminders(tmp_path: Path) -> None:
    # Booked Wed 25 Nov 10:00; S47 record due on working day 3 (Mon 30 Nov), the ICPC on day 15 (Wed 16 Dec).
    messages = [
        standard(london("2026-11-23 09:00"), "N111111"),
        reply(london("2026-11-25 11:00"), "SD000001", "confirmation", "OUTCOME joint S47"),
        reply(london("2026-11-27 12:00"), "SD000001", "confirmation", "S47 RECORDED"),
        reply(london("2026-12-10 15:00"), "SD000001", "confirmation", "ICPC HELD"),
    ]
    events = replay(tmp_path, messages, london("2026-12-18 12:00"))
    purposes = [s.purpose for s in sent(events, LONDON) if s.case == "SD000001"]
    assert "s47_outcome_due" not in purposes and "command_refused" not in purposes
    assert purposes.count("icpc_due") == 1  # the day-10 warning (Wed 9 Dec) went; day 15 did not
    figures = events[-1]["timescales"]
    assert figures["s47_record_by_day_3"] == {"due": 1, "met": 1, "missed_cases": []}
    assert figures["icpc_within_15"] == {"due": 1, "met": 1, "missed_cases": []}


def test_s47_recorded_before_an_s47_outcome_is_refused_saying_why(tmp_path: Path) -> None:
    messages = [
        standard(london("2026-11-23 09:00"), "N111111"),
        reply(london("2026-11-25 11:00"), "SD000001", "confirmation", "S47 RECORDED"),
    ]
    events = replay(tmp_path, messages, london("2026-11-25 12:00"))
    [refusal] = [s for s in sent(events, LONDON) if s.purpose == "command_refused"]
    assert refusal.to == ("alex.morgan@council.example",)
