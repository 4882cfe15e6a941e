"""After SIGHUP changes the rota, the quiet-inbox alert counts working hours on the new calendar.

The daemon runs its own rounds on the example's Maildir inbox and sender, on a clock the test
moves; the config file is edited and the daemon reloads it as a SIGHUP makes it do
(``Daemon.hup`` then ``Daemon.reload``). What is checked is what the administrator gets: the
alert email, and when.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from email.message import EmailMessage
from pathlib import Path

from bot.config import load_config
from bot.daemon import Daemon
from bot.wiring import build
from tests.support.requests_mail import StepClock, london

REPO = Path(__file__).resolve().parents[2]
QUIET = "No new mail in the referral inbox for 2 working hours"


def admin_alerts(folder: Path) -> list[str]:
    """The subjects of the emails to the administrator (people.administrator in the example)."""
    subjects = []
    for path in (folder / "new").glob("*"):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        if str(msg["To"]) == "bot.admin@police.example":
            subjects.append(str(msg["Subject"]))
    return subjects


def test_a_closure_day_added_by_sighup_is_not_counted_by_the_quiet_inbox_alert(tmp_path: Path) -> None:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    assert text.count("[inbox]\n") == 1 and text.count("[schedule]\n") == 1
    path = tmp_path / "bot.toml"
    path.write_text(text.replace("[inbox]\n", "[inbox]\nquiet_alert_hours = 2\n"), encoding="utf-8")
    config = load_config(path)
    for folder in (config.inbox.path, config.sender.path):  # what `strategy-bot init` makes
        folder.parent.mkdir(parents=True, exist_ok=True)
        mailbox.Maildir(folder, create=True)
    bot = build(config)
    clock = StepClock(london("2026-11-23 17:00"))  # a Monday; working hours 08:00-18:00
    daemon = Daemon(bot, clock)
    try:
        daemon.round()  # the watch starts: two working hours from here end on Tuesday at 09:00

        # The unit will be closed on Tuesday: the file says so, and the daemon is told to read it.
        closed = text.replace("[schedule]\n", '[schedule]\nclosure_days = ["2026-11-24"]\n')
        path.write_text(closed.replace("[inbox]\n", "[inbox]\nquiet_alert_hours = 2\n"), encoding="utf-8")
        daemon.hup()
        daemon.reload()
        assert bot.config.schedule.closure_days == frozenset({london("2026-11-24 12:00").date()})

        # Tuesday is not a working day now: nothing is said all day, as the rules' calendar says.
        for at in ("2026-11-24 09:00", "2026-11-24 12:00", "2026-11-24 17:59", "2026-11-25 08:59"):
            clock.at = london(at)
            daemon.round()
        assert admin_alerts(config.sender.path) == []
        # The second working hour ends on Wednesday at 09:00.
        clock.at = london("2026-11-25 09:00")
        daemon.round()
        assert admin_alerts(config.sender.path) == [QUIET]
    finally:
        bot.close()
