"""The state store's schema (SQLAlchemy Core), the target of the Alembic migrations.

Per-record data lives in rows, never in one growing blob (dlt once stored millions of
dedup hashes in one state row). A test checks that the migrations produce exactly
this schema.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

#: the newest migration's revision (hub/state/migrations/versions); a test keeps them in step
SCHEMA_REVISION = "0006_scale"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that always comes back aware (UTC).

    SQLite stores no zone and hands back naive datetimes; PostgreSQL hands back aware
    ones. Every timestamp in the hub is UTC, so naive values read back are UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


metadata = MetaData()

kv = Table(
    "kv",
    metadata,
    Column("namespace", String(100), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("value", JSON, nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

cursors = Table(
    "cursors",
    metadata,
    Column("job", String(100), primary_key=True),
    Column("connector", String(100), primary_key=True),
    Column("stream", String(100), primary_key=True),
    Column("cursor", String(64), nullable=True),
    Column("boundary_ids", JSON, nullable=True),
    Column("resume", JSON, nullable=True),
    Column("run_cursor", String(64), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

crosswalk = Table(
    "crosswalk",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("hub_id", String(36), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("system", String(100), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("kind", "system", "external_id", name="uq_crosswalk_ref"),
    # also the index for lookups by hub_id (its leading column): no second index to maintain
    UniqueConstraint("hub_id", "system", name="uq_crosswalk_hub_system"),
)

record_hashes = Table(
    "record_hashes",
    metadata,
    Column("job", String(100), primary_key=True),
    Column("system", String(100), primary_key=True),
    Column("kind", String(50), primary_key=True),
    Column("external_id", String(200), primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("fields", JSON, nullable=True),
    Column("source_system", String(100), nullable=True),
    Column("source_id", String(200), nullable=True),
    Column("seen_run", String(36), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("ix_record_hashes_source", record_hashes.c.job, record_hashes.c.source_system, record_hashes.c.source_id)

# Match keys of target records (normalized name, e-mail ...), rebuilt by a sync run that
# must match unlinked records: kept in a table so memory stays flat at any size.
match_index = Table(
    "match_index",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", String(36), nullable=False),
    Column("system", String(100), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("rule", Integer, nullable=False),
    Column("key", String(300), nullable=False),
    Column("external_id", String(200), nullable=False),
)
Index("ix_match_index_lookup", match_index.c.run_id, match_index.c.system, match_index.c.kind, match_index.c.rule,
      match_index.c.key)

# Deactivations a sync run has decided on, applied after the mass-deactivation guard.
sync_pending = Table(
    "sync_pending",
    metadata,
    Column("job", String(100), primary_key=True),
    Column("system", String(100), primary_key=True),
    Column("kind", String(50), primary_key=True),
    Column("external_id", String(200), primary_key=True),
    Column("entity", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("record", JSON, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

# RMM alerts and the PSA tickets opened for them, one row per occurrence of a problem
# (``dedup_key``: device, service, condition). A row is written as ``creating`` before
# its ticket is created, so a crash between the two is recovered by looking the ticket
# up by its external key instead of opening a second one; earlier occurrences' tickets
# stay listed, so a recovery never adopts one of them.
alert_tickets = Table(
    "alert_tickets",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("job", String(100), nullable=False),
    Column("dedup_key", String(300), nullable=False),
    Column("state", String(20), nullable=False),
    Column("ticket_id", String(200), nullable=True),
    Column("alert_id", String(200), nullable=True),
    Column("severity", String(20), nullable=False),
    Column("hub_status", String(100), nullable=True),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("cleared_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("ix_alert_tickets_key", alert_tickets.c.job, alert_tickets.c.dedup_key)
Index("ix_alert_tickets_state", alert_tickets.c.job, alert_tickets.c.state)

runs = Table(
    "runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("job", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("summary", JSON, nullable=True),
)
Index("ix_runs_job_started", runs.c.job, runs.c.started_at)

locks = Table(
    "locks",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(36), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", UTCDateTime(), nullable=False),
    Column("heartbeat_at", UTCDateTime(), nullable=False),
    #: the fencing token: grows with every acquisition, checked at every checkpoint commit
    Column("token", BigInteger, nullable=False, server_default="0"),
    Column("expires_at", UTCDateTime(), nullable=True),
    #: the holder's process start (boot id and start ticks), so a reused pid is not the holder
    Column("started", String(64), nullable=True),
    Column("run_id", String(36), nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("run_id", String(36), nullable=True),
    Column("actor", String(100), nullable=False),
    Column("system", String(100), nullable=False),
    Column("entity", String(100), nullable=False),
    Column("record_id", String(200), nullable=True),
    Column("operation", String(30), nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
)
Index("ix_audit_run", audit_log.c.run_id)
Index("ix_audit_record", audit_log.c.system, audit_log.c.entity, audit_log.c.record_id)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("job", String(100), nullable=False),
    Column("system", String(100), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("operation", String(30), nullable=False),
    Column("record", JSON, nullable=True),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("first_at", UTCDateTime(), nullable=False),
    Column("last_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),
    UniqueConstraint("job", "system", "kind", "record_id", name="uq_dead_letter_record"),
)

workflow_runs = Table(
    "workflow_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("workflow", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("values", JSON, nullable=False),
    Column("current_step", String(100), nullable=True),
    Column("error", Text, nullable=True),
    Column("definition", JSON, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("ix_workflow_runs_status", workflow_runs.c.status)

workflow_steps = Table(
    "workflow_steps",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("step_id", String(100), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("idempotency_key", String(200), nullable=True),
    Column("result", JSON, nullable=True),
    Column("waiting_on", JSON, nullable=True),
    Column("note", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("deadline_at", UTCDateTime(), nullable=True),
    Column("remind_at", UTCDateTime(), nullable=True),
)

events = Table(
    "events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("connector", String(100), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("type", String(100), nullable=False),
    Column("entity", String(100), nullable=True),
    Column("record_id", String(200), nullable=True),
    Column("correlation", JSON, nullable=True),
    Column("data", JSON, nullable=True),
    Column("body", LargeBinary, nullable=True),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Column("occurred_at", UTCDateTime(), nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("processed_at", UTCDateTime(), nullable=True),
    # when the event may next be claimed: its retry time after a failure, or the end of
    # the lease of the worker processing it (a crashed worker's event becomes due again)
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    UniqueConstraint("connector", "event_id", name="uq_event"),
)
Index("ix_events_due", events.c.status, events.c.next_attempt_at)

# The people who may use the web console (``hub users``). A password is kept only as its
# Argon2 hash; ``session_version`` is part of every session cookie, so raising it (a new
# password, a removed person) ends that person's sessions everywhere at once.
console_users = Table(
    "console_users",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("session_version", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Failed console sign-ins, one row each, keyed by the name tried and by the address it came
# from, so every `hub serve` process sharing the store counts the same attempts.
console_login_failures = Table(
    "console_login_failures",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
Index("ix_console_login_failures_key", console_login_failures.c.key, console_login_failures.c.at)

# The work ledger of scale-out (``hub.state.dispatch``): each unit of work a schedule or an
# event handed to the Celery workers, once per ``key``; claimed by one worker at a time.
dispatches = Table(
    "dispatches",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),
    Column("task", String(100), nullable=False),
    Column("args", JSON, nullable=True),
    Column("queue", String(50), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    #: the worker process running it (host, pid, start), as the leases name their holders
    Column("claimed_by", String(300), nullable=True),
    Column("error", Text, nullable=True),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("heartbeat_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    UniqueConstraint("key", name="uq_dispatch_key"),
)
Index("ix_dispatches_open", dispatches.c.status, dispatches.c.due_at)
