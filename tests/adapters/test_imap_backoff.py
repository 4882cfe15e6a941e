"""The IMAP reconnect back-off is capped at 5 s by default (issue 19 item 6: back within 10 s of the server).

Before, it doubled to 300 s, and the bot took 53 s to read the inbox again after an outage.
"""

from __future__ import annotations

from pathlib import Path

from bot.adapters.imap_connection import Backoff
from tests.adapters.test_imap_inbox import parsed_imap


def test_by_default_no_wait_between_two_tries_is_longer_than_5_seconds(tmp_path: Path) -> None:
    imap = parsed_imap(tmp_path)
    assert (imap.retry_first_seconds, imap.retry_max_seconds) == (1, 5)
    clock = [0.0]
    backoff = Backoff(imap.retry_first_seconds, imap.retry_max_seconds, lambda: clock[0])
    waits = [backoff.failed() for _ in range(20)]  # a long outage: twenty failed tries
    assert waits[:4] == [1, 2, 4, 5] and max(waits) == 5
    assert backoff.wait_left() == 5  # the server back now: tried again within 5 s
