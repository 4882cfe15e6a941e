"""The sender on a Microsoft 365 mailbox through Microsoft Graph: a draft made from our MIME, then sent, exactly once.

``sendMail`` has no idempotency key: repeated after a 504 that came once Exchange had taken
the email, it sends a second copy. So an email goes in two steps, each made at most once per
attempt: a draft from our MIME (``POST /messages``, which keeps our Message-ID as its
``internetMessageId``), then ``POST /messages/{id}/send``. Every attempt first looks for that
Message-ID in Sent Items (sent already: done) and in Drafts (made already: sent, not made
again). When an answer is lost, the draft is read back by its immutable id (it is the same
item once sent): no longer a draft means sent. Otherwise the attempt fails for the outbox to
repeat later, which looks again first.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from datetime import datetime
from email.utils import getaddresses
from typing import Any

import requests

from bot.adapters.graph_client import AnswerLost, GraphClient, body, odata_string, segment, unexpected
from bot.config import GraphConfig
from bot.errors import PermanentError, TransientError

log = logging.getLogger(__name__)

# One request may carry at most 4 MB; the MIME goes base64-encoded inside it.
SEND_LIMIT = 4 * 1024 * 1024
# Drafts and the Sent Items copy are read and written with this permission; sending needs Mail.Send.
MAIL = "Mail.ReadWrite"


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
    """The ``MailSender`` port: our MIME as it is, so our headers reach the recipients unchanged; never two copies.

    Graph takes the recipients from the MIME's To, Cc and Bcc, not from an envelope. When the
    envelope and the headers agree (the bot's own emails) the MIME goes byte for byte. Otherwise
    the envelope wins, as it would over SMTP: an envelope recipient the headers do not name is
    added as Bcc (Exchange strips it on delivery), and a To/Cc address outside the envelope is
    taken out of the header, since case details go only where the bot decided.
    """

    def __init__(self, client: GraphClient, mailbox: str) -> None:
        self.client = client
        self.mailbox = mailbox
        self.base = f"/users/{segment(mailbox)}"

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
            if self._look("sentitems", message_id, what):
                log.info("email %s is already in Sent Items; not sent again", message_id)
                return
            drafts = self._look("drafts", message_id, what)
            draft = drafts[0] if drafts else self._draft(message_id, encoded, what)
            for extra in drafts[1:]:  # a second draft from an earlier attempt whose answer was lost
                self._call("DELETE", f"{self.base}/messages/{segment(extra)}", what, allow=(404,))
            self._submit(draft, what)
        log.info("email %s handed to Microsoft Graph for %d recipient(s)", message_id, len(set(recipients)))

    def _call(self, method: str, path: str, what: str, need: str = MAIL, **kwargs: Any) -> requests.Response:
        return self.client.request(method, path, need=need, mailbox=self.mailbox, what=what, **kwargs)

    def _look(self, folder: str, message_id: str, what: str) -> list[str]:
        """The ids of the messages in this well-known folder carrying our Message-ID."""
        params = {"$filter": f"internetMessageId eq {odata_string(message_id)}", "$select": "id,internetMessageId"}
        found = body(self._call("GET", f"{self.base}/mailFolders/{folder}/messages", what, params=params), what)
        return [str(m["id"]) for m in found.get("value", []) if m.get("internetMessageId") == message_id]

    def _draft(self, message_id: str, encoded: bytes, what: str) -> str:
        try:
            resp = self._call("POST", f"{self.base}/messages", what, data=encoded, content_type="text/plain", once=True)
        except AnswerLost:
            if self.client.throttled_until(self.mailbox) is not None:
                raise  # looked for at the next attempt, once Graph lets us
            made = self._look("drafts", message_id, what)
            if not made:
                raise
            return made[0]
        return str(body(resp, what)["id"])

    def _submit(self, draft: str, what: str) -> None:
        path = f"{self.base}/messages/{segment(draft)}"
        try:
            self._call("POST", f"{path}/send", what, need="Mail.Send", once=True)
        except AnswerLost:
            if self.client.throttled_until(self.mailbox) is not None:
                raise  # looked for at the next attempt, once Graph lets us
            # The same item, wherever it is now (immutable ids): no longer a draft means it went.
            resp = self._call("GET", path, what, params={"$select": "id,isDraft"}, allow=(404,))
            if resp.status_code == 404 or body(resp, what).get("isDraft") is not False:
                raise
            log.info("the answer to sending a draft was lost, but the draft has been sent")

    def check(self) -> list[str]:
        """Whether a token can be had and Sent Items read (Mail.ReadWrite); Mail.Send is not tried: it would send."""
        try:
            with unexpected("looking for the Sent Items folder"):
                self.client.token()
                self._call("GET", f"{self.base}/mailFolders/sentitems", "looking for the Sent Items folder",
                           params={"$select": "id"})  # fmt: skip
        except (TransientError, PermanentError) as exc:
            return [f"Graph sender: {exc}"]
        return []

    def throttled_until(self) -> datetime | None:
        """When Graph lets this mailbox be asked again, while that is still to come (``Throttled``)."""
        return self.client.throttled_until(self.mailbox)

    def close(self) -> None:
        self.client.close()
