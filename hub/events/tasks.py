"""Celery tasks for running past one machine: the same units of work as ``hub serve``.

``hub worker`` starts a worker on ``HUB_CELERY_BROKER_URL`` (Redis by default). Each
task builds (once per worker process) the same :class:`~hub.events.runtime.Runtime`
the single-process mode uses and calls the same function:

* ``hub.run_work`` (ledger row id) -> runs one unit of the work ledger (a schedule's slot,
  a sync an event asked for) if this worker can claim it (:mod:`hub.state.dispatch`);
* ``hub.process_events`` (event row ids) / ``hub.process_event`` (one id) -> processing
  of stored events, each claimed by one worker;
* ``hub.advance_workflow`` (run id) -> advances one workflow run (``WorkflowEngine.advance``,
  under the run's lease);
* ``hub.sync`` (job, full_refresh, part) -> the sync's JSON summary (``part`` ``I/N``: one
  part of a job split across workers, see :class:`hub.sync.engine.Part`);
* ``hub.workflow_tick`` -> timeouts and reminders; ``hub.ticket_lifecycle`` -> the rules.

The tasks are routed to three queues (:data:`hub.events.dispatch.QUEUES`): ``events``,
``syncs`` and ``workflows``. Tasks acknowledge late and prefetch one, so a worker that dies
mid-task leaves the task to another worker; every task is safe to run twice (a claimed
event or ledger row is not run twice, syncs are incremental, workflow steps idempotent).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from celery import Celery

from hub.errors import ConfigError
from hub.events.dispatch import QUEUES
from hub.events.runtime import Runtime
from hub.logging import redact_url

__all__ = ["TASK_ROUTES", "check_broker", "make_celery", "publisher", "queue_depths"]


def check_broker(url: str, timeout: float = 3.0) -> None:
    """ConfigError naming ``HUB_CELERY_BROKER_URL`` unless the broker answers within
    ``timeout`` seconds: one short try, where a worker would retry forever."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
    except Exception as exc:  # any transport's failure: the broker is not usable as configured
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"HUB_CELERY_BROKER_URL: cannot reach {redact_url(url)} ({reason})") from None


#: the queue of each task (``hub.run_work`` is sent to the queue its ledger row names)
TASK_ROUTES = {
    "hub.process_event": {"queue": "events"},
    "hub.process_events": {"queue": "events"},
    "hub.sync": {"queue": "syncs"},
    "hub.ticket_lifecycle": {"queue": "syncs"},
    "hub.advance_workflow": {"queue": "workflows"},
    "hub.workflow_tick": {"queue": "workflows"},
}


def queue_depths(broker_url: str, queues: tuple[str, ...] = QUEUES, timeout: float = 2.0) -> dict[str, int]:
    """Messages waiting in each of the hub's queues (a queue never used counts 0)."""
    from kombu import Connection

    depths: dict[str, int] = {}
    with Connection(broker_url, connect_timeout=timeout) as conn:
        channel = conn.default_channel
        for queue in queues:
            try:
                depths[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
            except Exception:  # the transport has no such queue yet: nothing waits in it
                depths[queue] = 0
    return depths


def publisher(broker_url: str, **conf: Any) -> Celery:
    """A Celery app that only sends the hub's tasks (``hub serve``, and workers that hand
    work on to another queue)."""
    app = Celery("msp_hub", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        task_routes=TASK_ROUTES,
        task_default_queue="events",
        task_ignore_result=True,
        # A message whose worker died unacknowledged comes back after this long; the work
        # ledger and the events' claims make that second delivery harmless.
        broker_transport_options={"visibility_timeout": 3600},
    )
    app.conf.update(conf)
    return app


def make_celery(runtime_factory: Callable[[], Runtime], broker_url: str, **conf: Any) -> Celery:
    """A Celery app whose tasks run on the :class:`Runtime` ``runtime_factory`` builds."""
    app = publisher(broker_url, **conf)
    lock = threading.Lock()
    built: list[Runtime] = []

    def runtime() -> Runtime:
        with lock:
            if not built:
                built.append(runtime_factory())
            return built[0]

    #: the worker's runtime, built on first use (``hub worker --metrics-port`` reads it too)
    app.hub_runtime = runtime  # type: ignore[attr-defined]

    @app.task(name="hub.sync")
    def sync(job: str, full_refresh: bool = False, part: str | None = None) -> dict[str, Any]:
        return runtime().run_sync(job, full_refresh=full_refresh, trigger="celery", part=part)

    @app.task(name="hub.process_event")
    def process_event(event_id: int) -> dict[str, Any]:
        result = runtime().processor.process(event_id)
        return {
            "processed": result.processed,
            "failed": result.failed,
            "deferred": result.deferred,
            "resumed_runs": result.resumed_runs,
            "synced": result.synced,
        }

    @app.task(name="hub.process_events")
    def process_events(event_ids: list[int]) -> dict[str, Any]:
        processor = runtime().processor
        totals: dict[str, Any] = {"processed": 0, "failed": 0, "deferred": 0}
        for event_id in event_ids:
            result = processor.process(int(event_id))
            totals["processed"] += result.processed
            totals["failed"] += result.failed
            totals["deferred"] += result.deferred
        return totals

    @app.task(name="hub.run_work")
    def run_work(row_id: int) -> dict[str, Any]:
        return runtime().run_dispatch(int(row_id))

    @app.task(name="hub.advance_workflow")
    def advance_workflow(run_id: str) -> dict[str, str]:
        status = runtime().workflow_engine().advance(run_id)
        return {"run": run_id, "status": str(status)}

    @app.task(name="hub.workflow_tick")
    def workflow_tick() -> None:
        runtime().workflow_tick()

    @app.task(name="hub.ticket_lifecycle")
    def ticket_lifecycle() -> int:
        return runtime().run_lifecycle()

    return app
