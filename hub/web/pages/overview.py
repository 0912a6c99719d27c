"""Overview: what needs a person now, and how everything stands, on one page."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from hub.health import connector_health
from hub.web.app import Console, Ctx, page
from hub.web.pages.compliance import last_result
from hub.web.pages.workflows import waiting_on_people
from hub.workflow import WorkflowEngine

__all__ = ["routes"]


def routes(console: Console) -> list[Route]:
    hub = console.hub

    def index(ctx: Ctx) -> Response:
        jobs = []
        for job in sorted(hub.plugins.jobs().values(), key=lambda j: j.name):
            jobs.append({"name": job.name, "runs": hub.store.recent_runs(job.name, limit=3)})
        failed_events = console.events.recent(10, status="failed") + console.events.recent(10, status="dead")
        return console.render(
            ctx, ctx.request, "overview.html", jobs=jobs, people=waiting_on_people(WorkflowEngine(hub)),
            letters=hub.store.dead_letters(), failed_events=failed_events, compliance=last_result(console),
            health=connector_health(hub),
        )  # fmt: skip

    return [Route("/", page(console, index))]
