"""The referral inbox on an IMAP server (imapclient): pushed by IDLE, moved out only after commit.

Two connections: one fetches and moves (the daemon's worker), one sits in IDLE on the
watched folder (the daemon's watcher) so new mail wakes the bot within a second. Nothing
is ever marked: fetching uses ``BODY.PEEK[]``, and "done" is the message having left the
watched folder, never ``\\Seen``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from imapclient import DELETED, IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from bot.config import ConfigError, ImapConfig, InboxConfig
from bot.errors import PermanentError, TransientError
from bot.ports import AdapterState, Folder, IncomingMail, handled_folders

log = logging.getLogger(__name__)

# Fetched together in one round trip; enough to keep a backlog moving, small enough for memory.
FETCH_CHUNK = 25


@dataclass
class InboxHealth:
    """What ``status`` and the silence alert read: is the server answering, and since when."""

    connected: bool = False
    last_contact: datetime | None = None
    error: str | None = None
    idle: bool | None = None  # None until the server has said whether it offers IDLE


def _text(exc: BaseException) -> str:
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
    text = _text(exc)
    return re.sub(r"^\*\s+(BYE|NO|BAD)\s*", "", text, flags=re.IGNORECASE) or text


class _Backoff:
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


class ImapInbox:
    """The ``Inbox`` port on an IMAP folder.

    State kept per folder in ``AdapterState``: UIDVALIDITY and the last UID moved out. A
    new UIDVALIDITY means every UID may now name another message, so the folder is read
    again from the start; the service recognises messages already handled by Message-ID
    and content hash before acting on anything.
    """

    def __init__(
        self,
        cfg: InboxConfig,
        state: AdapterState,
        ssl_context: ssl.SSLContext | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if cfg.imap is None:
            raise ConfigError('inbox.imap: missing; expected an [inbox.imap] table when inbox.kind = "imap"')
        self.cfg = cfg
        self.imap: ImapConfig = cfg.imap
        self.state = state
        self.where = f"{self.imap.host}:{self.imap.port}"
        if ssl_context is None:
            cafile = str(self.imap.ca_file) if self.imap.ca_file else None
            ssl_context = ssl.create_default_context(cafile=cafile)
        self.ssl_context = ssl_context
        self.monotonic = monotonic
        self.sleep = sleep
        self.folders = handled_folders(cfg)
        self.health = InboxHealth()
        self._state_key = f"imap:{self.imap.username}@{self.where}/{cfg.folder}"
        self._conn: IMAPClient | None = None
        self._selected_uidvalidity: int | None = None
        self._backoff = _Backoff(self.imap.retry_first_seconds, self.imap.retry_max_seconds, monotonic)
        self._watch: IMAPClient | None = None
        self._watch_since = 0.0
        self._watch_backoff = _Backoff(self.imap.retry_first_seconds, self.imap.retry_max_seconds, monotonic)
        self._lock = threading.Lock()  # health is written by the worker and the watcher

    @classmethod
    def from_config(cls, cfg: InboxConfig, state: AdapterState) -> ImapInbox:
        return cls(cfg, state)

    # -- connecting --------------------------------------------------------------------------

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
            raise TransientError(f"cannot find the IMAP server {imap.host}: {_text(exc)}") from exc
        except OSError as exc:
            raise TransientError(f"cannot reach the IMAP server {self.where}: {_text(exc)}") from exc
        except IMAPClientError as exc:  # a greeting of "* BYE ..." or no IMAP greeting at all
            raise TransientError(f"the IMAP server {self.where} turned the connection away: {_greeting(exc)}") from exc
        try:
            client.normalise_times = False  # INTERNALDATE as aware datetimes
            if imap.security == "starttls":
                self._starttls(client)
            self._login(client)
        except BaseException:
            _close(client, polite=False)
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
            raise TransientError(f"{self.where} dropped the connection at STARTTLS: {_text(exc)}") from exc
        except IMAPClientError as exc:
            raise PermanentError(f"{self.where} refused STARTTLS; not logging in in clear text") from exc
        except OSError as exc:
            raise TransientError(f"TLS handshake with {self.where} failed after STARTTLS: {_text(exc)}") from exc

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
            reason = _text(exc)
            if "UNAVAILABLE" in reason.upper():  # the server's password store is down
                raise TransientError(f"login for {imap.username} failed for now at {self.where}: {reason}") from exc
            raise PermanentError(f"login refused for {imap.username} by {self.where}: {reason}") from exc
        except (IMAPClientError, OSError) as exc:
            raise TransientError(f"{self.where} dropped the connection during login: {_text(exc)}") from exc

    def _client(self) -> IMAPClient:
        if self._conn is not None:
            return self._conn
        wait = self._backoff.wait_left()
        if wait > 0:
            raise TransientError(f"IMAP server {self.where} unavailable; next try in {wait:.0f} s")
        try:
            client = self.connect()
            self._prepare_folders(client)
        except (TransientError, PermanentError) as exc:
            self._lost(exc, self._backoff)
            raise
        if self._backoff.failures:
            log.warning("IMAP server %s answering again after %d failed tries", self.where, self._backoff.failures)
        else:
            log.info("connected to IMAP server %s (%s)", self.where, self.imap.security)
        self._backoff.succeeded()
        self._conn = client
        self._heard()
        return client

    def _prepare_folders(self, client: IMAPClient) -> None:
        try:
            if not client.folder_exists(self.cfg.folder):
                raise PermanentError(f"the watched folder {self.cfg.folder!r} does not exist on {self.where}")
            for name in self.folders.values():
                if not client.folder_exists(name):
                    client.create_folder(name)
                    log.info("created IMAP folder %s", name)
        except PermanentError:
            _close(client)
            raise
        except (IMAPClientError, OSError) as exc:
            _close(client)
            raise TransientError(f"{self.where} failed while checking folders: {_text(exc)}") from exc
        self._selected_uidvalidity = None

    def _lost(self, exc: BaseException, backoff: _Backoff) -> None:
        delay = backoff.failed()
        with self._lock:
            self.health.connected = False
            self.health.error = _text(exc)
        log.warning("IMAP server %s: %s; retrying in %.0f s", self.where, _text(exc), delay)

    def _drop(self, exc: BaseException) -> TransientError:
        """Forget the fetch connection after an error on it; the next use reconnects."""
        conn, self._conn = self._conn, None
        if conn is not None:
            _close(conn)
        self._lost(exc, self._backoff)
        return TransientError(f"lost the IMAP server {self.where}: {_text(exc)}")

    def _heard(self) -> None:
        with self._lock:
            self.health.connected = True
            self.health.last_contact = datetime.now(UTC)
            self.health.error = None

    # -- the folder's bookmark -----------------------------------------------------------------

    def _bookmark(self) -> tuple[int | None, int]:
        text = self.state.get_state(self._state_key)
        if not text:
            return None, 0
        data = json.loads(text)
        return int(data["uidvalidity"]), int(data["last_uid"])

    def _save_bookmark(self, uidvalidity: int, last_uid: int) -> None:
        value = json.dumps({"uidvalidity": uidvalidity, "last_uid": last_uid})
        self.state.put_state(self._state_key, value, datetime.now(UTC))

    def _select(self, client: IMAPClient) -> int:
        info = client.select_folder(self.cfg.folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        known, last_uid = self._bookmark()
        if known is not None and known != uidvalidity:
            log.warning(
                "UIDVALIDITY of %s changed from %d to %d: reading the whole folder again; "
                "messages already handled are recognised by Message-ID and content hash",
                self.cfg.folder,
                known,
                uidvalidity,
            )
            last_uid = 0
        if known != uidvalidity:
            self._save_bookmark(uidvalidity, last_uid)
        self._selected_uidvalidity = uidvalidity
        return uidvalidity

    # -- the Inbox port ------------------------------------------------------------------------

    def pending(self) -> Iterator[IncomingMail]:
        """Every message in the watched folder, in UID (arrival) order, fetched a chunk at a time."""
        client = self._client()
        try:
            uidvalidity = self._select(client)
            uids = sorted(client.search("ALL"))
            meta = client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"]) if uids else {}
        except (IMAPClientError, OSError) as exc:
            raise self._drop(exc) from exc
        self._heard()
        _, last_uid = self._bookmark()
        again = [uid for uid in uids if uid <= last_uid]
        if again:
            log.info("%d message(s) in %s were handled before and are offered again", len(again), self.cfg.folder)
        limit = self.cfg.max_message_bytes
        small = [uid for uid in uids if uid in meta and int(meta[uid][b"RFC822.SIZE"]) <= limit]
        for start in range(0, len(uids), FETCH_CHUNK):
            chunk = uids[start : start + FETCH_CHUNK]
            whole = [uid for uid in chunk if uid in small]
            big = [uid for uid in chunk if uid in meta and uid not in small]
            try:
                bodies = client.fetch(whole, ["BODY.PEEK[]"]) if whole else {}
                heads = client.fetch(big, ["BODY.PEEK[HEADER]"]) if big else {}
            except (IMAPClientError, OSError) as exc:
                raise self._drop(exc) from exc
            self._heard()
            for uid in chunk:
                if uid in bodies:
                    raw, oversized = bodies[uid].get(b"BODY[]"), False
                elif uid in heads:
                    raw, oversized = heads[uid].get(b"BODY[HEADER]"), True
                    log.warning(
                        "message UID %d is %d bytes, over the limit; headers only", uid, meta[uid][b"RFC822.SIZE"]
                    )
                else:
                    continue  # expunged by someone else since the search
                if raw is None:
                    continue
                yield IncomingMail(
                    f"{uidvalidity}:{uid}", bytes(raw), _received(meta[uid].get(b"INTERNALDATE")), oversized
                )

    def move(self, key: str, folder: Folder) -> None:
        """``UID MOVE``, or COPY + ``\\Deleted`` + ``UID EXPUNGE`` where MOVE is missing.

        Where UIDPLUS is missing too, a plain EXPUNGE that spares what others marked deleted.

        A UID no longer in the folder is not an error (the server ignores it): that is the
        restart after a crash between the move and our record of it.
        """
        self.move_many([(key, folder)])

    def move_many(self, moves: list[tuple[str, Folder]]) -> None:
        """Move a committed batch with one command per destination folder."""
        parsed: list[tuple[int, int, Folder]] = []
        for key, folder in moves:
            try:
                uidvalidity, uid = (int(part) for part in key.split(":", 1))
            except ValueError:
                raise ValueError(f"not an IMAP message key: {key!r}") from None
            parsed.append((uidvalidity, uid, folder))
        if not parsed:
            return
        client = self._client()
        try:
            current = self._selected_uidvalidity or self._select(client)
            stale = [uid for uidvalidity, uid, _ in parsed if uidvalidity != current]
            if stale:
                # The UIDs were renumbered since the listing: these may now be other messages.
                # They stay; the next listing offers them again and they are recognised.
                log.warning("not moving %d message(s): UIDVALIDITY changed since they were listed", len(stale))
            by_folder: dict[str, list[int]] = {}
            for uidvalidity, uid, folder in parsed:
                if uidvalidity == current:
                    by_folder.setdefault(self.folders[folder], []).append(uid)
            for target, uids in by_folder.items():
                if client.has_capability("MOVE"):
                    client.move(uids, target)
                    continue
                client.copy(uids, target)
                if client.has_capability("UIDPLUS"):
                    client.add_flags(uids, [DELETED])
                    client.uid_expunge(uids)
                else:
                    self._expunge_sparing_others(client, uids)
        except (IMAPClientError, OSError) as exc:
            raise self._drop(exc) from exc
        self._heard()
        moved = [uid for uidvalidity, uid, _ in parsed if uidvalidity == current]
        _, last_uid = self._bookmark()
        if moved and max(moved) > last_uid:
            self._save_bookmark(current, max(moved))

    def _expunge_sparing_others(self, client: IMAPClient, uids: list[int]) -> None:
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
                        self.cfg.folder,
                    )
                    raise

    def wait(self, timeout: float) -> bool:
        """Sit in IDLE for up to ``timeout`` seconds; True as soon as the server reports new mail.

        IDLE is ended and re-issued every ``idle_renew_seconds``, never later: servers may drop
        an IDLE after 30 minutes. What the server said while the IDLE ended counts too.
        Without IDLE (or with ``idle = false``) this only sleeps: the daemon's poll finds the mail.
        """
        if not self.imap.idle or self.health.idle is False:
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
        self._heard()
        return _new_mail(responses)

    def _renew_idle(self, client: IMAPClient) -> bool:
        """End the IDLE and start another; True if the server reported new mail in between."""
        _, responses = client.idle_done()
        client.idle()
        self._watch_since = self.monotonic()
        self._heard()
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
            client = self.connect()
        except (TransientError, PermanentError) as exc:
            self._lost(exc, self._watch_backoff)
            raise
        try:
            if not client.has_capability("IDLE"):
                _close(client)
                log.warning("IMAP server %s offers no IDLE; polling every %g s", self.where, self.cfg.poll_seconds)
                with self._lock:
                    self.health.idle = False
                return None
            client.select_folder(self.cfg.folder, readonly=True)
            client.idle()
        except (IMAPClientError, OSError) as exc:
            _close(client)
            self._lost(exc, self._watch_backoff)
            raise TransientError(f"cannot start IDLE on {self.where}: {_text(exc)}") from exc
        self._watch_backoff.succeeded()
        with self._lock:
            self.health.idle = True
        self._watch = client
        self._watch_since = self.monotonic()
        self._heard()
        log.info("waiting for mail in %s on %s with IDLE", self.cfg.folder, self.where)
        return client

    def _drop_watch(self, exc: BaseException) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            _close(watch, polite=False)
        self._lost(exc, self._watch_backoff)

    # -- the operator's check and shutdown -----------------------------------------------------------

    def check(self) -> list[str]:
        """What ``check-config`` reports, in plain words: empty when the inbox is ready."""
        try:
            client = self.connect()
        except (TransientError, PermanentError) as exc:
            return [f"IMAP: {exc}"]
        problems = []
        try:
            if not client.folder_exists(self.cfg.folder):
                problems.append(f"IMAP: the watched folder {self.cfg.folder!r} does not exist on {self.where}")
            missing = [name for name in self.folders.values() if not client.folder_exists(name)]
            if missing:
                log.info("IMAP folders %s will be created at start", ", ".join(missing))
            if self.imap.idle and not client.has_capability("IDLE"):
                log.info("IMAP server %s offers no IDLE; the bot will poll", self.where)
        except (IMAPClientError, OSError) as exc:
            problems.append(f"IMAP: {self.where} failed while checking folders: {_text(exc)}")
        finally:
            _close(client)
        return problems

    def close(self) -> None:
        if self._conn is not None:
            _close(self._conn)
        if self._watch is not None:
            _close(self._watch, polite=False)  # LOGOUT in the middle of IDLE only waits for a timeout
        self._conn = self._watch = None


def _new_mail(responses: list[Any]) -> bool:
    """Whether untagged responses such as ``(3, b"EXISTS")`` tell of mail arriving."""
    return any(isinstance(r, tuple) and len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)


def _received(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _close(client: IMAPClient, polite: bool = True) -> None:
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
