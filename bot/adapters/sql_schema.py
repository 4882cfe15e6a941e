"""The bot's database tables (SQLAlchemy Core). Schema changes are Alembic revisions now.

To change the schema: change the table here AND add a revision in
``bot/adapters/sql_migrations/versions/`` (next number, ``down_revision`` the current head) that
makes the same change to an existing database, looking first when revision 0001 may already
have made it (0001 builds the tables as defined here; see 0004 and 0008). Never edit a revision
that has shipped. ``strategy-bot migrate`` runs them; a start refuses a database older or newer
than the code. They run on SQLite and PostgreSQL alike: put any SQL of one engine in its revision.

Instants are stored as UTC ISO-8601 text ("2026-11-25T10:00:00+00:00") so that SQLite and a
server database sort and compare them the same way.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# An instant as UTC ISO-8601 text. Compared as text (due timers, free slots), so PostgreSQL
# compares it byte by byte ("C"), whatever the database's default collation says.
INSTANT = String(40).with_variant(String(40, collation="C"), "postgresql")

# Before Alembic: the hand-written migrations' version. Read only, to recognise such a database
# and stamp it at the matching revision (bot.adapters.sql_migrations.LEGACY).
schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", String(40), nullable=False),
)

# Every message the bot has seen, by Message-ID (or a content hash when it has none):
# this is what makes a second delivery of the same message a no-op.
messages = Table(
    "messages",
    metadata,
    Column("message_id", String(998), primary_key=True),
    Column("content_hash", String(64), nullable=False, index=True),
    Column("received_at", String(40), nullable=False),
    Column("handled_at", String(40), nullable=False),
    Column("kind", String(20), nullable=False),  # urgent, standard, reply, auto, unrecognised
    Column("outcome", String(20), nullable=False),  # processed, triage, quarantine, ignored
    Column("reason", Text, nullable=True),
    Column("case_id", String(20), nullable=True, index=True),
    Column("raw", LargeBinary, nullable=True),
    # `status`'s quarantine summary (how many, the oldest) reads the quarantined ones alone (revision 0009).
    Index("ix_messages_outcome", "outcome", "received_at"),
)

cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(20), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("state", String(30), nullable=False),
    Column("n_numbers", Text, nullable=False),  # comma-separated, normalised
    Column("details", Text, nullable=False),  # JSON of RequestDetails (personal data)
    Column("root_message_id", String(998), nullable=False),
    Column("received_at", String(40), nullable=False),
    Column("effective_day", String(10), nullable=True),
    Column("clock_start", String(40), nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", INSTANT, nullable=False),
    # `status` asks for the open cases by state (`state IN` the open ones): read here, not every
    # case ever closed; `metrics` counts by kind and state from the index alone (revision 0009).
    Index("ix_cases_state", "state", "kind"),
)

bookings = Table(
    "bookings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(20), nullable=False, index=True),
    Column("uid", String(200), nullable=False, unique=True),
    Column("start", INSTANT, nullable=False),
    Column("end", INSTANT, nullable=False),
    Column("sequence", Integer, nullable=False, default=0),
    Column("status", String(20), nullable=False),  # booked, cancelled
    # `status`'s bookings not yet over: the booked ones ending after now (revision 0009).
    Index("ix_bookings_live", "status", "end"),
)

# The local strategy calendar (the embedded default's calendar adapter): bookings the bot
# made and any entered by hand. Overlaps are refused by the adapter.
calendar_events = Table(
    "calendar_events",
    metadata,
    Column("uid", String(200), primary_key=True),
    Column("subject", Text, nullable=False),
    Column("start", INSTANT, nullable=False, index=True),
    Column("end", INSTANT, nullable=False),
    Column("body", Text, nullable=False, default=""),
    Column("location", Text, nullable=False, default=""),
    Column("attendees", Text, nullable=False, default=""),  # comma-separated addresses
    Column("organizer", Text, nullable=False, default=""),
    Column("sequence", Integer, nullable=False, default=0),
    Column("private", Integer, nullable=False, default=1),
    # An urgent meeting may overlap (domain.md §4); on PostgreSQL an exclusion constraint refuses
    # any other overlap (revision 0007).
    Column("may_overlap", Integer, nullable=False, default=0, server_default="0"),
    # Look-ups ask for the events overlapping a day or a search horizon: `end > :start` on this
    # index reads only the events ending after it (future ones), not every earlier one.
    Index("ix_calendar_events_end", "end", "start"),
)

# The transactional outbox: an email is written here in the same transaction as the case
# change that causes it, and delivered afterwards by the sender, with retries.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(998), nullable=False, unique=True),
    Column("case_id", String(20), nullable=True, index=True),
    Column("purpose", String(40), nullable=False),
    Column("recipients", Text, nullable=False),  # comma-separated envelope recipients
    Column("subject", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("created_at", INSTANT, nullable=False),
    Column("status", String(20), nullable=False),  # pending, sent, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", INSTANT, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("sent_at", INSTANT, nullable=True),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    # The reply caps (per sender per hour, overall per minute) and the send rate read only
    # the recent rows (revision 0008).
    Index("ix_outbox_created", "created_at"),
    Index("ix_outbox_recipient", "recipients", "created_at"),
    Index("ix_outbox_sent_at", "sent_at"),
    # `metrics` counts the emails by purpose and status from this index, not the rows (revision 0009).
    Index("ix_outbox_purpose", "purpose", "status"),
    # Each email's Message-ID counts the case's earlier emails of its purpose (revision 0010).
    Index("ix_outbox_case", "case_id", "purpose"),
    # The reply caps and the quarantine notices count the recent emails of a few purposes (revision 0012).
    Index("ix_outbox_recent", "purpose", "created_at"),
)

# Append-only: who did what to which case, when, from which message. N numbers only.
history = Table(
    "history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(20), nullable=True, index=True),
    Column("at", String(40), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("action", String(40), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("message_id", String(998), nullable=True),
)

# Deadlines (escalations, reminders): written with the case change that creates them.
timers = Table(
    "timers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Unique per deadline, so scheduling the same deadline twice keeps one row.
    Column("key", String(200), nullable=False, unique=True),
    Column("case_id", String(20), nullable=True, index=True),  # None: the daily agenda
    Column("purpose", String(40), nullable=False),
    Column("due_at", INSTANT, nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("status", String(20), nullable=False),  # pending, fired, cancelled, failed
    Column("fired_at", String(40), nullable=True),
    Column("late", Integer, nullable=False, default=0),
    # What the timer belongs to within its case (a booking, a held discussion): a change to
    # one cancels its own timers and never the other's. Added by migration 4.
    Column("scope", String(200), nullable=False, default="", server_default=""),
    Index("ix_timers_due", "status", "due_at"),
)


# What a mail adapter must remember across restarts: IMAP's UIDVALIDITY and last UID,
# Graph's delta link. Values are opaque to everything but the adapter that wrote them.
adapter_state = Table(
    "adapter_state",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", String(40), nullable=False),
)


# The compliance record (domain.md §5): per case, the instants its timescales are measured on and
# when each fell due, rewritten in the same transaction as every change to the case. N numbers only.
compliance = Table(
    "compliance",
    metadata,
    Column("case_id", String(20), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("state", String(30), nullable=False),
    Column("n_numbers", Text, nullable=False),  # comma-separated, normalised
    Column("complex", Integer, nullable=False, default=0),
    Column("emergency", Integer, nullable=False, default=0),
    Column("received_at", String(40), nullable=False),
    Column("clock_start", String(40), nullable=True),  # urgent: t0 (§4.1)
    Column("effective_day", String(10), nullable=True),
    Column("discussion_due", String(40), nullable=True),  # end of the last day it may be held on
    Column("callback_due", String(40), nullable=True),
    Column("booked_start", String(40), nullable=True),
    Column("booked_end", String(40), nullable=True),
    Column("contacted_at", String(40), nullable=True),
    Column("meeting_at", String(40), nullable=True),  # the discussion: booked start or urgent meeting
    Column("held_at", String(40), nullable=True),
    Column("minutes_due", String(40), nullable=True),
    Column("minutes_recorded_at", String(40), nullable=True),
    Column("outcome", String(40), nullable=True),
    Column("outcome_at", String(40), nullable=True),
    Column("s47_due", String(40), nullable=True),
    Column("s47_recorded_at", String(40), nullable=True),
    Column("icpc_due", String(40), nullable=True),
    Column("icpc_held_at", String(40), nullable=True),
    Column("cancelled_at", String(40), nullable=True),
    Column("updated_at", String(40), nullable=False),
)


# Each N number of each case, so that finding the cases of a child reads an index instead of
# every case's comma-separated list (revision 0008). Written with the case, N numbers only.
case_numbers = Table(
    "case_numbers",
    metadata,
    Column("n_number", String(40), nullable=False),
    Column("case_id", String(20), nullable=False),
    Index("ix_case_numbers_n", "n_number", "case_id", unique=True),
    # A case's own N numbers, replaced when its details are corrected or purged (revision 0011).
    Index("ix_case_numbers_case", "case_id"),
)
