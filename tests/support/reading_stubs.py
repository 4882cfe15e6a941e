"""Read functions for the time-limited reader's tests, in a module the worker process can import.

Each reading says which message it read and in which process (``<text.pid@stub>``), so a
test can see where a message was read without timing anything. A raw message starting with
``STALL`` never finishes reading, ``BOOM`` raises, ``DIE`` ends every worker process it is
read in, and ``DIE-ONCE`` only the first. A path after a space is a marker file: created when
the reading starts, so a test can wait for that instead of guessing how long it takes.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

from bot.mail.reading import MessageReading, ReadingLimits


def stub_read(raw: bytes, own_addresses: frozenset[str], limits: ReadingLimits) -> MessageReading:
    marker = Path(raw.split(b" ", 1)[1].decode()) if b" " in raw else None
    first_time = marker is not None and not marker.exists()
    if marker is not None:
        marker.touch()
    in_worker = multiprocessing.parent_process() is not None
    if raw.startswith(b"STALL"):
        threading.Event().wait()  # stuck for good: only the time limit ends it
    if raw.startswith(b"BOOM"):
        raise ValueError("this message cannot be read")
    if raw.startswith(b"DIE-ONCE") and in_worker and first_time:
        os._exit(70)
    if raw.split(b" ", 1)[0] == b"DIE" and in_worker:
        os._exit(70)
    return MessageReading(f"<{raw.decode()}.{os.getpid()}@stub>")


def read_where(reading: object) -> tuple[str, int]:
    """(the message's text, the id of the process that read it) from a ``stub_read`` reading."""
    assert isinstance(reading, MessageReading) and reading.message_id is not None
    text, pid = reading.message_id.removeprefix("<").removesuffix("@stub>").rsplit(".", 1)
    return text, int(pid)
