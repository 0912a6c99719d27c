"""Audit: every write the hub made and every action a person took, searchable."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from hub.state.audit import AuditQuery, search_audit
from hub.web.app import Console, Ctx, page
from hub.web.pages.sync import changes

__all__ = ["routes"]

PAGE = 100


def routes(console: Console) -> list[Route]:
    def index(ctx: Ctx) -> Response:
        before = ctx.query("before")
        query = AuditQuery(
            record=ctx.query("record") or None,
            system=ctx.query("system") or None,
            run=ctx.query("run") or None,
            actor=ctx.query("actor") or None,
            before=int(before) if before.isdigit() else None,
            limit=PAGE,
        )
        rows = [{**r, "changes": changes(r["before"], r["after"])} for r in search_audit(console.hub.store, query)]
        more = rows[-1]["id"] if len(rows) == PAGE else None
        filters = {k: ctx.query(k) for k in ("record", "system", "run", "actor")}
        return console.render(ctx, ctx.request, "audit.html", rows=rows, filters=filters, more=more)

    return [Route("/audit", page(console, index))]
