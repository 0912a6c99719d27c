"""The webhook receiver: a Starlette app whose routes are part of the contract.

* ``POST /webhooks/<connector>``: refuse anything but JSON (415: every vendor the hub
  takes webhooks from sends ``application/json`` or a ``+json`` type), read the body
  (refusing it with 413 as soon as it passes ``HUB_WEBHOOK_MAX_BYTES``, and with 408
  when it has not all arrived within ``HUB_WEBHOOK_BODY_SECONDS``: a client sending a
  byte a second must not hold a connection forever), refuse JSON nested deeper than
  :data:`MAX_DEPTH` (400, before any parser recurses into it), have the connector
  verify the signature over the raw bytes (401) and parse it (400), store the events
  durably, answer 200, and only then wake the processor. Nothing refused is stored;
  every refusal is counted (``hub_webhook_rejected``).
* ``GET /healthz``: the process is up and the state store answers.
* ``GET /livez``: liveness, for an orchestrator's restart decision: 200 while the process
  and the threads it cannot work without run, else 503 naming the dead one.
* ``GET /readyz``: readiness, for a load balancer: 200 when the state store answers, the
  intake writer runs and the service's own checks pass (the broker in Celery mode), else
  503 naming what is not ready.
* ``GET /metrics``: Prometheus text (:mod:`hub.metrics`).

Events are stored in group commits (:mod:`hub.events.intake`): each request waits for the
commit that holds its delivery, so the vendor hears 200 only once its events are durable.

The receiver knows no vendor: verification and parsing are the connector's
(``Connector.verify_webhook`` / ``parse_webhook``), found by name with
``Hub.connector``. A connector whose settings are incomplete answers 503 (the
vendor retries, and the log says which setting is missing) rather than 401, which
would make the vendor give up on a delivery the hub could have taken.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from hub import metrics
from hub.connector import Connector
from hub.errors import ConfigError, WebhookRejected
from hub.events.intake import GroupCommit
from hub.events.store import EventStore
from hub.logging import get_logger

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["create_app"]

log = get_logger("hub.events.receiver")

_REASONS = {
    400: "malformed",
    401: "unauthorized",
    403: "unauthorized",
    404: "unknown_connector",
    408: "too_slow",
    413: "too_large",
    415: "not_json",
}

#: the deepest nesting of objects and arrays a webhook body may have (vendors' are under 10)
MAX_DEPTH = 64

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(rb"[\[\]{}]")


class _TooLarge(Exception):
    pass


def _json_type(content_type: str) -> bool:
    """``application/json`` or a structured ``+json`` type (``application/cloudevents+json``)."""
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def json_depth(body: bytes) -> int:
    """How deeply the objects and arrays of a JSON text nest (brackets inside strings do not count)."""
    depth = deepest = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if bracket.group() in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


async def _read_limited(request: Request, limit: int, seconds: float) -> bytes:
    """The body, refused as soon as it is known to pass ``limit`` (header or stream), or when
    it has not all arrived within ``seconds``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise WebhookRejected("invalid Content-Length", status=400)
        if int(declared) > limit:
            raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _TooLarge
                chunks.append(chunk)
    except TimeoutError:
        raise WebhookRejected(f"the body did not arrive within {seconds:g} seconds", status=408) from None
    return b"".join(chunks)


def _refuse(connector: str, status: int, message: str) -> JSONResponse:
    reason = _REASONS.get(status, "error")
    metrics.WEBHOOK_REJECTED.labels(connector=connector, reason=reason).inc()
    log.warning("webhook refused", connector=connector, status=status, reason=reason, error=message)
    return JSONResponse({"error": message}, status_code=status)


#: what a service adds to ``/livez`` or ``/readyz``: the problems found now (none: fine)
Checks = Callable[[], list[str]]


