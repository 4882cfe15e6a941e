"""The referral inbox on an IMAP server (imapclient): pushed by IDLE, moved out only after commit.

Two connections: one fetches and moves (the daemon's worker, here), one sits in IDLE on the
watched folder (the daemon's watcher, bot/adapters/imap_watcher.py) so new mail wakes the bot
within a second. Nothing is ever marked: fetching uses ``BODY.PEEK[]``, and "done" is the
message having left the watched folder, never ``\\Seen``.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from bot.adapters.imap_connection import Backoff, ImapServer, disconnect, text_of
from bot.adapters.imap_moves import move_uids
from bot.adapters.imap_quarantine import ImapQuarantine
from bot.adapters.imap_watcher import IdleWatcher
from bot.config import ConfigError, ImapConfig, InboxConfig
from bot.errors import PermanentError, TransientError
from bot.ports import AdapterState, Folder, IncomingMail, handled_folders

log = logging.getLogger(__name__)

# Fetched together in one round trip; enough to keep a backlog moving, small enough for memory.
FETCH_CHUNK = 25
# Handled messages committed and moved out this many at a time: each group is progress kept,
# so a daemon restarted every few seconds still works through a backlog.
COMMIT_EVERY = 5


class ImapInbox:
    """The ``Inbox`` port on an IMAP folder.

    State kept per folder in ``AdapterState``: UIDVALIDITY and the last UID moved out. A
    new UIDVALIDITY means every UID may now name another message, so the folder is read
    again from the start; the service recognises messages already handled by Message-ID
    and content hash before acting on anything.
    """

    # Read by the daemon: the largest group of messages handled before a commit and the moves.
    commit_every = COMMIT_EVERY

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
        self.server = ImapServer(self.imap, ssl_context)
        self.where = self.server.where
        self.folders = handled_folders(cfg)
        self.health = self.server.health
        self._state_key = f"imap:{self.imap.username}@{self.where}/{cfg.folder}"
        self._conn: IMAPClient | None = None
        self._selected_uidvalidity: int | None = None
        self._backoff = Backoff(self.imap.retry_first_seconds, self.imap.retry_max_seconds, monotonic)
        self.watcher = IdleWatcher(self.server, cfg, monotonic, sleep)

    @classmethod
    def from_config(cls, cfg: InboxConfig, state: AdapterState) -> ImapInbox:
        return cls(cfg, state)

    def quarantine_folder(self) -> ImapQuarantine:
        """The quarantine folder on its own connection, for the `quarantine` command (``HasQuarantine``)."""
        return ImapQuarantine(
            ImapServer(self.imap, self.server.ssl_context), self.cfg.quarantine_folder, self.cfg.folder
        )

    # -- connecting --------------------------------------------------------------------------

    def _client(self) -> IMAPClient:
        if self._conn is not None:
            return self._conn
        wait = self._backoff.wait_left()
        if wait > 0 and not self.server.health.connected:
            raise TransientError(f"IMAP server {self.where} unavailable; next try in {wait:.0f} s")
        # (The watcher reaching the server since is reason enough to try now.)
        try:
            client = self.server.connect()
            self._prepare_folders(client)
        except (TransientError, PermanentError) as exc:
            self.server.lost(exc, self._backoff)
            raise
        if self._backoff.failures:
            log.warning("IMAP server %s answering again after %d failed tries", self.where, self._backoff.failures)
        else:
            log.info("connected to IMAP server %s (%s)", self.where, self.imap.security)
        self._backoff.succeeded()
        self._conn = client
        self.server.heard()
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
            disconnect(client)
            raise
        except (IMAPClientError, OSError) as exc:
            disconnect(client)
            raise TransientError(f"{self.where} failed while checking folders: {text_of(exc)}") from exc
        self._selected_uidvalidity = None

    def _drop(self, exc: BaseException) -> TransientError:
        """Forget the fetch connection after an error on it; the next use reconnects."""
        conn, self._conn = self._conn, None
        if conn is not None:
            disconnect(conn)
        self.server.lost(exc, self._backoff)
        return TransientError(f"lost the IMAP server {self.where}: {text_of(exc)}")

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
        self.server.heard()
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
            self.server.heard()
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
                move_uids(client, uids, target, self.cfg.folder)
        except (IMAPClientError, OSError) as exc:
            raise self._drop(exc) from exc
        self.server.heard()
        moved = [uid for uidvalidity, uid, _ in parsed if uidvalidity == current]
        _, last_uid = self._bookmark()
        if moved and max(moved) > last_uid:
            self._save_bookmark(current, max(moved))

    def wait(self, timeout: float) -> bool:
        """Sit in IDLE for up to ``timeout`` seconds (``IdleWatcher.wait``); True as soon as new mail is reported."""
        return self.watcher.wait(timeout)

    # -- the operator's check and shutdown -----------------------------------------------------------

    def check(self) -> list[str]:
        """What ``check-config`` reports, in plain words: empty when the inbox is ready."""
        try:
            client = self.server.connect()
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
            problems.append(f"IMAP: {self.where} failed while checking folders: {text_of(exc)}")
        finally:
            disconnect(client)
        return problems

    def close(self) -> None:
        if self._conn is not None:
            disconnect(self._conn)
        self.watcher.close()
        self._conn = None


def _received(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)
