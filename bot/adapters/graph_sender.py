"""The sender on a Microsoft 365 mailbox through Microsoft Graph: ``sendMail`` with the MIME as it is."""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from datetime import datetime
from email.utils import getaddresses

from bot.adapters.graph_client import GraphClient, segment, unexpected
from bot.config import GraphConfig
from bot.errors import PermanentError, TransientError

log = logging.getLogger(__name__)

# One sendMail request may carry at most 4 MB; the MIME goes base64-encoded inside it.
SEND_LIMIT = 4 * 1024 * 1024


def addressed_to(raw: bytes, recipients: Sequence[str]) -> bytes:
    """The MIME with To/Cc/Bcc naming exactly ``recipients``; unchanged when they already do."""
    end = next((at for at in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if at >= 0), len(raw))
    head, rest = raw[:end], raw[end:]
    eol = b"\r\n" if b"\r\n" in head else b"\n"
    fields: list[list[bytes]] = []  # each header field with its folded continuation lines
    for line in head.split(eol):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    wanted = {r.lower(): r for r in recipients}
    named: set[str] = set()
    kept: list[bytes] = []
    for field in fields:
        name, _, value = b"".join(f.strip(b"\r") if i else f for i, f in enumerate(field)).partition(b":")
        if name.strip().lower() not in (b"to", b"cc", b"bcc"):
            kept.append(eol.join(field))
            continue
        addresses = [a for _, a in getaddresses([value.decode("ascii", "replace")]) if a]
        inside = [a for a in addresses if a.lower() in wanted]
        named.update(a.lower() for a in inside)
        if len(inside) == len(addresses):
            kept.append(eol.join(field))
            continue
        if inside:
            kept.append(name.strip() + b": " + ", ".join(inside).encode("ascii", "replace"))
        log.warning("%d header recipient(s) not in the envelope taken out of %s", len(addresses) - len(inside),
                    name.strip().decode("ascii", "replace"))  # fmt: skip
    missing = [wanted[r] for r in wanted if r not in named]
    if missing:
        kept.insert(0, b"Bcc: " + ", ".join(missing).encode("ascii", "replace"))
    result = eol.join(kept) + rest
    return raw if result == raw else result


class GraphSender:
    """The ``MailSender`` port: ``sendMail`` with the MIME as it is, so our headers reach the recipients unchanged.

    Graph takes the recipients from the MIME's To, Cc and Bcc, not from an envelope. When the
    envelope and the headers agree (the bot's own emails) the MIME goes byte for byte. Otherwise
    the envelope wins, as it would over SMTP: an envelope recipient the headers do not name is
    added as Bcc (Exchange strips it on delivery), and a To/Cc address outside the envelope is
    taken out of the header, since case details go only where the bot decided.
    """

    def __init__(self, client: GraphClient, mailbox: str) -> None:
        self.client = client
        self.mailbox = mailbox

    @classmethod
    def from_config(cls, graph_cfg: GraphConfig) -> GraphSender:
        return cls(GraphClient(graph_cfg), graph_cfg.mailbox)

    def send(self, message_id: str, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        what = f"sending email {message_id}"
        with unexpected(what):
            raw = addressed_to(raw, recipients)
            encoded = base64.b64encode(raw)
            if len(encoded) > SEND_LIMIT:
                raise PermanentError(
                    f"email {message_id} is {len(raw) / 1048576:.1f} MB; Microsoft Graph takes at most 4 MB in one "
                    "request once encoded, so it was not sent"
                )
            self.client.request(
                "POST",
                f"/users/{segment(self.mailbox)}/sendMail",
                need="Mail.Send",
                mailbox=self.mailbox,
                what=what,
                data=encoded,
                content_type="text/plain",
            )
        log.info("email %s handed to Microsoft Graph for %d recipient(s)", message_id, len(set(recipients)))

    def check(self) -> list[str]:
        """Whether a token can be had and the mailbox exists; Mail.Send itself cannot be tried without sending."""
        try:
            with unexpected("looking for the Sent Items folder"):
                self.client.token()
                self.client.request(
                    "GET",
                    f"/users/{segment(self.mailbox)}/mailFolders/sentitems",
                    need="Mail.ReadWrite",
                    mailbox=self.mailbox,
                    what="looking for the Sent Items folder",
                    params={"$select": "id"},
                    allow=(403,),
                )
        except (TransientError, PermanentError) as exc:
            return [f"Graph sender: {exc}"]
        return []

    def throttled_until(self) -> datetime | None:
        """When Graph lets this mailbox be asked again, while that is still to come (``Throttled``)."""
        return self.client.throttled_until(self.mailbox)

    def close(self) -> None:
        self.client.close()
