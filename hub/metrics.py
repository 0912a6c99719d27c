"""Process metrics in Prometheus form, served by ``GET /metrics`` of ``hub serve`` and of
each ``hub worker --metrics-port``: every process serves its own counters.

One private registry (not the library's global one) so that tests and embedded use
get a clean, predictable set of series. Counters are bumped where things happen
(the HTTP layer counts API calls and 429s, the receiver counts requests, the event
processor counts outcomes); the gauges that describe the state store (dead letters,
waiting workflow runs, the event backlog) are read from it at scrape time by
:func:`refresh_gauges`, so they are right even when another process did the work; the
budget gauges from the process's limiters (:func:`refresh_budgets`: with ``HUB_BUDGET_URL``
the counts every process shares) and the queue depths from the broker.

Label values are bounded: a webhook for a connector that does not exist is counted
under ``connector="unknown"``, never under the name an attacker put in the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from hub.ratelimit import RateLimiter
    from hub.state.store import StateStore

__all__ = [
    "API_CALLS",
    "BUDGET_LIMIT",
    "BUDGET_USED",
    "DEAD_LETTERS",
    "EVENTS",
    "EVENT_BACKLOG",
    "EVENT_LAG",
    "LIFECYCLE_CHANGES",
    "OLDEST_EVENT",
    "QUEUE_DEPTH",
    "RATE_LIMITED",
    "REGISTRY",
    "SCHEDULER_LEADER",
    "SCHEDULE_RUNS",
    "SYNC_DURATION",
    "SYNC_RUNS",
    "WAITING_RUNS",
    "WEBHOOK_DEACTIVATIONS",
    "WEBHOOK_REJECTED",
    "WORK",
    "WORKFLOW_WAITING_STATUS",
    "WORK_DURATION",
    "refresh_budgets",
    "refresh_gauges",
    "refresh_queues",
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

#: seconds from a webhook's arrival to the end of its processing (however many workers)
EVENT_LAG = Histogram(
    "hub_event_lag_seconds",
    "time from a webhook event's arrival to the end of its processing",
    ["connector"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
    registry=REGISTRY,
)
OLDEST_EVENT = Gauge(
    "hub_events_oldest_pending_seconds",
    "age of the oldest stored event not processed yet (read from the store at scrape time)",
    registry=REGISTRY,
)
SYNC_DURATION = Histogram(
    "hub_sync_run_duration_seconds",
    "duration of sync runs by job and status",
    ["job", "status"],
    buckets=(1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600),
    registry=REGISTRY,
)
WORK_DURATION = Histogram(
    "hub_work_duration_seconds",
    "duration of the units of work a Celery worker ran from the work ledger, by task and status",
    ["task", "status"],
    buckets=(0.1, 1, 5, 15, 60, 300, 900, 3600, 7200),
    registry=REGISTRY,
)
WORK = Gauge("hub_work", "units of the work ledger by status (read at scrape time)", ["status"], registry=REGISTRY)
QUEUE_DEPTH = Gauge(
    "hub_queue_depth", "messages waiting in each Celery queue (read at scrape time)", ["queue"], registry=REGISTRY
)
BUDGET_USED = Gauge(
    "hub_budget_used",
    "requests counted in a credential's published window (shared across processes with HUB_BUDGET_URL)",
    ["budget", "window_seconds"],
    registry=REGISTRY,
)
BUDGET_LIMIT = Gauge(
    "hub_budget_limit", "requests a credential's published window allows", ["budget", "window_seconds"],
    registry=REGISTRY,
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
        oldest = conn.execute(
            select(func.min(t.events.c.received_at)).where(t.events.c.status.in_(("pending", "processing", "failed")))
        ).scalar_one_or_none()
        work = conn.execute(select(t.dispatches.c.status, func.count()).group_by(t.dispatches.c.status)).all()
    counts: dict[str, int] = {status: int(n) for status, n in rows}
    for status in _BACKLOG_STATUSES:
        EVENT_BACKLOG.labels(status=status).set(counts.get(status, 0))
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    OLDEST_EVENT.set((datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0)
    by_status = {status: int(n) for status, n in work}
    for status in ("pending", "sent", "running", "done", "failed", "skipped"):
        WORK.labels(status=status).set(by_status.get(status, 0))


def refresh_budgets(limiters: Mapping[str, RateLimiter]) -> None:
    """Set the budget gauges from this process's limiters (the shared counts with Redis)."""
    for key, limiter in limiters.items():
        for limit, used in limiter.usage():
            window = f"{limit.per_seconds:g}"
            BUDGET_USED.labels(budget=key, window_seconds=window).set(used)
            BUDGET_LIMIT.labels(budget=key, window_seconds=window).set(limit.requests)


def refresh_queues(depths: Mapping[str, int]) -> None:
    for queue, depth in depths.items():
        QUEUE_DEPTH.labels(queue=queue).set(depth)


def render() -> bytes:
    return generate_latest(REGISTRY)
