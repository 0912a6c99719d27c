"""Celery tasks for running past one machine: the same units of work as ``hub serve``.

``hub worker`` starts a worker on ``HUB_CELERY_BROKER_URL`` (Redis by default). Each
task builds (once per worker process) the same :class:`~hub.events.runtime.Runtime`
the single-process mode uses and calls the same function:

* ``hub.sync`` (job, full_refresh) -> the sync's JSON summary;
* ``hub.process_event`` (event row id) -> what processing did;
* ``hub.advance_workflow`` (run id) -> resumes one workflow run (``WorkflowEngine.resume``);
* ``hub.workflow_tick`` -> timeouts and reminders; ``hub.ticket_lifecycle`` -> the rules.

Tasks acknowledge late and prefetch one, so a worker that dies mid-task leaves the
task to another worker; every task is safe to run twice (a claimed event is not
processed twice at once, syncs are incremental, workflow steps idempotent).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from celery import Celery

from hub.errors import ConfigError
from hub.events.runtime import Runtime
from hub.logging import redact_url

__all__ = ["check_broker", "make_celery"]


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


def make_celery(runtime_factory: Callable[[], Runtime], broker_url: str, **conf: Any) -> Celery:
    """A Celery app whose tasks run on the :class:`Runtime` ``runtime_factory`` builds."""
    app = Celery("msp_hub", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
    )
    app.conf.update(conf)
    lock = threading.Lock()
    built: list[Runtime] = []

    def runtime() -> Runtime:
        with lock:
            if not built:
                built.append(runtime_factory())
            return built[0]

    @app.task(name="hub.sync")
    def sync(job: str, full_refresh: bool = False) -> dict[str, Any]:
        return runtime().run_sync(job, full_refresh=full_refresh, trigger="celery")

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

    @app.task(name="hub.advance_workflow")
    def advance_workflow(run_id: str) -> dict[str, str]:
        runtime().workflow_engine().resume(run_id)
        return {"run": run_id}

    @app.task(name="hub.workflow_tick")
    def workflow_tick() -> None:
        runtime().workflow_tick()

    @app.task(name="hub.ticket_lifecycle")
    def ticket_lifecycle() -> int:
        return runtime().run_lifecycle()

    return app
