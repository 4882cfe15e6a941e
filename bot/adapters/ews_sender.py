"""The sender on Exchange Server through EWS (exchangelib 5): the rendered MIME sent to its envelope only, once.

Logs carry message ids and counts, never subjects, bodies or addresses of people.
"""

from __future__ import annotations

import email
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.policy import compat32
from email.utils import getaddresses
from typing import Any

from exchangelib import Message
from exchangelib.folders import FolderCollection
from exchangelib.properties import Mailbox
from exchangelib.services import SendItem

from bot.adapters.ews_connection import EwsMailbox
from bot.config import EwsConfig
from bot.errors import PermanentError

log = logging.getLogger(__name__)


def _split_head(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """(header block, line ending, rest) of a raw message."""
    for sep in (b"\r\n", b"\n"):
        head, blank, rest = raw.partition(sep + sep)
        if blank:
            return head, sep, rest
    return raw, b"\r\n", b""


def _without_headers(raw: bytes, names: set[str]) -> bytes:
    """``raw`` less the named header fields (with their folded continuation lines); nothing else changes."""
    head, sep, rest = _split_head(raw)
    kept: list[bytes] = []
    dropping = False
    for line in head.split(sep):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.split(b":", 1)[0].strip().decode("ascii", "replace").casefold() in names
        if not dropping:
            kept.append(line)
    return sep.join(kept) + sep + sep + rest


def _addressed(raw: bytes, field: str) -> list[tuple[str, str]]:
    head, _, _ = _split_head(raw)
    parsed = email.message_from_bytes(head + b"\r\n\r\n", policy=compat32)
    return [(name, addr) for name, addr in getaddresses([str(v) for v in parsed.get_all(field) or []]) if addr]


def recipient_plan(raw: bytes, recipients: Sequence[str]) -> tuple[bytes, list[Any], list[Any], list[Any]]:
    """The MIME to send and the To, Cc and Bcc recipients to add to it, so Exchange delivers to ``recipients`` only.

    Exchange delivers to everyone the MIME's To and Cc name, plus any recipients given beside
    it. Normally the envelope is exactly the To and Cc, and the MIME goes as it is; an envelope
    recipient not named there is added as Bcc. Only when the headers name someone outside
    the envelope are To and Cc taken out of the MIME and given as recipients instead, so
    nobody outside the envelope gets it; every other header is kept.
    """
    envelope = {r.casefold() for r in recipients}
    to, cc = _addressed(raw, "To"), _addressed(raw, "Cc")
    named = {addr.casefold() for _, addr in to + cc}
    hidden = [Mailbox(email_address=r) for r in recipients if r.casefold() not in named]
    if named <= envelope:
        return raw, [], [], hidden
    keep_to = [Mailbox(name=n or None, email_address=a) for n, a in to if a.casefold() in envelope]
    keep_cc = [Mailbox(name=n or None, email_address=a) for n, a in cc if a.casefold() in envelope]
    return _without_headers(raw, {"to", "cc"}), keep_to, keep_cc, hidden


class EwsSender:
    """The ``MailSender`` port: the rendered MIME sent as it is from the referral mailbox, exactly once.

    Exchange reads the recipients from the MIME's To and Cc (see ``recipient_plan``). The mail
    is saved as a draft carrying our Message-ID (CreateItem, ``SaveOnly``, in Drafts), then
    sent (SendItem, a copy kept in Sent Items). Neither request is ever repeated blindly:
    every attempt first looks for our Message-ID (``InternetMessageId``) in Sent Items, the
    Outbox and Drafts (one FindItem). Found sent (or on its way out), it is not sent again;
    found as a draft, that draft is sent. So a 5xx or a dropped connection after Exchange
    accepted the mail never makes a second copy.
    """

    def __init__(
        self,
        ews_cfg: EwsConfig,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.mailbox = EwsMailbox(ews_cfg, ews_cfg.mailbox, "referral mailbox", sleep, now)

    @classmethod
    def from_config(cls, ews_cfg: EwsConfig) -> EwsSender:
        return cls(ews_cfg)

    def send(self, message_id: str, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        if not recipients:
            raise PermanentError(f"message {message_id} has no recipients")
        mime, to, cc, bcc = recipient_plan(raw, recipients)
        if mime is not raw:
            log.warning("message %s names recipients outside its envelope; sending to the envelope only", message_id)
        internet_id = _internet_message_id(mime) or message_id

        def send(account: Any) -> None:
            sent, drafts = self._ours(account, internet_id)
            if sent:
                log.info("message %s is already in Sent Items or the Outbox; not sending it again", message_id)
                return
            if drafts:
                log.info("message %s is already saved as a draft (%d); sending that draft", message_id, len(drafts))
                SendItem(account=account).get(items=[drafts[0]], saved_item_folder=account.sent)
                return
            message = Message(
                account=account,
                folder=account.drafts,
                mime_content=mime,
                to_recipients=to or None,
                cc_recipients=cc or None,
                bcc_recipients=bcc or None,
            )
            message.save()  # CreateItem, SaveOnly, in Drafts
            message.send(save_copy=True, copy_to_folder=account.sent)  # SendItem

        self.mailbox.call(f"sending message {message_id}", send)
        log.info("sent message %s to %d recipient(s) through Exchange", message_id, len(recipients))

    @staticmethod
    def _ours(account: Any, internet_id: str) -> tuple[list[Any], list[Any]]:
        """The items carrying this Message-ID: (in Sent Items or the Outbox, in Drafts)."""
        drafts_id = account.drafts.id
        folders = FolderCollection(account=account, folders=[account.sent, account.outbox, account.drafts])
        sent: list[Any] = []
        drafts: list[Any] = []
        for item in folders.filter(message_id=internet_id).only("message_id", "parent_folder_id"):
            if isinstance(item, Exception):
                raise item
            in_drafts = item.parent_folder_id is not None and item.parent_folder_id.id == drafts_id
            (drafts if in_drafts else sent).append(item)
        return sent, drafts

    def check(self) -> list[str]:
        return self.mailbox.problems(lambda account: (account.sent, account.drafts), "opening Sent Items and Drafts")

    def throttled_until(self) -> datetime | None:
        """When Exchange lets this mailbox be asked again, while that is still to come (``Throttled``)."""
        return self.mailbox.busy_until()

    def close(self) -> None:
        self.mailbox.close()


def _internet_message_id(raw: bytes) -> str:
    """The Message-ID of the MIME, as Exchange keeps it in ``InternetMessageId``; empty when there is none."""
    head, _, _ = _split_head(raw)
    parsed = email.message_from_bytes(head + b"\r\n\r\n", policy=compat32)
    return " ".join(str(parsed.get("Message-ID") or "").split())
