"""Contract of the Inbox port, run on the Maildir inbox: nothing leaves it except through move."""

from __future__ import annotations

import mailbox
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.maildir_inbox import MaildirInbox
from bot.config import InboxConfig
from bot.ports import Folder, Inbox
from tests.support.port_contracts import InboxContract, InboxUnderTest

FOLDERS = {Folder.PROCESSED: "Processed", Folder.QUARANTINE: "Quarantine", Folder.TRIAGE: "Triage"}


def make_inbox(root: Path, max_message_bytes: int = 1024 * 1024) -> MaildirInbox:
    return MaildirInbox(
        root,
        processed_folder="Processed",
        quarantine_folder="Quarantine",
        triage_folder="Triage",
        max_message_bytes=max_message_bytes,
        poll_seconds=0.02,
    )


@pytest.fixture
def inbox(tmp_path: Path) -> MaildirInbox:
    return make_inbox(tmp_path / "inbox")


def message(n: int, body: str = "Please book a strategy discussion.") -> bytes:
    return (
        f"From: sw{n}@council.example\r\n"
        f"To: referrals@police.example\r\n"
        f"Subject: Strategy discussion N10000{n}\r\n"
        f"Message-ID: <m{n}@council.example>\r\n"
        f"\r\n"
        f"{body}\r\n"
    ).encode()


def set_delivery_time(inbox: MaildirInbox, key: str, when: datetime) -> None:
    [path] = [p for sub in ("new", "cur") for p in (inbox.path / sub).glob(f"{key}*")]
    os.utime(path, (when.timestamp(), when.timestamp()))


def files_in(folder: Path) -> dict[str, list[str]]:
    return {sub: sorted(os.listdir(folder / sub)) for sub in ("new", "cur", "tmp")}


def test_it_is_an_inbox_and_from_config_makes_the_maildir_and_its_folders(tmp_path: Path) -> None:
    cfg = InboxConfig(
        kind="maildir",
        path=tmp_path / "data" / "inbox",
        poll_seconds=2.0,
        processed_folder="Done",
        quarantine_folder="Held",
        triage_folder="ForTriage",
        max_message_bytes=4096,
        max_headers=500,
        max_mime_parts=100,
        max_mime_depth=10,
    )
    made: Inbox = MaildirInbox.from_config(cfg)
    assert isinstance(made, MaildirInbox) and made.max_message_bytes == 4096
    box = mailbox.Maildir(cfg.path, create=False)
    assert sorted(box.list_folders()) == ["Done", "ForTriage", "Held"]
    for name in ("Done", "Held", "ForTriage"):
        assert (cfg.path / f".{name}" / "maildirfolder").exists()  # Maildir++ marker
    # Opening it again keeps what is there.
    key = made.deliver(message(1))
    MaildirInbox.from_config(cfg)
    assert [m.key for m in made.pending()] == [key]


def test_pending_lists_oldest_delivery_first_and_leaves_every_file_where_it_was(
    inbox: MaildirInbox,
) -> None:
    a, b, c = (inbox.deliver(message(n)) for n in (1, 2, 3))
    # A message a mail client has already looked at sits in cur/ with flags; still pending.
    os.rename(inbox.path / "new" / b, inbox.path / "cur" / f"{b}:2,S")
    set_delivery_time(inbox, a, datetime(2026, 11, 23, 9, 5, tzinfo=UTC))
    set_delivery_time(inbox, b, datetime(2026, 11, 23, 9, 0, 30, 250000, tzinfo=UTC))
    set_delivery_time(inbox, c, datetime(2026, 11, 23, 8, 59, tzinfo=UTC))
    before = files_in(inbox.path)

    mails = list(inbox.pending())

    assert [m.key for m in mails] == [c, b, a]
    assert [m.raw for m in mails] == [message(3), message(2), message(1)]
    assert [m.received_at for m in mails] == [
        datetime(2026, 11, 23, 8, 59, tzinfo=UTC),
        datetime(2026, 11, 23, 9, 0, 30, 250000, tzinfo=UTC),
        datetime(2026, 11, 23, 9, 5, tzinfo=UTC),
    ]
    assert not any(m.oversized for m in mails)
    assert files_in(inbox.path) == before  # nothing marked read, nothing moved
    assert [m.key for m in inbox.pending()] == [c, b, a]  # and a second look sees the same


