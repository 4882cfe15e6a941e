"""The Store port's contract, run on both engines: the embedded SQLite file and a real PostgreSQL.

Each test gets an empty database of its own (a temporary SQLite file, or a fresh PostgreSQL
database from ``tests/support/postgres.py``), made by the Alembic migrations as a start does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.adapters import sql_migrations as migrations
from bot.adapters.local_calendar import LocalCalendar
from bot.adapters.sql_store import SqlStore
from bot.config import ConfigError
from bot.domain.model import CalendarEvent, CaseState, Kind, OutgoingEmail, RequestDetails, Requester
from bot.errors import SlotTaken
from bot.ports.batching import BatchSpoiled
from tests.support.port_contracts import CalendarContract, contract_event
from tests.support.requests_mail import london
from tests.support.stores import ENGINES, new_store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    yield from new_store(request, tmp_path)


def details(*n_numbers: str) -> RequestDetails:
    return RequestDetails(
        n_numbers=n_numbers,
        surname="Example",
        requester=Requester(name="A Worker", phone="01632 960000", email="sw@council.example"),
        reason="concern",
    )


def email(message_id: str, case_id: str | None = "SD000001", purpose: str = "confirmation") -> OutgoingEmail:
    return OutgoingEmail(
        purpose, ("tm@council.example",), ("unit@police.example",), "s", "t", "h", message_id, case_id=case_id
    )


# -- the schema ----------------------------------------------------------------------------------


def test_the_schema_is_at_the_newest_revision_and_migrating_again_changes_nothing(store: SqlStore) -> None:
    assert store.migrate(NOW) == migrations.head()
    assert store.check_schema() == migrations.head()
    with store.connection() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [migrations.head()]


def test_a_database_newer_than_the_code_is_refused_at_start_and_by_migrate(store: SqlStore) -> None:
    with store.connection() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    for step in (store.check_schema, store.migrate):
        with pytest.raises(ConfigError, match="revision 9999, newer than this strategy-bot knows"):
            step()


def test_a_database_older_than_the_code_asks_for_migrate_then_works(store: SqlStore) -> None:
    with store.connection() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    with pytest.raises(ConfigError, match="older than this strategy-bot's .*run: strategy-bot migrate"):
        store.check_schema()
    # Later revisions look before they add (a column, an index), so running them again is safe here.
    with store.connection() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE calendar_events DROP CONSTRAINT calendar_events_no_overlap"))
            conn.execute(text("DROP FUNCTION strategy_instant(text)"))
    assert store.migrate() == migrations.head()
    assert store.check_schema() == migrations.head()


# -- cases and messages --------------------------------------------------------------------------


def test_cases_are_numbered_found_by_n_number_and_updated(store: SqlStore) -> None:
    with store.transaction() as tx:
        first = tx.add_case(Kind.STANDARD, CaseState.BOOKED, details("N146782"), "<a@council.example>", NOW, NOW)
        second = tx.add_case(
            Kind.URGENT, CaseState.AWAITING_CONTACT, details("N146783", "N146784"), "<b@council.example>", NOW, NOW
        )
    assert (first.case_id, second.case_id) == ("SD000001", "SD000002")
    with store.transaction() as tx:
        assert tx.case("SD000002") == second
        assert [c.case_id for c in tx.cases_for("N146784")] == ["SD000002"]
        found = tx.open_case_with_n_number(["N146783"])
        assert found is not None and found.case_id == "SD000002"
        tx.update_case("SD000002", NOW + timedelta(hours=1), state=CaseState.CANCELLED)
    with store.transaction() as tx:
        assert tx.open_case_with_n_number(["N146783"]) is None
        assert [c.case_id for c in tx.open_cases()] == ["SD000001"]
        assert tx.case("SD000002").state is CaseState.CANCELLED  # type: ignore[union-attr]


def test_a_message_is_recorded_once_and_recognised_by_id_or_content(store: SqlStore) -> None:
    with store.transaction() as tx:
        assert tx.seen_message("<m1@council.example>", "hash1") is None
        tx.record_message("<m1@council.example>", "hash1", NOW, NOW, "standard", "processed", None, "SD000001")
    with store.transaction() as tx:
        by_id = tx.seen_message("<m1@council.example>", "other")
        by_hash = tx.seen_message("<resent@council.example>", "hash1")
    assert by_id is not None and by_id.case_id == "SD000001" and by_id.outcome == "processed"
    assert by_hash is not None and by_hash.message_id == "<m1@council.example>"
    # A second delivery of the same message cannot be recorded twice, whoever tries.
    with pytest.raises(IntegrityError), store.transaction() as tx:
        tx.record_message("<m1@council.example>", "hash1", NOW, NOW, "standard", "processed", None, "SD000001")
    with store.connection() as conn:
        assert conn.execute(text("SELECT count(*) FROM messages")).scalar_one() == 1


# -- the outbox ----------------------------------------------------------------------------------


def test_the_outbox_queues_each_email_once_and_gives_back_the_due_ones(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.queue_email(email("<c1@police.example>"), b"raw one", NOW)
        tx.queue_email(email("<c2@police.example>", purpose="reminder_30_min"), b"raw two", NOW)
    with pytest.raises(IntegrityError), store.transaction() as tx:
        tx.queue_email(email("<c1@police.example>"), b"again", NOW)
    with store.transaction() as tx:
        due = tx.due_emails(NOW, limit=10)
        assert sorted((e.message_id, e.raw) for e in due) == [
            ("<c1@police.example>", b"raw one"),
            ("<c2@police.example>", b"raw two"),
        ]
        assert tx.count_emails("SD000001", "confirmation") == 1
        tx.mark_sent(next(e.id for e in due if e.message_id == "<c1@police.example>"), NOW)
    with store.transaction() as tx:
        assert [e.message_id for e in tx.due_emails(NOW + timedelta(minutes=1), limit=10)] == ["<c2@police.example>"]
        assert tx.sent_since(NOW - timedelta(seconds=1)) == 1
        assert tx.email_purpose("<c2@police.example>") == "reminder_30_min"


# -- timers --------------------------------------------------------------------------------------


def test_a_deadline_is_set_once_falls_due_in_order_and_fires_once(store: SqlStore) -> None:
    with store.transaction() as tx:
        assert tx.add_timer("SD000001:callback", "SD000001", "callback_overdue", NOW + timedelta(hours=1))
        assert not tx.add_timer("SD000001:callback", "SD000001", "callback_overdue", NOW + timedelta(hours=9))
        assert tx.add_timer("agenda:2026-11-24", None, "daily_agenda", NOW + timedelta(minutes=30))
        assert tx.add_timer("SD000001:chase", "SD000001", "minutes_chase", NOW + timedelta(days=2), scope="held")
    with store.transaction() as tx:
        due = tx.due_timers(NOW + timedelta(hours=2))
        assert [t.key for t in due] == ["agenda:2026-11-24", "SD000001:callback"]
        assert tx.next_timer_due() == NOW + timedelta(minutes=30)
        tx.mark_timer_fired(due[1].id, NOW + timedelta(hours=2), late=True)
        assert tx.cancel_timers("SD000001", scope="held") == 1
    with store.transaction() as tx:
        assert [(t.key, t.status, t.late) for t in tx.timers_for("SD000001")] == [
            ("SD000001:callback", "fired", True),
            ("SD000001:chase", "cancelled", False),
        ]
        assert tx.overdue_timer_count(NOW + timedelta(hours=2)) == 1  # the agenda


# -- the history ---------------------------------------------------------------------------------


def test_the_history_is_append_only_in_the_database_itself(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.add_history("SD000001", NOW, "tm@council.example", "booked", "Wed 25 Nov 10:00", "<m1@council.example>")
        tx.add_history("SD000001", NOW, "bot", "confirmation_sent")
    for statement in ("UPDATE history SET detail = 'rewritten'", "DELETE FROM history"):
        with pytest.raises(DBAPIError, match="the history is append-only"), store.connection() as conn:
            conn.execute(text(statement))
    with store.transaction() as tx:
        assert [(h.action, h.detail) for h in tx.history("SD000001")] == [
            ("booked", "Wed 25 Nov 10:00"),
            ("confirmation_sent", ""),
        ]


def test_adapter_state_is_kept_and_replaced(store: SqlStore) -> None:
    assert store.get_state("imap:uid") is None
    store.put_state("imap:uid", "41", NOW)
    store.put_state("imap:uid", "42", NOW + timedelta(seconds=5))
    assert store.get_state("imap:uid") == "42"


# -- the local calendar in the store -------------------------------------------------------------


def urgent(uid: str, start: str, end: str) -> CalendarEvent:
    plain = contract_event(uid, start, end)
    return CalendarEvent(plain.uid, plain.subject, plain.start, plain.end, may_overlap=True)


def test_the_local_calendar_refuses_an_overlap_but_not_an_urgent_meeting(store: SqlStore) -> None:
    calendar = LocalCalendar(store)
    with store.transaction():
        calendar.book(contract_event("a", "2026-11-25 10:00", "2026-11-25 10:30"))
    with pytest.raises(SlotTaken), store.transaction():
        calendar.book(contract_event("b", "2026-11-25 10:15", "2026-11-25 10:45"))
    with store.transaction():
        calendar.book(urgent("u", "2026-11-25 10:10", "2026-11-25 10:40"))
        calendar.book(contract_event("c", "2026-11-25 10:40", "2026-11-25 11:00"))  # touching u: allowed
    assert [e.uid for e in calendar.all_events()] == ["a", "u", "c"]


def test_on_postgresql_the_database_refuses_an_overlap_the_adapter_did_not_see(
    postgres_url: str,
) -> None:
    """Two writers: what one wrote after the other looked is refused by the exclusion constraint."""
    store = SqlStore(postgres_url)
    store.check_schema()
    try:
        insert = text(
            'INSERT INTO calendar_events (uid, subject, start, "end", body, location, attendees, organizer, '
            "sequence, private, may_overlap) VALUES (:uid, 's', :start, :end, '', '', '', '', 0, 1, :may)"
        )
        ten, half_past = london("2026-11-25 10:00").isoformat(), london("2026-11-25 10:30").isoformat()
        quarter, eleven = london("2026-11-25 10:15").isoformat(), london("2026-11-25 11:00").isoformat()
        with store.connection() as conn:
            conn.execute(insert, {"uid": "a", "start": ten, "end": half_past, "may": 0})
        with pytest.raises(IntegrityError, match="calendar_events_no_overlap"), store.connection() as conn:
            conn.execute(insert, {"uid": "b", "start": quarter, "end": half_past, "may": 0})
        with store.connection() as conn:
            conn.execute(insert, {"uid": "u", "start": quarter, "end": half_past, "may": 1})
            conn.execute(insert, {"uid": "c", "start": half_past, "end": eleven, "may": 0})
            assert conn.execute(text("SELECT uid FROM calendar_events ORDER BY uid")).scalars().all() == ["a", "c", "u"]
    finally:
        store.dispose()


class TestLocalCalendarOnPostgresql(CalendarContract):
    """The StrategyCalendar port's own contract, on the local calendar in PostgreSQL."""

    @pytest.fixture
    def calendar(self, postgres_url: str) -> Iterator[LocalCalendar]:
        store = SqlStore(postgres_url)
        store.check_schema()
        yield LocalCalendar(store)
        store.dispose()


