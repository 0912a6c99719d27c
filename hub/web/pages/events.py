"""Events: the webhooks received, their processing state, and Retry.

Retry is ``hub events retry`` for one event (or every failed and dead one): the
events become due now and ``hub serve``'s event worker processes them at once.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from hub.errors import ConfigError
from hub.events.store import STATUSES
from hub.web.accounts import Role
from hub.web.app import Console, Ctx, action, page

__all__ = ["routes"]


def routes(console: Console) -> list[Route]:
    def index(ctx: Ctx) -> Response:
        status, connector = ctx.query("status"), ctx.query("connector")
        if status and status not in STATUSES:
            raise ConfigError(f"status must be one of {', '.join(STATUSES)}")
        rows = console.events.recent(100, status=status or None, connector=connector or None)
        return console.render(ctx, ctx.request, "events.html", events=rows, counts=console.events.counts(),
                              statuses=STATUSES, filters={"status": status, "connector": connector})  # fmt: skip

    def retry(ctx: Ctx) -> Response:
        event_id = ctx.param("event_id")
        ids = [int(event_id)] if event_id else []
        queued = console.events.retry(ids)
        if not queued:
            raise ConfigError("nothing to retry: only failed and dead events are retried")
        console.audit(ctx, "event.retried", system="events", entity="event", record_id=",".join(map(str, queued)))
        if console.process_events is not None:
            console.process_events()
        return console.redirect(ctx.request, "/events", f"{len(queued)} event(s) queued again")

    return [
        Route("/events", page(console, index)),
        Route("/events/{event_id:int}/retry", action(console, retry, Role.operator), methods=["POST"]),
        Route("/events/retry", action(console, retry, Role.operator), methods=["POST"]),
    ]
