"""Process metrics in Prometheus form, served by ``GET /metrics`` of ``hub serve``.

One private registry (not the library's global one) so that tests and embedded use
get a clean, predictable set of series. Counters are bumped where things happen
(the HTTP layer counts API calls and 429s, the receiver counts requests, the event
processor counts outcomes); the gauges that describe the state store (dead letters,
waiting workflow runs, the event backlog) are read from it at scrape time by
:func:`refresh_gauges`, so they are right even when another process did the work.

Label values are bounded: a webhook for a connector that does not exist is counted
under ``connector="unknown"``, never under the name an attacker put in the URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

if TYPE_CHECKING:
    from hub.state.store import StateStore

__all__ = [
    "API_CALLS",
    "DEAD_LETTERS",
    "EVENTS",
    "EVENT_BACKLOG",
    "LIFECYCLE_CHANGES",
    "RATE_LIMITED",
    "REGISTRY",
    "SCHEDULER_LEADER",
    "SCHEDULE_RUNS",
    "SYNC_RUNS",
    "WAITING_RUNS",
    "WEBHOOK_DEACTIVATIONS",
    "WEBHOOK_REJECTED",
    "WORKFLOW_WAITING_STATUS",
    "refresh_gauges",
    "render",
]

REGISTRY = CollectorRegistry(auto_describe=True)

API_CALLS = Counter("hub_api_calls", "HTTP requests sent to vendor APIs", ["connector"], registry=REGISTRY)
RATE_LIMITED = Counter(
    "hub_api_rate_limited", "429 answers from vendor APIs", ["connector"], registry=REGISTRY
)
#: outcome: received (stored, new), duplicate (replay, ignored), processed, failed (will retry), dead
EVENTS = Counter(
    "hub_webhook_events", "webhook events by outcome", ["connector", "outcome"], registry=REGISTRY
)
#: reason: unauthorized (401), too_large (413), malformed (400), unknown_connector (404), error (5xx)
WEBHOOK_REJECTED = Counter(
    "hub_webhook_rejected",
    "webhook requests refused and not stored",
    ["connector", "reason"],
    registry=REGISTRY,
)
WEBHOOK_DEACTIVATIONS = Counter(
    "hub_webhook_deactivations",
    "vendor notices that a webhook was deactivated",
    ["connector"],
    registry=REGISTRY,
)
SYNC_RUNS = Counter("hub_sync_runs", "sync runs by job and status", ["job", "status"], registry=REGISTRY)
#: outcome: ok, failed, skipped (the previous run was still going, or another process held it),
#: dispatched (handed to the Celery workers through the work ledger)
SCHEDULE_RUNS = Counter(
    "hub_schedule_runs", "scheduled runs by schedule and outcome", ["schedule", "outcome"], registry=REGISTRY
)
LIFECYCLE_CHANGES = Counter(
    "hub_ticket_lifecycle_changes",
    "ticket status changes made by lifecycle rules",
    ["rule"],
    registry=REGISTRY,
)
SCHEDULER_LEADER = Gauge(
    "hub_scheduler_leader", "1 while this process holds the scheduler's leader lease", registry=REGISTRY
)
DEAD_LETTERS = Gauge("hub_dead_letters", "records waiting in the dead-letter table", registry=REGISTRY)
WAITING_RUNS = Gauge(
    "hub_workflow_runs_waiting", "workflow runs waiting on an event or a person", registry=REGISTRY
)
EVENT_BACKLOG = Gauge(
    "hub_events_backlog", "stored webhook events not yet processed, by status", ["status"], registry=REGISTRY
)

#: the ``workflow_runs.status`` of a run waiting on an event or a person
WORKFLOW_WAITING_STATUS = "waiting"
_BACKLOG_STATUSES = ("pending", "processing", "failed", "dead")


def refresh_gauges(store: StateStore) -> None:
    """Set the state-describing gauges from the store (called on every scrape)."""
    from sqlalchemy import func, select

    from hub.state import tables as t

    with store.engine.connect() as conn:
        DEAD_LETTERS.set(
            conn.execute(select(func.count()).where(t.dead_letters.c.resolved_at.is_(None))).scalar_one()
        )
        WAITING_RUNS.set(
            conn.execute(
                select(func.count()).where(t.workflow_runs.c.status == WORKFLOW_WAITING_STATUS)
            ).scalar_one()
        )
        rows = conn.execute(
            select(t.events.c.status, func.count())
            .where(t.events.c.status.in_(_BACKLOG_STATUSES))
            .group_by(t.events.c.status)
        ).all()
    counts: dict[str, int] = {status: int(n) for status, n in rows}
    for status in _BACKLOG_STATUSES:
        EVENT_BACKLOG.labels(status=status).set(counts.get(status, 0))


def render() -> bytes:
    return generate_latest(REGISTRY)