# -- units of work -------------------------------------------------------------------------------


def test_in_a_batch_a_failed_unit_spoils_the_batch_which_rolls_back_whole(store: SqlStore) -> None:
    """No savepoint per unit inside a batch (issue 18): the caller does the batch again unit by unit."""
    with pytest.raises(BatchSpoiled), store.batch():
        with store.transaction() as tx:
            tx.add_history("SD000001", NOW, "bot", "rolled back with the batch")
        with pytest.raises(BatchSpoiled) as spoiled, store.transaction() as tx:
            tx.add_history("SD000002", NOW, "bot", "rolled back")
            raise RuntimeError("this message could not be handled")
        assert isinstance(spoiled.value.__cause__, RuntimeError)
        with pytest.raises(BatchSpoiled), store.transaction():
            pass  # no unit after the failure: the batch is spoiled
    with store.transaction() as tx:
        assert [h.action for c in ("SD000001", "SD000002") for h in tx.history(c)] == []
        tx.add_history("SD000003", NOW, "bot", "kept")  # the store works on after a spoiled batch
    with store.transaction() as tx:
        assert [h.action for h in tx.history("SD000003")] == ["kept"]


def test_a_finished_case_is_purged_to_its_n_numbers_and_counted_in_the_tallies(store: SqlStore) -> None:
    with store.transaction() as tx:
        case = tx.add_case(Kind.STANDARD, CaseState.BOOKED, details("N146782"), "<a@council.example>", NOW, NOW)
        tx.queue_email(email("<c1@police.example>", case.case_id), b"names the family", NOW)
        tx.mark_sent(tx.due_emails(NOW, limit=1)[0].id, NOW)
        tx.update_case(case.case_id, NOW, state=CaseState.CLOSED)
    later = NOW + timedelta(days=400)
    with store.transaction() as tx:
        assert tx.purgeable_cases(later) == [case.case_id]
        tx.purge_case(case.case_id, later)
    with store.transaction() as tx:
        assert tx.purgeable_cases(later) == []
        kept = tx.case(case.case_id)
        assert kept is not None and kept.details == RequestDetails(n_numbers=("N146782",))
        tallies = {(name, labels): n for name, labels, n in tx.tallies()}
    with store.connection() as conn:
        assert conn.execute(text("SELECT raw FROM outbox")).scalar_one() == b""
    assert tallies[("cases", ("standard", "closed"))] == 1
    assert tallies[("emails", ("confirmation", "sent"))] == 1


def test_two_instances_starting_together_on_a_new_postgresql_database_make_one_schema(postgres_url: str) -> None:
    """The first creates the schema under an advisory lock; the second waits for it, then finds it done."""
    stores = [SqlStore(postgres_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[str | BaseException] = []

    def start(store: SqlStore) -> None:
        barrier.wait()
        try:
            results.append(store.check_schema())
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            results.append(error)

    threads = [threading.Thread(target=start, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert results == [migrations.head(), migrations.head()]
        with stores[0].connection() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [migrations.head()]
    finally:
        for store in stores:
            store.dispose()
