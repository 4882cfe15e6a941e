"""Two instances, one leader: wait for the lease as a standby, then keep it while acting.

``Daemon.run`` calls ``Leadership.wait`` before it starts its jobs. A standby looks at the lease
when it is due to expire (at most every ``leader.renew_seconds``), recording a heartbeat for
``status``; once it holds the lease it fences the store (every transaction checks the epoch,
``bot.adapters.sql_lease.fence``) and renews the lease every ``leader.renew_seconds`` on a
thread of its own. When a renewal finds the lease gone, or the database has not answered for
``leader.lease_seconds``, ``on_lost`` is called once: the daemon stops acting and exits non-zero
(the supervisor starts it again, as a standby). On SQLite there is no lease: one instance only
(``bot.adapters.instance_lock``), always the leader.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, create_engine

from bot.adapters.sql_lease import SqlLease, fence, holder_name, shown, view

# What status and metrics read about the instances lives apart, so they need not build the bot.
from bot.lease_status import describe, instances, leader_metrics
from bot.wiring import Bot

__all__ = ["Leadership", "describe", "instances", "leader_metrics", "leadership_for"]

log = logging.getLogger(__name__)


class Leadership:
    def __init__(self, store_engine: Engine, lease: SqlLease, renew_seconds: float) -> None:
        self.store_engine = store_engine
        self.lease = lease
        self.renew_seconds = renew_seconds
        self._done = threading.Event()
        self._keeper: threading.Thread | None = None
        self._lift: Callable[[], None] | None = None

    @property
    def holder(self) -> str:
        return self.lease.holder

    def wait(
        self, stopped: threading.Event, on_lost: Callable[[str], None], tick: Callable[[], None] | None = None
    ) -> bool:
        """Block as a standby until this instance holds the lease (True) or ``stopped`` is set (False).

        ``tick`` runs at each look (the daemon's metrics file, so a standby's VM shows who leads).
        """
        told: str | None = None
        while not stopped.is_set():
            try:
                epoch = self.lease.try_acquire()
                if epoch is not None:
                    self._lead(epoch, on_lost)
                    return True
                self.lease.heartbeat()
                left = self.lease.expires_in()
                current = view(self.lease.engine)
                message = f"standby: {shown(current.holder or '?') if current else 'another instance'} is the leader"
                if tick is not None:
                    tick()
            except Exception as exc:  # noqa: BLE001 - a standby outlives the database's absence
                message = f"the database does not answer ({type(exc).__name__}); standby keeps trying"
                left = self.renew_seconds
            if message != told:
                log.info("%s", message)
                told = message
            # Look again the moment the lease is due to expire, and at least every renew interval.
            stopped.wait(min(max(left, 0.0) + 0.01, self.renew_seconds))
        self._forget()
        return False

    def _lead(self, epoch: int, on_lost: Callable[[str], None]) -> None:
        self._lift = fence(self.store_engine, self.lease, epoch)
        log.info("leader now: %s holds the lease at epoch %d", shown(self.holder), epoch)
        self._keeper = threading.Thread(target=self._keep, args=(on_lost,), name="lease-keeper", daemon=True)
        self._keeper.start()

    def _keep(self, on_lost: Callable[[str], None]) -> None:
        answered = time.monotonic()
        warned = False
        while not self._done.wait(self.renew_seconds):
            try:
                if self.lease.renew():
                    answered, warned = time.monotonic(), False
                    continue
                reason = "another instance holds the lease now"
            except Exception as exc:  # noqa: BLE001 - the database may be cut off; the lease runs out
                if time.monotonic() - answered < self.lease.lease_seconds:
                    if not warned:
                        log.warning("the lease could not be renewed (%s); trying again", type(exc).__name__)
                        warned = True
                    continue
                reason = f"the lease could not be renewed for {self.lease.lease_seconds:g} s ({type(exc).__name__})"
            on_lost(reason)
            return

    def release(self) -> None:
        """A clean stop: let the lease go at once, so a standby need not wait for it to expire."""
        self._done.set()
        if self._keeper is not None:
            self._keeper.join()
        if self._lift is not None:
            self._lift()
            self._lift = None
        try:
            self.lease.release()
        except Exception as exc:  # noqa: BLE001 - it expires by itself
            log.warning("the lease was not released (%s); a standby takes over when it expires", type(exc).__name__)
        self._forget()

    def abandon(self) -> None:
        """After the lease was lost: stop renewing, keep the fence up (nothing more is written)."""
        self._done.set()

    def _forget(self) -> None:
        try:
            self.lease.forget_standby()
        except Exception:  # noqa: BLE001 - a stale heartbeat only ages out of `status`
            log.debug("standby heartbeat not removed", exc_info=True)
        self.lease.engine.dispose()


def leadership_for(bot: Bot) -> Leadership | None:
    """The lease for a shared database; None on SQLite, where one instance is all there is."""
    if bot.store.engine.dialect.name == "sqlite":
        return None
    settings = bot.config.leader
    # Its own engine: the lease's own reads and writes must never be fenced.
    engine = create_engine(bot.store.engine.url, pool_size=2, max_overflow=0, pool_pre_ping=True)
    return Leadership(bot.store.engine, SqlLease(engine, holder_name(), settings.lease_seconds), settings.renew_seconds)
