"""Issue 18: one request costs the database the same on a database holding years of work as on a new one.

Counted in SQLite's virtual-machine steps (tests/support/vm_steps.py), which are the same on
every run and every machine: no clock, no timing. The daemon's own rounds (``Daemon.round``:
due timers, the inbox, delivery of the outbox, the hourly closing check, the next timer) run
the same mail on two databases that differ only in how many finished cases of earlier years
they hold (tests/support/big_database.py): a standard request, an urgent one, a reply command,
a request missing a detail and the reply supplying it, the same request delivered twice, the
timers falling due, the meeting day's replies (CONTACTED, HELD, OUTCOME, MINUTES SHARED, REVIEW,
FURTHER, DELAY, CANCEL, a word the bot does not know), a request for a child of an earlier case,
an email that is not a request and a forged reply. Each statement must cost on the large database at most FACTOR times
its cost on the small one, plus CONSTANT steps; a statement reading a range that grows with
the years (every email of a purpose ever sent, every case ever closed) runs one step or more
per row of it, and the failure names it with both counts.
"""

from __future__ import annotations

import mailbox
import os
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from bot.adapters.sql_head import HEAD
from bot.adapters.sql_store import SqlStore
from bot.config import Config, load_config
from bot.daemon import Daemon
from bot.domain.model import CaseState, Kind, RequestDetails
from bot.wiring import Bot, build
from tests.support.big_database import add_old_cases
from tests.support.requests_mail import StepClock, london, reply_email, request_email
from tests.support.vm_steps import VmSteps, grown, table

NOW = london("2026-11-23 09:30")
# Finished cases already in the database. The large one is written in about a second; the test takes
# ~5 s of CPU in all (two databases, 25 rounds each), and a statement reading one step per ten
# earlier cases still shows at this size.
SMALL, LARGE = 30, 2000
FACTOR, CONSTANT = 1.5, 100
TM = "Alex Morgan <alex.morgan@council.example>"
STANDARD = request_email(NOW, message_id="<cost-standard@council.example>", n_number="N146782")
URGENT = request_email(
    NOW, subject="URGENT S47 ENQUIRY N146783", message_id="<cost-urgent@council.example>", n_number="N146783"
)
INCOMPLETE = request_email(
    NOW, subject="Strategy discussion N146784", message_id="<cost-incomplete@council.example>", n_number="N146784",
    reason=None,
)  # fmt: skip


# What each round delivered on the small database (the large one must deliver the same).
SUBJECTS = {
    "a standard request": ["Strategy discussion booked: N146782 on Wed 25 Nov at 10:00"],
    "an urgent request": [
        "URGENT S47 ENQUIRY N146783 received: police will call by 10:30",
        "URGENT S47 ENQUIRY N146783: call the TM/PM by 10:30",
    ],
    "a reply command": ["Strategy discussion N146782 moved from Wed 25 Nov 10:00 to Wed 25 Nov 10:15"],
    "a request missing its reason": ["Strategy discussion N146784: information needed"],
    "the reply supplying it": ["Strategy discussion booked: N146784 on Wed 25 Nov at 10:00"],
    "the same request again": [],
    "timer due (1)": ["URGENT S47 ENQUIRY N146783: no police call-back recorded after 60 minutes"],
    "timer due (2)": ["URGENT S47 ENQUIRY N146783: please escalate to MASH, no police call-back after 90 minutes"],
    "timer due (3)": ["URGENT S47 ENQUIRY N146783: no police call-back after 120 minutes, to the MASH Service Manager"],
    "timer due (4)": ["URGENT S47 ENQUIRY N146783: still no police call-back after 180 minutes (reminder 1 of 6)"],
}


@dataclass
class Phase:
    """One round of the daemon: the steps of each statement it ran, and the emails it delivered."""

    steps: Counter[str]
    delivered: list[tuple[str, str]]  # (To, Subject), the case id written SD… (it differs between the two)