def test_pending_ignores_the_folders_and_dot_files(inbox: MaildirInbox) -> None:
    key = inbox.deliver(message(1))
    inbox.deliver(message(2))
    inbox.move(key, Folder.PROCESSED)
    (inbox.path / "new" / ".nfs000123").write_bytes(b"not a message")
    assert [m.raw for m in inbox.pending()] == [message(2)]


@pytest.mark.parametrize("folder", list(Folder))
def test_move_takes_the_message_out_of_pending_and_into_its_folder(inbox: MaildirInbox, folder: Folder) -> None:
    keep = inbox.deliver(message(1))
    key = inbox.deliver(message(2))

    inbox.move(key, folder)

    assert [m.key for m in inbox.pending()] == [keep]
    target = inbox.path / f".{FOLDERS[folder]}"
    assert files_in(target) == {"new": [], "cur": [f"{key}:2,"], "tmp": []}
    assert (target / "cur" / f"{key}:2,").read_bytes() == message(2)
    # A standard Maildir reader finds it there, unchanged.
    sub = mailbox.Maildir(inbox.path, create=False).get_folder(FOLDERS[folder])
    assert [sub.get_bytes(k) for k in sub.iterkeys()] == [message(2)]
    for other in set(Folder) - {folder}:
        assert os.listdir(inbox.path / f".{FOLDERS[other]}" / "cur") == []


def test_moving_twice_or_moving_a_message_already_gone_is_not_an_error(inbox: MaildirInbox) -> None:
    key = inbox.deliver(message(1))
    inbox.move(key, Folder.PROCESSED)
    inbox.move(key, Folder.PROCESSED)  # the crash-after-rename case: asked again on restart
    inbox.move(key, Folder.QUARANTINE)
    inbox.move("1700000000.M1P1.never-delivered", Folder.TRIAGE)
    assert os.listdir(inbox.path / ".Processed" / "cur") == [f"{key}:2,"]
    assert os.listdir(inbox.path / ".Quarantine" / "cur") == []
    assert list(inbox.pending()) == []


def test_move_keeps_flags_a_mail_client_added_after_the_listing(inbox: MaildirInbox) -> None:
    key = inbox.deliver(message(1))
    [mail] = inbox.pending()
    os.rename(inbox.path / "new" / key, inbox.path / "cur" / f"{key}:2,S")
    inbox.move(mail.key, Folder.TRIAGE)
    assert os.listdir(inbox.path / ".Triage" / "cur") == [f"{key}:2,S"]
    assert list(inbox.pending()) == []


def test_move_never_overwrites_another_message_of_the_same_name(inbox: MaildirInbox) -> None:
    key = inbox.deliver(message(1))
    (inbox.path / ".Processed" / "cur" / f"{key}:2,").write_bytes(message(9))
    inbox.move(key, Folder.PROCESSED)
    processed = inbox.path / ".Processed" / "cur"
    assert sorted(p.read_bytes() for p in processed.iterdir()) == sorted([message(1), message(9)])
    assert list(inbox.pending()) == []


def test_a_message_delivered_while_waiting_wakes_wait_early(inbox: MaildirInbox) -> None:
    assert list(inbox.pending()) == []
    delivered: list[str] = []
    deliverer = threading.Timer(0.2, lambda: delivered.append(inbox.deliver(message(1))))
    deliverer.start()
    try:
        woken = inbox.wait(timeout=120)
    finally:
        deliverer.join()
    assert woken is True  # woken by the delivery: the timeout ends a wait with False
    assert [m.key for m in inbox.pending()] == delivered


def test_wait_returns_at_once_for_mail_that_arrived_since_the_last_look(inbox: MaildirInbox) -> None:
    assert list(inbox.pending()) == []
    key = inbox.deliver(message(1))
    assert inbox.wait(timeout=120) is True  # at once for that mail: the timeout ends a wait with False
    assert [m.key for m in inbox.pending()] == [key]


