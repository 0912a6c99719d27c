"""Process metrics in Prometheus form, served by ``GET /metrics`` of ``hub serve``.

One private registry (not the library's global one) so that tests and embedded use
get a clean, predictable set of series.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

__all__ = [
    "API_CALLS",
    "DEAD_LETTERS",
    "EVENTS",
    "RATE_LIMITED",
    "REGISTRY",
    "SYNC_RUNS",
    "WAITING_RUNS",
    "render",
]

REGISTRY = CollectorRegistry(auto_describe=True)

API_CALLS = Counter("hub_api_calls", "HTTP requests sent to vendor APIs", ["connector"], registry=REGISTRY)
RATE_LIMITED = Counter("hub_api_rate_limited", "429 answers from vendor APIs", ["connector"], registry=REGISTRY)
EVENTS = Counter(
    "hub_webhook_events", "webhook requests by outcome", ["connector", "outcome"], registry=REGISTRY
)
SYNC_RUNS = Counter("hub_sync_runs", "sync runs by job and status", ["job", "status"], registry=REGISTRY)
DEAD_LETTERS = Gauge("hub_dead_letters", "records waiting in the dead-letter table", registry=REGISTRY)
WAITING_RUNS = Gauge("hub_workflow_runs_waiting", "workflow runs waiting on an event or a person", registry=REGISTRY)


def render() -> bytes:
    return generate_latest(REGISTRY)