class Rounds:
    """The daemon's rounds on its own clock, each after the mail it is given is put in the inbox; counted."""

    def __init__(self, bot: Bot, config: Config) -> None:
        self.bot, self.config = bot, config
        self.clock = StepClock(NOW)
        self.daemon = Daemon(bot, self.clock)
        self.inbox = mailbox.Maildir(config.inbox.path, create=True)
        assert config.sender.path is not None
        self.sent = config.sender.path / "new"
        self.vm = VmSteps(bot.store.engine)
        self.phases: dict[str, Phase] = {}

    def round(self, name: str | None, *mail: bytes, at: datetime = NOW) -> None:
        self.clock.at = at
        # The daily retention purge is a day's work of its own, not a request's: done for the day.
        self.bot.store.put_state("purge:last", at.astimezone(self.config.bot.timezone).date().isoformat(), at)
        for raw in mail:
            key = self.inbox.add(raw)
            # Received when the clock says, not when the test runs: the call-back deadline counts from it.
            os.utime(self.config.inbox.path / "new" / key, (at.timestamp(), at.timestamp()))
        before = set(self.sent.iterdir()) if self.sent.exists() else set()
        with self.vm.counting() as steps:
            self.daemon.round()
        if name is not None:
            self.phases[name] = Phase(Counter(steps), _delivered(sorted(set(self.sent.iterdir()) - before)))

    def case_id(self, n_number: str) -> str:
        with self.bot.store.transaction() as tx:
            [case] = tx.cases_for(n_number)
        return case.case_id

    def next_timer_due(self) -> datetime:
        with self.bot.store.transaction() as tx:
            due = tx.next_timer_due()
        assert due is not None
        return due

    def close(self) -> None:
        self.vm.close()
        self.daemon._feed.close()


def _delivered(paths: list[Path]) -> list[tuple[str, str]]:
    found = []
    for path in paths:
        parsed = message_from_bytes(path.read_bytes(), policy=default)
        found.append((str(parsed["To"]), re.sub(r"SD\d{6}", "SD…", str(parsed["Subject"]))))
    return sorted(found)


def _run(base: Path, old_cases: int) -> dict[str, Phase]:
    """The mail of the module's docstring, a round each, on a database with ``old_cases`` finished cases."""
    config = load_config(None, base=base)
    bot = build(config)
    try:
        add_old_cases(Path(config.store.url.removeprefix("sqlite:///")), old_cases, NOW)
        rounds = Rounds(bot, config)
        try:
            _mail(rounds)
        finally:
            rounds.close()
    finally:
        bot.close()
    return rounds.phases


def _mail(rounds: Rounds) -> None:
    rounds.round(None)  # the first round: the agenda kept pending, the hourly closing check begun
    rounds.round("a standard request", STANDARD)
    rounds.round("an urgent request", URGENT)
    standard = rounds.case_id("N146782")
    rounds.round("a reply command", reply_email(NOW, f"{standard}.confirmation.1", "RESCHEDULE", TM, "RE: Booked"))
    rounds.round("a request missing its reason", INCOMPLETE)
    supplied = request_email(
        NOW, subject="RE: Strategy discussion N146784", message_id="<cost-supplied@council.example>",
        in_reply_to=f"<{rounds.case_id('N146784')}.missing_information.1@police.example>",
        body="Reason for strategy discussion: bruising seen at school.\n",
    )  # fmt: skip
    rounds.round("the reply supplying it", supplied)
    rounds.round("the same request again", STANDARD)
    # The urgent case's escalations, one a round; more than an hour on, the closing check runs again.
    for n in range(1, 5):
        rounds.round(f"timer due ({n})", at=rounds.next_timer_due())
    # The rest of the ladder, the reminders and the daily agenda of the meeting day, in one round.
    rounds.round("timers due on the meeting day", at=london("2026-11-25 09:00"))
    rounds.round("a quiet round", at=london("2026-11-25 09:01"))
    _after_the_discussions(rounds, standard, rounds.case_id("N146783"), rounds.case_id("N146784"))