def test_a_change_wakes_wait_once_not_again_until_the_next(inbox: MaildirInbox) -> None:
    assert list(inbox.pending()) == []
    inbox.deliver(message(1))
    assert inbox.wait(timeout=120) is True
    # The daemon's watcher calls wait again straight away: the same change must not wake it
    # again, or it would spin while a batch drains.
    assert inbox.wait(timeout=0.1) is False
    time.sleep(0.01)  # a later delivery is a new change, even within the file system's clock tick
    inbox.deliver(message(2))
    assert inbox.wait(timeout=120) is True


def test_wait_without_mail_returns_after_the_timeout(inbox: MaildirInbox) -> None:
    list(inbox.pending())
    started = time.monotonic()
    inbox.wait(timeout=0.1)
    assert time.monotonic() - started >= 0.1


def test_an_oversized_message_comes_with_its_headers_only(tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox", max_message_bytes=2048)
    small = inbox.deliver(message(1))
    big_raw = message(2, body="B" * 10_000)
    big = inbox.deliver(big_raw)
    set_delivery_time(inbox, small, datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    set_delivery_time(inbox, big, datetime(2026, 11, 23, 9, 1, tzinfo=UTC))

    [first, second] = inbox.pending()

    assert (first.key, first.oversized, first.raw) == (small, False, message(1))
    assert second.key == big and second.oversized
    headers = message(2).split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert second.raw == headers
    assert b"Message-ID: <m2@council.example>" in second.raw
    inbox.move(big, Folder.QUARANTINE)  # moved whole, not truncated
    assert (inbox.path / ".Quarantine" / "cur" / f"{big}:2,").read_bytes() == big_raw


def test_oversized_headers_without_an_end_are_cut_at_a_line_end(tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox", max_message_bytes=1024)
    line = b"X-Padding: " + b"p" * 60 + b"\r\n"
    inbox.deliver(b"Message-ID: <huge@council.example>\r\n" + line * 2000)
    [mail] = inbox.pending()
    assert mail.oversized and len(mail.raw) <= 64 * 1024
    assert mail.raw.startswith(b"Message-ID: <huge@council.example>\r\n") and mail.raw.endswith(b"\r\n")


def test_files_that_vanish_while_listing_are_skipped(inbox: MaildirInbox) -> None:
    keys = [inbox.deliver(message(n)) for n in (1, 2, 3)]
    for minute, key in enumerate(keys):
        set_delivery_time(inbox, key, datetime(2026, 11, 23, 9, minute, tzinfo=UTC))

    seen = []
    for mail in inbox.pending():
        seen.append(mail.key)
        if mail.key == keys[0]:
            # Another reader takes the second message after the listing, before it is read.
            (inbox.path / "new" / keys[1]).unlink()

    assert seen == [keys[0], keys[2]]
    inbox.move(keys[1], Folder.PROCESSED)  # and asking to move it is still no error
    assert os.listdir(inbox.path / ".Processed" / "cur") == []


def test_deliver_leaves_nothing_in_tmp(inbox: MaildirInbox) -> None:
    key = inbox.deliver(message(1))
    assert files_in(inbox.path) == {"new": [key], "cur": [], "tmp": []}
    box = mailbox.Maildir(inbox.path, create=False)
    assert box.get_bytes(key) == message(1)


class TestMaildirInboxContract(InboxContract):
    @pytest.fixture
    def inbox_under_test(self, tmp_path: Path) -> InboxUnderTest:
        inbox = make_inbox(tmp_path / "inbox", max_message_bytes=4096)

        def in_folder(folder: Folder) -> list[str]:
            box = mailbox.Maildir(inbox.folder_path(folder), factory=None, create=False)
            return sorted(str(m["Message-ID"]) for m in box)

        def deliver(raw: bytes) -> None:
            inbox.deliver(raw)
            time.sleep(0.002)  # distinct delivery times, as from an MTA

        return InboxUnderTest(inbox, deliver, in_folder, 4096)
