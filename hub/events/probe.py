"""What a ``hub worker`` serves on ``--metrics-port``: its metrics, liveness and readiness.

A Celery worker has no HTTP server of its own, and its counters (events processed, API
calls, budget waits, run durations) live in its own process: Prometheus scrapes each
worker here, as it scrapes ``hub serve``. ``/livez`` answers while the process runs;
``/readyz`` while the state store and the broker answer (503 naming the one that does
not), so an orchestrator stops sending traffic or restarts the worker.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from hub import metrics
from hub.errors import ConfigError
from hub.events.runtime import Runtime

__all__ = ["create_probe_app"]


def create_probe_app(runtime: Callable[[], Runtime], broker_url: str, queues: list[str]) -> Starlette:
    """``runtime`` gives the worker's runtime (built on first use, as its tasks build it)."""

    def problems() -> list[str]:
        from hub.events.tasks import check_broker

        found: list[str] = []
        try:
            with runtime().hub.store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure: the worker cannot do its work now
            found.append(f"state store: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        try:
            check_broker(broker_url, timeout=2.0)
        except ConfigError as exc:
            found.append(str(exc))
        return found

    async def livez(request: Request) -> Response:
        return JSONResponse({"status": "alive", "queues": queues})

    async def readyz(request: Request) -> Response:
        found = await run_in_threadpool(problems)
        if found:
            return JSONResponse({"status": "not ready", "problems": found}, status_code=503)
        return JSONResponse({"status": "ready", "queues": queues})

    def scrape() -> None:
        from hub.events.tasks import queue_depths

        hub = runtime().hub
        metrics.refresh_gauges(hub.store)
        metrics.refresh_budgets(hub.limiters)
        metrics.refresh_queues(queue_depths(broker_url))

    async def metrics_text(request: Request) -> Response:
        await run_in_threadpool(scrape)
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return Starlette(
        routes=[
            Route("/livez", livez, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_text, methods=["GET"]),
        ]
    )