def _after_the_discussions(rounds: Rounds, standard: str, urgent: str, supplied: str) -> None:
    """The replies of the meeting day, a round each: what staff send once the discussions are held."""
    replies = [
        ("police contact recorded", f"{urgent}.duty_referral.1", "CONTACTED", "Duty DS <duty.ds@police.example>"),
        ("the discussion held", f"{standard}.confirmation.2", "HELD", TM),
        ("its outcome", f"{standard}.confirmation.2", "OUTCOME joint S47", TM),
        ("the minutes shared", f"{standard}.confirmation.2", "MINUTES SHARED", TM),
        ("a review date set", f"{standard}.confirmation.2", "REVIEW 14/12", TM),
        ("a further discussion", f"{standard}.confirmation.2", "FURTHER", TM),
        ("police running late", f"{supplied}.confirmation.1", "DELAY 20", "Duty DS <duty.ds@police.example>"),
        ("a booking cancelled", f"{supplied}.confirmation.1", "CANCEL", TM),
        ("a word the bot does not know", f"{standard}.confirmation.2", "PLEASE CALL ME", TM),
    ]
    for minute, (name, to_message, line, sender) in enumerate(replies):
        at = london("2026-11-25 11:00") + timedelta(minutes=minute)
        rounds.round(name, reply_email(at, to_message, line, sender, "RE: Strategy discussion"), at=at)
    at = london("2026-11-25 11:30")
    known = request_email(at, message_id="<cost-known@council.example>", n_number=f"N{700003}")
    rounds.round("a request for a child of an earlier case", known, at=at)
    at = london("2026-11-25 11:31")
    unrecognised = request_email(at, subject="Lunch on Friday", message_id="<cost-lunch@council.example>",
                                 body="Are you coming to lunch on Friday?\n")  # fmt: skip
    rounds.round("an email that is not a request", unrecognised, at=at)
    at = london("2026-11-25 11:32")
    forged = request_email(at, sender="Eve <eve@evil.example>", message_id="<cost-forged@evil.example>",
                           n_number="N146782", auth="mx.police.example; dmarc=fail header.from=evil.example",
                           in_reply_to=f"<{standard}.confirmation.2@police.example>", body="CANCEL\n")  # fmt: skip
    rounds.round("a forged reply", forged, at=at)


def test_a_request_costs_the_database_the_same_whatever_years_of_work_it_holds(tmp_path: Path) -> None:
    small = _run(tmp_path / "small", SMALL)
    large = _run(tmp_path / "large", LARGE)
    # The same mail went out on both (the case ids apart): only the size of the database differs.
    assert {name: [subject for _, subject in small[name].delivered] for name in SUBJECTS} == SUBJECTS
    assert len(small["timers due on the meeting day"].delivered) == 9  # 2 reminders, 5 ladder, agenda, quiet inbox
    assert {name: phase.delivered for name, phase in large.items()} == {
        name: phase.delivered for name, phase in small.items()
    }
    failures = []
    for name in small:
        lines = grown(small[name].steps, large[name].steps, FACTOR, CONSTANT)
        if lines:
            failures.append(f"{name} ({SMALL} -> {LARGE} old cases):\n  " + "\n  ".join(lines))
            failures.append("every statement of it, steps on the small and the large database:")
            failures.append(table(small[name].steps, large[name].steps))
    assert not failures, "a statement costs more on a larger database:\n" + "\n".join(failures)


def test_revisions_0011_and_0012_give_a_database_at_0010_the_indexes_this_test_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "at-0010.sqlite3"
    store = SqlStore(f"sqlite:///{path}")
    store.migrate(NOW)
    with store.transaction() as tx:
        case = tx.add_case(Kind.STANDARD, CaseState.AWAITING_INFORMATION, RequestDetails(n_numbers=("N146782",)),
                           "<a@council.example>", NOW, NOW)  # fmt: skip
    store.dispose()
    db = sqlite3.connect(path)
    for name in ("ix_case_numbers_case", "ix_outbox_recent"):  # the database as revision 0010 left it
        db.execute(f"DROP INDEX {name}")
    db.execute("UPDATE alembic_version SET version_num = '0010'")
    db.commit()
    db.close()
    store = SqlStore(f"sqlite:///{path}")
    try:
        assert store.migrate(NOW) == HEAD
        db = sqlite3.connect(path)
        plans = {
            "DELETE FROM case_numbers WHERE case_id = 'x'": "SEARCH case_numbers USING INDEX ix_case_numbers_case "
            "(case_id=?)",
            "SELECT count(*) FROM outbox WHERE purpose IN ('triage_reply', 'command_help') AND created_at >= 'x'": (
                "SEARCH outbox USING COVERING INDEX ix_outbox_recent (purpose=? AND created_at>?)"
            ),
        }
        for statement, plan in plans.items():
            assert [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {statement}")] == [plan]
        db.close()
        # The details corrected: the case is found by its new N number only.
        with store.transaction() as tx:
            tx.update_case(case.case_id, NOW, details=RequestDetails(n_numbers=("N146790",)))
        with store.transaction() as tx:
            assert tx.cases_for("N146782") == []
            assert [c.case_id for c in tx.cases_for("N146790")] == [case.case_id]
    finally:
        store.dispose()
