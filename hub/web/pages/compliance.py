"""Compliance: the violations of the last check, a new check, and "open tickets".

Both buttons run :func:`hub.compliance.report.run_compliance` in a background task,
what ``hub compliance [--open-tickets]`` runs (one PSA ticket per violation, never two
for the same one). The last result is kept in the state store with when and by whom,
so the page and the overview show it to everyone.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hub.compliance.report import run_compliance
from hub.compliance.rules import RULES
from hub.errors import ConfigError
from hub.web.accounts import Role
from hub.web.app import Console, Ctx, action, page
from hub.web.tasks import Task

__all__ = ["last_result", "routes"]

NAMESPACE = "console"
KEY = "compliance-last"


def last_result(console: Console) -> dict[str, Any] | None:
    value = console.hub.store.kv(NAMESPACE).get(KEY)
    return value if isinstance(value, dict) else None


def routes(console: Console) -> list[Route]:
    hub = console.hub

    def index(ctx: Ctx) -> Response:
        last = last_result(console)
        tickets = {t["key"]: t for t in (last or {}).get("result", {}).get("tickets", [])}
        return console.render(
            ctx, ctx.request, "compliance.html", last=last, tickets=tickets,
            rules={r.id: r.title for r in RULES}, task=next(iter(console.tasks.recent("compliance")), None),
        )  # fmt: skip

    def run(ctx: Ctx, open_tickets: bool) -> Response:
        label = "open tickets" if open_tickets else "check"
        if any(t.running for t in console.tasks.recent("compliance")):
            raise ConfigError("a compliance check is already running")

        def work(task: Task) -> dict[str, Any]:
            result = run_compliance(hub, open_tickets=open_tickets)
            record = {
                "at": hub.clock.now().isoformat(),
                "by": ctx.principal.actor,
                "open_tickets": open_tickets,
                "result": result.as_dict(),
            }
            hub.store.kv(NAMESPACE).set(KEY, record)
            return {"violations": len(result.violations), "tickets": len(result.tickets)}

        console.audit(ctx, f"compliance.{'tickets' if open_tickets else 'check'}", entity="compliance")
        console.tasks.start("compliance", label, ctx.principal.actor, work)
        return console.redirect(ctx.request, "/compliance", f"compliance {label} started")

    return [
        Route("/compliance", page(console, index)),
        Route("/compliance/check", action(console, lambda ctx: run(ctx, False), Role.operator), methods=["POST"]),
        Route("/compliance/open-tickets", action(console, lambda ctx: run(ctx, True), Role.operator),
              methods=["POST"]),
    ]
