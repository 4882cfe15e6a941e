"""The leader's lease: one row in the database every instance shares, renewed every few seconds.

Any number of ``strategy-bot run`` processes may share one PostgreSQL database; the one holding
the lease acts (inbox, timers, outbox), the others wait. The lease is a row of ``adapter_state``
(key ``leader:lease``) holding JSON: the holder, an epoch raised at every change of holder, and
the expiry. It changes hands only by compare-and-set (``UPDATE ... WHERE value = <what was
read>``), so two standbys racing for an expired lease give one holder. Expiry is counted on the
database's clock, never on the instances' own clocks, which may disagree.

Fencing: ``fence`` makes every transaction begun on the store's engine first read the lease row
(``FOR KEY SHARE`` on PostgreSQL: a takeover reads the row ``FOR UPDATE`` first, so it waits
until that transaction ends, while the holder's own renewals, plain UPDATEs, never wait)
and refuse, with ``LeaseLost``, unless this instance still holds it at the same epoch and it
has not expired. So a leader that lost its lease (paused, cut off from the database) writes
nothing more, and everything it wrote before committed before the next leader's epoch began.

Standbys record a heartbeat row each (``leader:standby:<holder>``) for ``status`` to list them.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, delete, event, insert, literal_column, select, update
from sqlalchemy.exc import IntegrityError

from bot.adapters import sql_schema as t
from bot.errors import StopActing

LEASE_KEY = "leader:lease"
STANDBY_PREFIX = "leader:standby:"


class LeaseLost(StopActing):  # noqa: N818 - the name says what happened, as SlotTaken does
    """This instance no longer holds the leader's lease: it must stop acting at once.

    Not a ``BotError``: nothing that retries or records a server's failure may swallow it.
    """


def holder_name() -> str:
    """This process among the instances: host, PID and a few random characters (PIDs repeat in containers)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


def shown(holder: str) -> str:
    """A holder as ``status`` prints it: "vm-a (PID 4242)"."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    return f"{host} (PID {pid})" if pid else holder


@dataclass(frozen=True)
class LeaseView:
    """The lease as the database has it now; seconds on the database's clock."""

    holder: str | None
    epoch: int
    expires_in: float  # negative once expired
    renewed_ago: float  # since the holder last renewed it
    held_for: float  # since this holder took it


@dataclass(frozen=True)
class Standby:
    holder: str
    seen_ago: float


def _clock(conn: Connection) -> ColumnElement[Any]:
    """The database server's clock, in Unix seconds, as a column."""
    if conn.dialect.name == "postgresql":
        return literal_column("extract(epoch FROM clock_timestamp())")
    return literal_column("(julianday('now') - 2440587.5) * 86400.0")


def db_seconds(conn: Connection) -> float:
    """The database server's clock, in Unix seconds."""
    return float(conn.execute(select(_clock(conn))).scalar_one())


def _stamp(seconds: float) -> str:
    return f"{seconds:.3f}"


