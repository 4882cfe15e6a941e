"""Batched durability on the Maildirs (issue 18 item 4): one sync per batch, nothing lost or doubled."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.adapters.maildir_inbox import MaildirInbox
from bot.adapters.maildir_sender import MaildirSender
from bot.errors import TransientError
from bot.ports import BatchMove, Folder
from bot.ports.batching import BatchDurable


def _inbox(root: Path) -> MaildirInbox:
    return MaildirInbox(root, "Processed", "Quarantine", "Triage", max_message_bytes=1 << 20, poll_seconds=0.02)


def _message(n: int) -> bytes:
    return f"From: sw{n}@council.example\r\nMessage-ID: <m{n}@council.example>\r\n\r\nBody {n}\r\n".encode()


def test_a_batch_of_moves_puts_each_message_in_its_folder_and_skips_one_already_gone(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path / "inbox")
    assert isinstance(inbox, BatchMove)
    keys = [inbox.deliver(_message(n)) for n in range(4)]
    assert [m.key for m in inbox.pending()] == keys
    inbox.move(keys[3], Folder.PROCESSED)  # moved before the batch (a crash between commit and move)
    inbox.move_many(
        [
            (keys[0], Folder.PROCESSED),
            (keys[1], Folder.QUARANTINE),
            (keys[2], Folder.TRIAGE),
            (keys[3], Folder.PROCESSED),
        ]
    )
    assert list(inbox.pending()) == []
    cur = {
        name: sorted(os.listdir(tmp_path / "inbox" / f".{name}" / "cur"))
        for name in ("Processed", "Quarantine", "Triage")
    }
    assert cur == {
        "Processed": sorted([f"{keys[0]}:2,", f"{keys[3]}:2,"]),
        "Quarantine": [f"{keys[1]}:2,"],
        "Triage": [f"{keys[2]}:2,"],
    }


def test_a_batch_of_sent_files_is_in_new_once_and_a_resend_after_a_client_moved_one_adds_nothing(
    tmp_path: Path,
) -> None:
    sender = MaildirSender(tmp_path / "sent")
    assert isinstance(sender, BatchDurable)
    with sender.batch():
        for n in range(3):
            sender.send(f"<e{n}@police.example>", _message(n), "bot@police.example", ["tm@council.example"])
    new = tmp_path / "sent" / "new"
    assert sorted(os.listdir(new)) == sorted(MaildirSender.file_name(f"<e{n}@police.example>") for n in range(3))
    # A mail client reads one: it moves to cur/ with flags, after the sender has listed cur/.
    name = MaildirSender.file_name("<e1@police.example>")
    os.rename(new / name, tmp_path / "sent" / "cur" / f"{name}:2,S")
    with sender.batch():
        for n in range(3):  # the whole round again, as after a crash before it was recorded
            sender.send(f"<e{n}@police.example>", _message(n), "bot@police.example", ["tm@council.example"])
    assert len(os.listdir(new)) == 2 and os.listdir(tmp_path / "sent" / "cur") == [f"{name}:2,S"]
    assert os.listdir(tmp_path / "sent" / "tmp") == []


def test_a_sent_maildir_removed_mid_batch_is_a_transient_error_and_made_again(tmp_path: Path) -> None:
    sender = MaildirSender(tmp_path / "sent")
    with sender.batch():
        sender.send("<a@police.example>", _message(1), "bot@police.example", ["tm@council.example"])
    for sub in ("new", "cur", "tmp"):
        for f in (tmp_path / "sent" / sub).iterdir():
            f.unlink()
        (tmp_path / "sent" / sub).rmdir()
    with pytest.raises(TransientError), sender.batch():
        sender.send("<b@police.example>", _message(2), "bot@police.example", ["tm@council.example"])
    with sender.batch():
        sender.send("<b@police.example>", _message(2), "bot@police.example", ["tm@council.example"])
    assert os.listdir(tmp_path / "sent" / "new") == [MaildirSender.file_name("<b@police.example>")]
