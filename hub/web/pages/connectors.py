"""Connectors: configured or not, the last check (with credential expiry), rate budget use.

"Check now" is ``hub check CONNECTOR`` (:func:`hub.health.check_connector`) in a
background task; its outcome is kept in the state store for everyone to see.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from hub.errors import ConfigError
from hub.health import check_connector, connector_health
from hub.web.accounts import Role
from hub.web.app import Console, Ctx, action, page
from hub.web.tasks import Task

__all__ = ["routes"]


def routes(console: Console) -> list[Route]:
    hub = console.hub

    def index(ctx: Ctx) -> Response:
        tasks = {t.label: t for t in reversed(console.tasks.recent("check"))}
        return console.render(ctx, ctx.request, "connectors.html", rows=connector_health(hub), tasks=tasks)

    def check(ctx: Ctx) -> Response:
        name = ctx.param("name")
        hub.connector(name)  # unknown or not configured: said now, on this page
        if console.tasks.running("check", name):
            raise ConfigError(f"{name} is being checked already")

        def work(task: Task) -> bool:
            return check_connector(hub, name, actor=ctx.principal.actor).ok

        console.audit(ctx, "connector.checked", entity="connector", record_id=name)
        console.tasks.start("check", name, ctx.principal.actor, work)
        return console.redirect(ctx.request, "/connectors", f"checking {name}")

    return [
        Route("/connectors", page(console, index)),
        Route("/connectors/{name}/check", action(console, check, Role.operator), methods=["POST"]),
    ]
