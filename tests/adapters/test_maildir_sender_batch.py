"""The Maildir sender's batch (issue 18): files written as they come, made durable and put in new/ together.

A file in ``new/`` is always whole: inside a batch each email waits in ``tmp/`` until the batch
ends, when the data is synced (one syncfs on Linux, else each file), the files are linked into
``new/`` and ``new/`` is synced. Both ways of syncing are run.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters import maildir_sender
from bot.adapters.maildir_sender import MaildirSender
from tests.support.dovecot import REPO

BOT = "strategy-bot@police.example"
TEAM = ["alex.morgan@council.example"]


def _email(n: int) -> bytes:
    return f"From: {BOT}\r\nMessage-ID: <e{n}@police.example>\r\nSubject: Booked {n}\r\n\r\nBody {n}\r\n".encode()


def _in_new(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (folder / "new").iterdir()}


@pytest.fixture(params=["syncfs", "fsync each file"])
def sync_way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "syncfs":
        if maildir_sender._SYNCFS is None:
            pytest.skip("no syncfs here (Linux 5.8 or later)")
    else:
        monkeypatch.setattr(maildir_sender, "_SYNCFS", None)
    yield str(request.param)


def test_a_batch_puts_nothing_in_new_until_it_ends_and_then_every_email_whole(tmp_path: Path, sync_way: str) -> None:
    sender = MaildirSender(tmp_path / "sent")
    with sender.batch():
        for n in range(5):
            sender.send(f"<e{n}@police.example>", _email(n), BOT, TEAM)
        assert _in_new(tmp_path / "sent") == {}  # a mail client sees none half-way
    assert _in_new(tmp_path / "sent") == {
        MaildirSender.file_name(f"<e{n}@police.example>"): _email(n) for n in range(5)
    }
    assert os.listdir(tmp_path / "sent" / "tmp") == []


def test_a_batch_left_by_an_error_delivers_none_of_its_emails_and_the_next_one_delivers_them(
    tmp_path: Path, sync_way: str
) -> None:
    sender = MaildirSender(tmp_path / "sent")
    with pytest.raises(RuntimeError, match="the round failed"), sender.batch():
        for n in range(3):
            sender.send(f"<e{n}@police.example>", _email(n), BOT, TEAM)
        raise RuntimeError("the round failed")
    assert _in_new(tmp_path / "sent") == {} and os.listdir(tmp_path / "sent" / "tmp") == []
    with sender.batch():
        for n in range(3):
            sender.send(f"<e{n}@police.example>", _email(n), BOT, TEAM)
    assert sorted(_in_new(tmp_path / "sent").values()) == sorted(_email(n) for n in range(3))


def test_a_batch_larger_than_the_files_held_open_delivers_each_email_once(tmp_path: Path, sync_way: str) -> None:
    count = 2 * maildir_sender._HOLD_AT_MOST + 5
    sender = MaildirSender(tmp_path / "sent")
    with sender.batch():
        for n in range(count):
            sender.send(f"<e{n}@police.example>", _email(n), BOT, TEAM)
    new = _in_new(tmp_path / "sent")
    assert len(new) == count
    assert all(new[MaildirSender.file_name(f"<e{n}@police.example>")] == _email(n) for n in range(count))
    assert os.listdir(tmp_path / "sent" / "tmp") == []


def test_a_resend_in_a_batch_of_an_email_already_delivered_adds_nothing_and_says_so(
    tmp_path: Path, sync_way: str, caplog: pytest.LogCaptureFixture
) -> None:
    sender = MaildirSender(tmp_path / "sent")
    sender.send("<e1@police.example>", _email(1), BOT, TEAM)  # delivered, not yet recorded, then a crash
    caplog.set_level(logging.INFO, logger="bot.adapters.maildir_sender")
    again = MaildirSender(tmp_path / "sent")  # the bot started again
    with again.batch():
        again.send("<e1@police.example>", _email(1), BOT, TEAM)
        again.send("<e2@police.example>", _email(2), BOT, TEAM)
        again.send("<e2@police.example>", _email(2), BOT, TEAM)  # twice in one batch: one file
    assert sorted(_in_new(tmp_path / "sent").values()) == [_email(1), _email(2)]
    already = [r.getMessage() for r in caplog.records if "already in" in r.getMessage()]
    assert already == [
        f"email <e1@police.example> already in {tmp_path / 'sent'}; not written again",
        f"email <e2@police.example> already in {tmp_path / 'sent'}; not written again",
    ]
    assert os.listdir(tmp_path / "sent" / "tmp") == []


KILLED_MID_BATCH = """
import os, signal, sys
from pathlib import Path
from bot.adapters.maildir_sender import MaildirSender
sender = MaildirSender(Path(sys.argv[1]))
with sender.batch():
    for n in range(20):
        raw = b"Subject: x\\r\\n\\r\\n" + b"line\\r\\n" * 1000
        sender.send(f"<e{n}@police.example>", raw, "b@police.example", ["t@x.example"])
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_sender_killed_inside_a_batch_leaves_no_email_in_new_the_next_batch_sends_them_and_tmp_is_swept(
    tmp_path: Path,
) -> None:
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_BATCH, str(tmp_path / "sent")], cwd=REPO, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert _in_new(tmp_path / "sent") == {}  # none half-written where a mail client reads
    assert len(os.listdir(tmp_path / "sent" / "tmp")) == 20  # left in tmp/, as Maildir allows
    sender = MaildirSender(tmp_path / "sent")
    with sender.batch():
        for n in range(20):
            sender.send(f"<e{n}@police.example>", _email(n), BOT, TEAM)
    assert sorted(_in_new(tmp_path / "sent").values()) == sorted(_email(n) for n in range(20))
    # What the crash left in tmp/ (personal data no purge reaches) goes once it is 36 hours old,
    # at the next start: a younger file may be another process's delivery in progress.
    left = list((tmp_path / "sent" / "tmp").iterdir())
    assert len(left) == 20
    for path in left:
        os.utime(path, (path.stat().st_mtime - 36 * 3600 - 60,) * 2)
    MaildirSender(tmp_path / "sent").send("<e99@police.example>", _email(99), BOT, TEAM)
    assert os.listdir(tmp_path / "sent" / "tmp") == []
    assert len(_in_new(tmp_path / "sent")) == 21
