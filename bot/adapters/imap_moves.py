"""Moving messages out of the watched IMAP folder: ``UID MOVE``, or copy and expunge where a server lacks it."""

from __future__ import annotations

import logging

from imapclient import DELETED, IMAPClient
from imapclient.exceptions import IMAPClientError

log = logging.getLogger(__name__)


def move_uids(client: IMAPClient, uids: list[int], target: str, watched: str) -> None:
    """``UID MOVE``, or COPY + ``\\Deleted`` + ``UID EXPUNGE`` where MOVE is missing.

    Where UIDPLUS is missing too, a plain EXPUNGE that spares what others marked deleted.
    """
    if client.has_capability("MOVE"):
        client.move(uids, target)
        return
    client.copy(uids, target)
    if client.has_capability("UIDPLUS"):
        client.add_flags(uids, [DELETED])
        client.uid_expunge(uids)
    else:
        _expunge_sparing_others(client, uids, watched)


def _expunge_sparing_others(client: IMAPClient, uids: list[int], watched: str) -> None:
    """Expunge ``uids`` with a plain EXPUNGE, which removes every ``\\Deleted`` message in the folder.

    Messages someone else marked ``\\Deleted`` are unmarked first and marked again after,
    so that only ours go. Chosen over refusing the fallback (which would leave every
    handled message in the folder, read again at every poll, for ever) because its
    failures are benign: a crash or a dropped connection between unmarking and marking
    again leaves those messages in the folder without their mark (logged, nothing lost);
    only a message marked in the instant between our SEARCH and our EXPUNGE can go with
    ours, as it would with that person's own client's next EXPUNGE.
    """
    ours = set(uids)
    others = [uid for uid in client.search(["DELETED"]) if uid not in ours]
    if others:
        log.info("unmarking %d message(s) marked deleted by someone else while expunging", len(others))
        client.remove_flags(others, [DELETED])
    try:
        client.add_flags(uids, [DELETED])
        client.expunge()
    finally:
        if others:
            try:
                client.add_flags(others, [DELETED])
            except (IMAPClientError, OSError):
                log.warning(
                    "could not mark UIDs %s in %s as deleted again; they stay in the folder unmarked",
                    ", ".join(map(str, others)),
                    watched,
                )
                raise
