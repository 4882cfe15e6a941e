"""The leader's lease on a real PostgreSQL (and on SQLite): one holder, expiry hands over, the fence refuses."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, insert, select, text, update

from bot.adapters import sql_schema as t
from bot.adapters.sql_lease import LeaseLost, SqlLease, fence, shown, standbys, view

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC).isoformat()
HOUR = 3600.0


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.servers), "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    made = create_engine(url)
    t.metadata.create_all(made, tables=[t.adapter_state])
    yield made
    made.dispose()


def write_state(engine: Engine, key: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(t.adapter_state).values(key=key, value="x", updated_at=NOW))


def keys(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(t.adapter_state.c.key)).scalars())


def test_one_holder_at_a_time(engine: Engine) -> None:
    first, second = SqlLease(engine, "vm-a:101:aa", HOUR), SqlLease(engine, "vm-b:202:bb", HOUR)
    assert first.try_acquire() == 1
    assert second.try_acquire() is None
    assert first.try_acquire() == 1  # its own lease is renewed, same epoch
    assert first.renew() is True
    seen = view(engine)
    assert seen is not None
    assert (seen.holder, seen.epoch) == ("vm-a:101:aa", 1)
    assert seen.expires_in > HOUR - 60
    assert shown(str(seen.holder)) == "vm-a (PID 101)"


def test_an_expired_lease_passes_to_a_standby_and_the_old_holder_cannot_renew(engine: Engine) -> None:
    lapsing = SqlLease(engine, "vm-a:101:aa", 0.0)  # a holder that never renews in time
    standby = SqlLease(engine, "vm-b:202:bb", HOUR)
    assert lapsing.try_acquire() == 1
    assert standby.try_acquire() == 2
    assert lapsing.renew() is False
    assert lapsing.epoch is None
    assert SqlLease(engine, "vm-c:303:cc", HOUR).try_acquire() is None
    seen = view(engine)
    assert seen is not None and (seen.holder, seen.epoch) == ("vm-b:202:bb", 2)


def test_a_released_lease_is_taken_at_once(engine: Engine) -> None:
    leader, standby = SqlLease(engine, "vm-a:101:aa", HOUR), SqlLease(engine, "vm-b:202:bb", HOUR)
    assert leader.try_acquire() == 1
    assert standby.try_acquire() is None
    leader.release()
    assert standby.try_acquire() == 2


def test_a_fenced_write_after_the_lease_is_lost_is_refused(engine: Engine) -> None:
    lapsing = SqlLease(engine, "vm-a:101:aa", 0.0)
    epoch = lapsing.try_acquire()
    assert epoch == 1
    store_engine = create_engine(engine.url)
    lift = fence(store_engine, lapsing, epoch)
    try:
        # Expired, not yet taken: the old leader already writes nothing.
        with pytest.raises(LeaseLost, match="expired"):
            write_state(store_engine, "written:after-expiry")
        assert SqlLease(engine, "vm-b:202:bb", HOUR).try_acquire() == 2
        with pytest.raises(LeaseLost, match=r"held by vm-b \(PID 202\) at epoch 2"):
            write_state(store_engine, "written:after-takeover")
    finally:
        lift()
    write_state(store_engine, "written:unfenced")
    store_engine.dispose()
    assert keys(engine) == ["leader:lease", "written:unfenced"]


def test_a_fenced_write_by_the_holder_goes_through(engine: Engine) -> None:
    leader = SqlLease(engine, "vm-a:101:aa", HOUR)
    epoch = leader.try_acquire()
    assert epoch == 1
    store_engine = create_engine(engine.url)
    lift = fence(store_engine, leader, epoch)
    write_state(store_engine, "written:by-leader")
    lift()
    store_engine.dispose()
    assert "written:by-leader" in keys(engine)


def race(contenders: list[SqlLease]) -> list[int | None]:
    """Every contender asks for the lease at the same moment, each on its own thread."""
    barrier = threading.Barrier(len(contenders))
    won: list[int | None] = [None] * len(contenders)

    def ask(i: int) -> None:
        barrier.wait()
        won[i] = contenders[i].try_acquire()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(contenders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def test_standbys_racing_for_an_expired_lease_give_one_holder(engine: Engine) -> None:
    for round_ in range(1, 6):
        contenders = [SqlLease(engine, f"vm-{i}:{i}:{round_}", HOUR) for i in range(4)]
        won = race(contenders)
        assert [epoch for epoch in won if epoch is not None] == [round_]
        winner = next(lease for lease, epoch in zip(contenders, won, strict=True) if epoch is not None)
        winner.release()  # free for the next round's race


def test_standbys_are_listed_until_they_become_leader(engine: Engine) -> None:
    leader = SqlLease(engine, "vm-a:101:aa", HOUR)
    standby = SqlLease(engine, "vm-b:202:bb", HOUR)
    assert leader.try_acquire() == 1
    standby.heartbeat()
    standby.heartbeat()
    assert [s.holder for s in standbys(engine, 60)] == ["vm-b:202:bb"]
    leader.release()
    assert standby.try_acquire() == 2
    assert standbys(engine, 60) == []


def lapse(engine: Engine) -> None:
    """The lease runs out now (as if its holder had been paused): its expiry set to the epoch."""
    with engine.begin() as conn:
        raw = conn.execute(select(t.adapter_state.c.value).where(t.adapter_state.c.key == "leader:lease")).scalar_one()
        lease = {**json.loads(raw), "expires": 0.0}
        conn.execute(
            update(t.adapter_state).where(t.adapter_state.c.key == "leader:lease").values(value=json.dumps(lease))
        )


def waiting_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'"
        return bool(conn.execute(text(query)).scalar_one())


@pytest.mark.servers
def test_a_takeover_waits_for_the_leaders_open_transaction_and_its_renewals_do_not(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    t.metadata.create_all(engine, tables=[t.adapter_state])
    leader, standby = SqlLease(engine, "vm-a:101:aa", HOUR), SqlLease(engine, "vm-b:202:bb", HOUR)
    epoch = leader.try_acquire()
    assert epoch == 1
    store_engine = create_engine(postgres_url)
    lift = fence(store_engine, leader, epoch)
    taken: list[int | None] = []
    with store_engine.begin() as conn:  # the leader's unit of work, fenced: it holds the lease row FOR KEY SHARE
        assert leader.renew() is True  # its own renewal is not held up by it
        lapse(engine)
        taker = threading.Thread(target=lambda: taken.append(standby.try_acquire()))
        taker.start()
        deadline = time.monotonic() + 180  # an overall bound only
        while not waiting_on_a_lock(engine):
            assert time.monotonic() < deadline, "the takeover never waited for the open transaction"
            time.sleep(0.01)
        conn.execute(insert(t.adapter_state).values(key="written:before-takeover", value="x", updated_at=NOW))
    taker.join()
    assert taken == [2]
    with pytest.raises(LeaseLost, match="epoch 2"):
        write_state(store_engine, "written:after-takeover")
    lift()
    store_engine.dispose()
    assert keys(engine) == ["leader:lease", "written:before-takeover"]
    engine.dispose()
