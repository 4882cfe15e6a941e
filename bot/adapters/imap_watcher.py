"""The watcher: its own IMAP connection in IDLE on the watched folder, so new mail wakes the bot within a second.

Where the server offers no IDLE (or ``idle = false``) the watcher only sleeps, and the daemon's
poll finds the mail.
"""

from __future__ import annotations

import logging
import selectors
import time
from collections.abc import Callable
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from bot.adapters.imap_connection import Backoff, ImapServer, disconnect, text_of
from bot.config import InboxConfig
from bot.errors import PermanentError, TransientError

log = logging.getLogger(__name__)


class IdleWatcher:
    """Sits in IDLE between rounds, on a connection apart from the one that fetches and moves."""

    def __init__(
        self,
        server: ImapServer,
        cfg: InboxConfig,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.server = server
        self.cfg = cfg
        self.imap = server.imap
        self.where = server.where
        self.monotonic = monotonic
        self.sleep = sleep
        self._watch: IMAPClient | None = None
        self._watch_since = 0.0
        self._reconnected = False  # connected again after failing: the daemon is woken once
        self._watch_backoff = Backoff(self.imap.retry_first_seconds, self.imap.retry_max_seconds, monotonic)

    def wait(self, timeout: float) -> bool:
        """Sit in IDLE for up to ``timeout`` seconds; True as soon as the server reports new mail.

        IDLE is ended and re-issued every ``idle_renew_seconds``, never later: servers may drop
        an IDLE after 30 minutes. What the server said while the IDLE ended counts too.
        Without IDLE (or with ``idle = false``) this only sleeps: the daemon's poll finds the mail.
        """
        if not self.imap.idle or self.server.health.idle is False:
            self.sleep(timeout)
            return False
        try:
            client = self._idle_client()
        except (TransientError, PermanentError):
            self.sleep(min(timeout, max(self._watch_backoff.wait_left(), 0.1)))
            return False
        if client is None:  # the server offers no IDLE: polling from now on
            self.sleep(timeout)
            return False
        if self._reconnected:
            # The server is back: a round now reads what arrived while it was away (and
            # reconnects the fetch connection) rather than at the next poll.
            self._reconnected = False
            return True
        deadline = self.monotonic() + timeout
        try:
            while True:
                renew_in = self._watch_since + self.imap.idle_renew_seconds - self.monotonic()
                if renew_in <= 0:
                    if self._renew_idle(client):
                        return True
                    continue
                left = deadline - self.monotonic()
                span = max(0.0, min(left, renew_in))
                with selectors.DefaultSelector() as selector:
                    selector.register(client.socket(), selectors.EVENT_READ)
                    ready = selector.select(span)
                if ready:
                    break
                if span >= left:
                    return False
            responses = client.idle_check(timeout=0)
            if not responses:
                raise ConnectionError("the server closed the connection")
        except (IMAPClientError, OSError) as exc:
            self._drop_watch(exc)
            return True  # a round now finds out whether the fetch connection survived
        self.server.heard()
        return _new_mail(responses)

    def _renew_idle(self, client: IMAPClient) -> bool:
        """End the IDLE and start another; True if the server reported new mail in between."""
        _, responses = client.idle_done()
        client.idle()
        self._watch_since = self.monotonic()
        self.server.heard()
        if _new_mail(responses):
            log.info("new mail in %s reported as IDLE was renewed", self.cfg.folder)
            return True
        return False

    def _idle_client(self) -> IMAPClient | None:
        if self._watch is not None:
            return self._watch
        wait = self._watch_backoff.wait_left()
        if wait > 0:
            raise TransientError(f"IMAP server {self.where} unavailable; next try in {wait:.0f} s")
        try:
            client = self.server.connect()
        except (TransientError, PermanentError) as exc:
            self.server.lost(exc, self._watch_backoff)
            raise
        try:
            if not client.has_capability("IDLE"):
                disconnect(client)
                log.warning("IMAP server %s offers no IDLE; polling every %g s", self.where, self.cfg.poll_seconds)
                self.server.offers_idle(False)
                return None
            client.select_folder(self.cfg.folder, readonly=True)
            client.idle()
        except (IMAPClientError, OSError) as exc:
            disconnect(client)
            self.server.lost(exc, self._watch_backoff)
            raise TransientError(f"cannot start IDLE on {self.where}: {text_of(exc)}") from exc
        self._reconnected = self._watch_backoff.failures > 0
        self._watch_backoff.succeeded()
        self.server.offers_idle(True)
        self._watch = client
        self._watch_since = self.monotonic()
        self.server.heard()
        log.info("waiting for mail in %s on %s with IDLE", self.cfg.folder, self.where)
        return client

    def _drop_watch(self, exc: BaseException) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            disconnect(watch, polite=False)
        self.server.lost(exc, self._watch_backoff)

    def close(self) -> None:
        if self._watch is not None:
            disconnect(self._watch, polite=False)  # LOGOUT in the middle of IDLE only waits for a timeout
        self._watch = None


def _new_mail(responses: list[Any]) -> bool:
    """Whether untagged responses such as ``(3, b"EXISTS")`` tell of mail arriving."""
    return any(isinstance(r, tuple) and len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)