class SqlLease:
    """The lease as seen by one instance (``holder``), on its own engine (never the fenced one)."""

    def __init__(self, engine: Engine, holder: str, lease_seconds: float) -> None:
        self.engine = engine
        self.holder = holder
        self.lease_seconds = lease_seconds
        self.epoch: int | None = None  # set while this instance holds the lease

    def _read(self, conn: Connection, lock: str = "") -> tuple[str | None, dict[str, Any]]:
        """The lease row; ``lock`` "share" (the fence) or "update" (a takeover) locks it on PostgreSQL."""
        query = select(t.adapter_state.c.value).where(t.adapter_state.c.key == LEASE_KEY)
        if lock and conn.dialect.name == "postgresql":
            # FOR KEY SHARE conflicts with FOR UPDATE only: the leader's own renewal (a plain UPDATE)
            # is never held up by its open transactions, while a takeover waits for them to end.
            query = query.with_for_update(read=True, key_share=True) if lock == "share" else query.with_for_update()
        raw = conn.execute(query).scalar()
        return (None, {}) if raw is None else (str(raw), json.loads(raw))

    def _ours(self, lease: dict[str, Any], epoch: int | None) -> bool:
        """The lease row names this instance as its holder at ``epoch`` (expired or not)."""
        return lease.get("holder") == self.holder and lease.get("epoch") == epoch

    def _swap(self, conn: Connection, old: str | None, new: dict[str, Any], now: float) -> bool:
        """Compare-and-set: the row becomes ``new`` only if it still reads ``old``."""
        value = json.dumps(new, sort_keys=True)
        stamp = _stamp(now)
        if old is None:
            # The first instance ever: the primary key lets only one INSERT win.
            found = conn.execute(select(t.adapter_state.c.key).where(t.adapter_state.c.key == LEASE_KEY)).first()
            if found is not None:
                return False
            conn.execute(insert(t.adapter_state).values(key=LEASE_KEY, value=value, updated_at=stamp))
            return True
        done = conn.execute(
            update(t.adapter_state)
            .where(t.adapter_state.c.key == LEASE_KEY, t.adapter_state.c.value == old)
            .values(value=value, updated_at=stamp)
        )
        return bool(done.rowcount)

    def try_acquire(self) -> int | None:
        """Take the lease if it is free or expired (or renew it if ours); the epoch held, or None."""
        try:
            with self.engine.begin() as conn:
                now = db_seconds(conn)
                old, lease = self._read(conn)
                ours = self._ours(lease, self.epoch)
                if lease and not ours and float(lease["expires"]) > now:
                    return None
                if lease and not ours:
                    # A takeover: wait for the old leader's fenced transactions to end, then look again.
                    old, lease = self._read(conn, lock="update")
                    now = db_seconds(conn)
                    if old is None or float(lease["expires"]) > now:
                        return None
                epoch = int(lease["epoch"]) if ours else int(lease.get("epoch", 0)) + 1
                since = float(lease["since"]) if ours else now
                new = {"holder": self.holder, "epoch": epoch, "expires": now + self.lease_seconds}
                new |= {"renewed": now, "since": since}
                if not self._swap(conn, old, new, now):
                    return None
                conn.execute(delete(t.adapter_state).where(t.adapter_state.c.key == STANDBY_PREFIX + self.holder))
        except IntegrityError:
            return None  # two first instances inserting at once: the loser's INSERT fails on the key
        self.epoch = epoch
        return epoch

    def renew(self) -> bool:
        """Push the expiry on; False once the lease is someone else's or has lapsed (it is then lost for good)."""
        if self.epoch is None:
            return False
        with self.engine.begin() as conn:
            now = db_seconds(conn)
            old, lease = self._read(conn)
            if not self._ours(lease, self.epoch) or float(lease["expires"]) <= now:
                self.epoch = None
                return False
            new = {**lease, "expires": now + self.lease_seconds, "renewed": now}
            if self._swap(conn, old, new, now):
                return True
        self.epoch = None
        return False

    def release(self) -> None:
        """On a clean stop: the lease expires now, so a standby takes over at its next look."""
        if self.epoch is None:
            return
        with self.engine.begin() as conn:
            now = db_seconds(conn)
            old, lease = self._read(conn)
            if self._ours(lease, self.epoch):
                self._swap(conn, old, {**lease, "expires": now}, now)
        self.epoch = None

    def heartbeat(self) -> None:
        """A standby says it is there (for ``status``)."""
        with self.engine.begin() as conn:
            now = _stamp(db_seconds(conn))
            key = STANDBY_PREFIX + self.holder
            done = conn.execute(update(t.adapter_state).where(t.adapter_state.c.key == key).values(value=now))
            if not done.rowcount:
                conn.execute(insert(t.adapter_state).values(key=key, value=now, updated_at=now))

    def forget_standby(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.adapter_state).where(t.adapter_state.c.key == STANDBY_PREFIX + self.holder))

    def check(self, conn: Connection, epoch: int) -> None:
        """Raise ``LeaseLost`` unless this instance holds the lease at ``epoch``, unexpired (the fence)."""
        # One round trip: the lease row, locked FOR KEY SHARE on PostgreSQL, and the database's clock.
        query = select(t.adapter_state.c.value, _clock(conn)).where(t.adapter_state.c.key == LEASE_KEY)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(read=True, key_share=True)
        row = conn.execute(query).first()
        lease: dict[str, Any] = {} if row is None else json.loads(row[0])
        now = db_seconds(conn) if row is None else float(row[1])
        if not self._ours(lease, epoch):
            raise LeaseLost(f"the lease is now held by {shown(str(lease.get('holder')))} at epoch {lease.get('epoch')}")
        if float(lease["expires"]) <= now:
            raise LeaseLost(f"the lease expired {now - float(lease['expires']):.1f} s ago without being renewed")

    def expires_in(self) -> float:
        with self.engine.connect() as conn:
            now = db_seconds(conn)
            _, lease = self._read(conn)
        return float(lease["expires"]) - now if lease else 0.0


def view(engine: Engine) -> LeaseView | None:
    """The lease now, or None when no instance has ever held it (SQLite, or never started)."""
    with engine.connect() as conn:
        now = db_seconds(conn)
        raw = conn.execute(select(t.adapter_state.c.value).where(t.adapter_state.c.key == LEASE_KEY)).scalar()
    if raw is None:
        return None
    lease = json.loads(raw)
    expires, renewed, since = float(lease["expires"]), float(lease["renewed"]), float(lease["since"])
    return LeaseView(str(lease["holder"]), int(lease["epoch"]), expires - now, now - renewed, now - since)


def standbys(engine: Engine, within_seconds: float) -> list[Standby]:
    """The standbys heard from within ``within_seconds``, most recent first."""
    key = t.adapter_state.c.key
    with engine.connect() as conn:
        now = db_seconds(conn)
        rows = conn.execute(select(key, t.adapter_state.c.value).where(key.like(STANDBY_PREFIX + "%"))).all()
    found = [Standby(row[0].removeprefix(STANDBY_PREFIX), now - float(row[1])) for row in rows]
    return sorted((s for s in found if s.seen_ago <= within_seconds), key=lambda s: s.seen_ago)


def fence(engine: Engine, lease: SqlLease, epoch: int) -> Callable[[], None]:
    """Check the lease at the start of every transaction on ``engine``; returns the function that lifts the fence."""

    def check(conn: Connection) -> None:
        lease.check(conn, epoch)

    event.listen(engine, "begin", check)
    return lambda: event.remove(engine, "begin", check)
