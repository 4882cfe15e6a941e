"""The IMAP server the referral inbox is on: new logged-in connections (TLS, STARTTLS, login) and how it is answering.

Every failure to connect comes back as a ``TransientError`` or a ``PermanentError`` in words;
``InboxHealth`` records what ``status`` and the silence alert read, written by both the
daemon's worker and its watcher.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from bot.config import ConfigError, ImapConfig
from bot.errors import PermanentError, TransientError
from bot.os_words import os_error_words

log = logging.getLogger(__name__)


@dataclass
class InboxHealth:
    """What ``status`` and the silence alert read: is the server answering, and since when."""

    connected: bool = False
    last_contact: datetime | None = None
    error: str | None = None
    idle: bool | None = None  # None until the server has said whether it offers IDLE


def text_of(exc: BaseException) -> str:
    """An exception's message on one line, bytes decoded; its type's name when it has none.

    An operating-system error is its words ("connection refused"), never its errno.
    """
    if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError) and (exc.strerror or exc.errno):
        return os_error_words(exc)
    message = exc.args[0] if exc.args else exc
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return " ".join(str(message).split()) or type(exc).__name__


def _tls_text(exc: ssl.SSLError) -> str:
    """``[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)`` as "wrong version number"."""
    if isinstance(exc, ssl.SSLEOFError):
        return "the server closed the connection during the handshake"
    text = str(exc.args[1] if len(exc.args) > 1 else exc)
    text = re.sub(r"^\[[^\]]*\]\s*|\s*\(_ssl\.c:\d+\)$", "", text)
    return " ".join(text.split()) or type(exc).__name__


def _greeting(exc: BaseException) -> str:
    """What a server said instead of greeting us: ``* BYE go away`` as "go away"."""
    text = text_of(exc)
    return re.sub(r"^\*\s+(BYE|NO|BAD)\s*", "", text, flags=re.IGNORECASE) or text


class Backoff:
    """Capped exponential back-off for reconnecting; forever, never giving up."""

    def __init__(self, first: float, most: float, monotonic: Callable[[], float]) -> None:
        self.first, self.most, self.monotonic = first, most, monotonic
        self.failures = 0
        self.retry_at = 0.0

    def failed(self) -> float:
        self.failures += 1
        delay: float = min(self.first * 2.0 ** (self.failures - 1), self.most)
        self.retry_at = self.monotonic() + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.retry_at = 0.0

    def wait_left(self) -> float:
        return max(0.0, self.retry_at - self.monotonic())


class ImapServer:
    """One IMAP server reached with the inbox's account, and its health as the bot last saw it."""

    def __init__(self, imap: ImapConfig, ssl_context: ssl.SSLContext | None = None) -> None:
        self.imap = imap
        self.where = f"{imap.host}:{imap.port}"
        if ssl_context is None:
            cafile = str(imap.ca_file) if imap.ca_file else None
            ssl_context = ssl.create_default_context(cafile=cafile)
        self.ssl_context = ssl_context
        self.health = InboxHealth()
        self._lock = threading.Lock()  # health is written by the worker and the watcher

    def connect(self) -> IMAPClient:
        """A new, logged-in connection; every failure as a ``TransientError`` or ``PermanentError`` in words.

        An untrusted certificate, a refused STARTTLS and a refused login will not mend on
        their own (permanent); anything else (unreachable, turned away, a broken handshake,
        a dropped connection) is retried with back-off.
        """
        imap = self.imap
        try:
            client = IMAPClient(
                imap.host,
                port=imap.port,
                ssl=imap.security == "tls",
                ssl_context=self.ssl_context,
                timeout=imap.timeout_seconds,
            )
        except ssl.SSLCertVerificationError as exc:
            raise PermanentError(f"TLS certificate check failed for {self.where}: {exc.verify_message}") from exc
        except ssl.SSLError as exc:
            raise TransientError(f"TLS handshake with {self.where} failed: {_tls_text(exc)}") from exc
        except socket.gaierror as exc:
            raise TransientError(f"cannot find the IMAP server {imap.host}: {text_of(exc)}") from exc
        except OSError as exc:
            raise TransientError(f"cannot reach the IMAP server {self.where}: {text_of(exc)}") from exc
        except IMAPClientError as exc:  # a greeting of "* BYE ..." or no IMAP greeting at all
            raise TransientError(f"the IMAP server {self.where} turned the connection away: {_greeting(exc)}") from exc
        try:
            client.normalise_times = False  # INTERNALDATE as aware datetimes
            if imap.security == "starttls":
                self._starttls(client)
            self._login(client)
        except BaseException:
            disconnect(client, polite=False)
            raise
        return client

    def _starttls(self, client: IMAPClient) -> None:
        try:
            client.starttls(self.ssl_context)
        except ssl.SSLCertVerificationError as exc:
            raise PermanentError(f"TLS certificate check failed for {self.where}: {exc.verify_message}") from exc
        except ssl.SSLError as exc:
            raise TransientError(f"TLS handshake with {self.where} failed after STARTTLS: {_tls_text(exc)}") from exc
        except IMAPClientAbortError as exc:
            raise TransientError(f"{self.where} dropped the connection at STARTTLS: {text_of(exc)}") from exc
        except IMAPClientError as exc:
            raise PermanentError(f"{self.where} refused STARTTLS; not logging in in clear text") from exc
        except OSError as exc:
            raise TransientError(f"TLS handshake with {self.where} failed after STARTTLS: {text_of(exc)}") from exc

    def _login(self, client: IMAPClient) -> None:
        imap = self.imap
        try:
            if imap.auth == "xoauth2":
                client.oauth2_login(imap.username, imap.oauth_token() or "")
            else:
                client.login(imap.username, imap.password() or "")
        except ConfigError as exc:
            raise PermanentError(str(exc)) from exc
        except LoginError as exc:
            reason = text_of(exc)
            if "UNAVAILABLE" in reason.upper():  # the server's password store is down
                raise TransientError(f"login for {imap.username} failed for now at {self.where}: {reason}") from exc
            raise PermanentError(f"login refused for {imap.username} by {self.where}: {reason}") from exc
        except (IMAPClientError, OSError) as exc:
            raise TransientError(f"{self.where} dropped the connection during login: {text_of(exc)}") from exc

    # -- health --------------------------------------------------------------------------------

    def lost(self, exc: BaseException, backoff: Backoff) -> None:
        """A connection failed or was dropped: unhealthy until ``heard``, and the next try after ``backoff``."""
        delay = backoff.failed()
        with self._lock:
            self.health.connected = False
            self.health.error = text_of(exc)
        log.warning("IMAP server %s: %s; retrying in %.0f s", self.where, text_of(exc), delay)

    def heard(self) -> None:
        """The server answered just now."""
        with self._lock:
            self.health.connected = True
            self.health.last_contact = datetime.now(UTC)
            self.health.error = None

    def offers_idle(self, offered: bool) -> None:
        with self._lock:
            self.health.idle = offered


def disconnect(client: IMAPClient, polite: bool = True) -> None:
    """Log out if the server still listens (``polite``); drop the socket either way."""
    if not polite:
        with contextlib.suppress(Exception):
            client.shutdown()
        return
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - closing a broken connection must not raise
        with contextlib.suppress(Exception):
            client.shutdown()