def create_app(
    hub: Hub,
    events: EventStore,
    *,
    on_stored: Callable[[list[int]], None] | None = None,
    alive: Checks | None = None,
    ready: Checks | None = None,
    on_scrape: Callable[[], None] | None = None,
) -> Starlette:
    """The receiver app for ``hub``; ``on_stored`` is told the ids of newly stored events
    (once per group commit); ``alive`` and ``ready`` add the service's own checks;
    ``on_scrape`` refreshes the service's own gauges before ``/metrics`` answers."""
    limit = hub.settings.webhook_max_bytes
    intake = GroupCommit(events, after_commit=on_stored)
    found: dict[str, Connector | None] = {}

    def webhook_connector(name: str) -> Connector | None:
        classes = hub.plugins.connector_classes()
        cls = classes.get(name)
        if cls is None or not cls.has_webhooks:
            return None
        return hub.connector(name)

    async def lookup(name: str) -> Connector | None:
        """The connector once built (building it reads its settings: in a thread, once)."""
        if name not in found:
            connector = await run_in_threadpool(webhook_connector, name)
            if len(found) < 256:  # names from URLs: bounded
                found[name] = connector
            return connector
        return found[name]

    async def webhook(request: Request) -> Response:
        name = request.path_params["connector"]
        try:
            connector = await lookup(name)
        except ConfigError as exc:
            log.error("webhook connector is not configured", connector=name, error=str(exc))
            return _refuse(name, 503, f"{name} is not configured on this hub")
        if connector is None:
            # Counted without the name from the URL: label values must stay bounded.
            return _refuse("unknown", 404, "no such webhook")
        if not _json_type(request.headers.get("content-type", "")):
            return _refuse(name, 415, "the body must be JSON (Content-Type application/json)")
        try:
            body = await _read_limited(request, limit, hub.settings.webhook_body_seconds)
            if json_depth(body) > MAX_DEPTH:
                raise WebhookRejected(f"JSON nested deeper than {MAX_DEPTH} levels", status=400)
            connector.verify_webhook(request.headers, body)
            parsed = connector.parse_webhook(request.headers, body)
        except _TooLarge:
            return _refuse(name, 413, f"body larger than {limit} bytes")
        except WebhookRejected as exc:
            return _refuse(name, exc.status, str(exc))
        except Exception as exc:  # a connector bug: 500 so the vendor delivers again later
            log.error("webhook verification crashed", connector=name, error=type(exc).__name__)
            return _refuse(name, 500, "internal error")
        try:
            stored = await asyncio.wrap_future(intake.record(name, parsed, body))
        except Exception as exc:  # the store refused the commit: 503 so the vendor delivers again
            log.error("webhook not stored", connector=name, error=f"{type(exc).__name__}: {exc}")
            return _refuse(name, 503, "the event could not be stored; deliver it again")
        if stored.stored:
            metrics.EVENTS.labels(connector=name, outcome="received").inc(len(stored.stored))
        if stored.duplicates:
            metrics.EVENTS.labels(connector=name, outcome="duplicate").inc(stored.duplicates)
        log.info("webhook stored", connector=name, stored=len(stored.stored), duplicates=stored.duplicates)
        for event in stored.new_events:
            try:
                hub.plugins.event_received(event=event)
            except Exception as exc:  # a plugin's observer must not cost the vendor a retry
                log.error("hub_event_received failed", connector=name, error=f"{type(exc).__name__}: {exc}")
        return JSONResponse({"stored": len(stored.stored), "duplicates": stored.duplicates})

    async def healthz(request: Request) -> Response:
        counts = await run_in_threadpool(events.counts)
        return JSONResponse({"status": "ok", "events": counts})

    async def livez(request: Request) -> Response:
        problems = alive() if alive is not None else []
        if problems:
            return JSONResponse({"status": "dead", "problems": problems}, status_code=503)
        return JSONResponse({"status": "alive"})

    def readiness() -> list[str]:
        problems: list[str] = []
        try:
            with events.store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure: the store cannot take events now
            problems.append(f"state store: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        if not intake.alive():
            problems.append("intake writer: stopped")
        return problems + (ready() if ready is not None else [])

    async def readyz(request: Request) -> Response:
        problems = await run_in_threadpool(readiness)
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    def scrape() -> None:
        metrics.refresh_gauges(events.store)
        metrics.refresh_budgets(hub.limiters)
        if on_scrape is not None:
            on_scrape()

    async def metrics_text(request: Request) -> Response:
        await run_in_threadpool(scrape)
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    app = Starlette(
        routes=[
            Route("/webhooks/{connector}", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/livez", livez, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_text, methods=["GET"]),
        ]
    )
    app.state.intake = intake
    return app
