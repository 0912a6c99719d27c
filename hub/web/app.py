"""The console's ASGI app: sign-in required everywhere, roles on every action, CSRF on every form.

Pages are plain server-rendered HTML (Jinja2); htmx refreshes the parts that change
(a run's checklist, a sync's progress) and nothing else needs JavaScript. Page code
is synchronous and runs in Starlette's thread pool, calling the same functions as the
CLI: :func:`hub.sync.run_job`, :class:`hub.workflow.WorkflowEngine`,
:func:`hub.compliance.report.run_compliance`, :class:`hub.events.store.EventStore`.

Access, enforced here and not only by what the pages show:

* without a session only ``/login`` and ``/static/*`` answer (the webhook routes,
  ``/healthz`` and ``/metrics`` are the receiver's, matched before the console): a
  browser is sent to ``/login``, anything else (an API client, an htmx request) gets 401;
* a GET needs the viewer role; each POST names the role it needs (operator for steps,
  runs, retries; admin for people) and answers 403 below it, or without the form's
  CSRF token;
* every action is audited as ``user:NAME``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.errors import ConfigError
from hub.events.store import EventStore
from hub.logging import get_logger
from hub.secretkey import derive, master_key
from hub.web.accounts import AccountStore, LoginLimiter, Role
from hub.web.auth import FLASH_COOKIE, Principal, SessionManager
from hub.web.tasks import TaskRunner

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.events.service import EventService

__all__ = ["Console", "Ctx", "attach", "create_console", "mount"]

log = get_logger("hub.web")

#: paths that answer without a session (beside the receiver's own routes)
PUBLIC_PATHS = ("/login",)
STATIC_PREFIX = "/static/"

NAV = [
    ("/", "Overview"),
    ("/sync", "Sync"),
    ("/workflows", "Workflows"),
    ("/compliance", "Compliance"),
    ("/events", "Events"),
    ("/audit", "Audit"),
    ("/connectors", "Connectors"),
]


@dataclass
class Ctx:
    """One request as page code sees it: who asks, what they sent."""

    console: Console
    request: Request
    principal: Principal
    form: dict[str, str] = field(default_factory=dict)

    @property
    def hub(self) -> Hub:
        return self.console.hub

    def param(self, name: str, default: str = "") -> str:
        return str(self.request.path_params.get(name, self.request.query_params.get(name, default)))

    def query(self, name: str) -> str:
        return self.request.query_params.get(name, "").strip()


class Console:
    """What every page shares: the hub, people and sessions, templates, background tasks."""

    def __init__(
        self,
        hub: Hub,
        *,
        events: EventStore | None = None,
        process_events: Callable[[], object] | None = None,
        tasks: TaskRunner | None = None,
        action_wait: float = 3.0,
    ) -> None:
        self.hub = hub
        settings = hub.settings.console
        self.accounts = AccountStore(hub.store)
        self.sessions = SessionManager(derive(master_key(hub.settings), "console-session"), hub.settings, self.accounts)
        window = timedelta(minutes=settings.login_window_minutes)
        self.limiter = LoginLimiter(hub.store, settings.login_attempts, window)
        self.events = events or EventStore(hub.store, hub.clock)
        #: called after events were made due again: wakes ``hub serve``'s event worker
        self.process_events = process_events
        self.tasks = tasks or TaskRunner()
        #: how long an action the person waits on (start, confirm, resume) may take before
        #: its page is answered and the rest is followed live
        self.action_wait = action_wait
        self.env = Environment(
            loader=PackageLoader("hub.web", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(when=self.when, ago=self.ago, pretty=_pretty, short=_short)

    # -- formatting (the MSP's time zone, HUB_TIMEZONE) ---------------------------------

    def when(self, value: datetime | str | None) -> str:
        """A moment in the MSP's time zone, as a ``<time>`` element that never wraps."""
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return str(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        local = value.astimezone(self.hub.settings.zone)
        return Markup('<time datetime="{}">{}</time>').format(local.isoformat(), local.strftime("%Y-%m-%d %H:%M"))

    def ago(self, value: datetime | str | None) -> str:
        """How long since ``value``, in words a person reads at a glance."""
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        seconds = max(0, int((self.hub.clock.now() - value).total_seconds()))
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if seconds >= size:
                return f"{seconds // size} {unit}"
        return f"{seconds} s"

    # -- answering ----------------------------------------------------------------------

    def render(self, ctx: Ctx | None, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        principal = ctx.principal if ctx else None
        flash = self.sessions.take_flash(request)
        html = self.env.get_template(name).render(
            request=request,
            me=principal,
            csrf=principal.csrf if principal else values.pop("csrf", ""),
            nav=NAV,
            path=request.url.path,
            flash=flash,
            timezone=self.hub.settings.timezone,
            Role=Role,
            **values,
        )
        response = HTMLResponse(html, status_code=status)
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    def redirect(self, request: Request, to: str, message: str | None = None, kind: str = "ok") -> Response:
        response = RedirectResponse(to, status_code=303)
        if message:
            self.sessions.flash(response, request, message, kind)
        return response

    def audit(
        self,
        ctx: Ctx,
        operation: str,
        *,
        system: str = "console",
        entity: str,
        record_id: str | None = None,
        after: Any = None,
        run_id: str | None = None,
    ) -> None:
        """One audit row for an action a person took here, as ``user:NAME``."""
        with self.hub.store.transaction() as conn:
            self.hub.store.audit(
                conn,
                actor=ctx.principal.actor,
                system=system,
                entity=entity,
                operation=operation,
                record_id=record_id,
                after=after,
                run_id=run_id,
            )

    def forbidden(self, ctx: Ctx, why: str) -> Response:
        if _wants_html(ctx.request):
            return self.render(ctx, ctx.request, "error.html", status=403, title="Not allowed", message=why)
        return JSONResponse({"error": why}, status_code=403)


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=1, default=str, sort_keys=True)


def _short(value: Any, size: int = 8) -> str:
    return str(value or "")[:size]


def _wants_html(request: Request) -> bool:
    """A browser navigating (not htmx, not an API client)."""
    return "text/html" in request.headers.get("accept", "") and "hx-request" not in request.headers


# -- access -----------------------------------------------------------------------------

Handler = Callable[[Ctx], Response]


def page(console: Console, handler: Handler, role: Role = Role.viewer) -> Callable[[Request], Awaitable[Response]]:
    """A GET endpoint for people of ``role`` or above."""

    async def endpoint(request: Request) -> Response:
        ctx = Ctx(console, request, request.state.principal)
        if not ctx.principal.can(role):
            return console.forbidden(ctx, f"this needs the {role.value} role; you are {ctx.principal.role.value}")
        try:
            return await run_in_threadpool(handler, ctx)
        except ConfigError as exc:  # an unknown run, job or workflow; a bad filter
            message = str(exc).splitlines()[0]
            status = 404 if message.startswith(("no ", "unknown ")) else 400
            return console.render(ctx, request, "error.html", status, title="Not found" if status == 404
                                  else "Cannot show this", message=message)  # fmt: skip

    return endpoint


def action(console: Console, handler: Handler, role: Role = Role.operator) -> Callable[[Request], Awaitable[Response]]:
    """A POST endpoint: the role first, then the form's CSRF token, then the handler."""

    async def endpoint(request: Request) -> Response:
        ctx = Ctx(console, request, request.state.principal)
        if not ctx.principal.can(role):
            return console.forbidden(ctx, f"this needs the {role.value} role; you are {ctx.principal.role.value}")
        async with request.form() as form:
            ctx.form = {k: v for k, v in form.items() if isinstance(v, str)}
        token = ctx.form.get("csrf_token") or request.headers.get("x-csrf-token")
        if not console.sessions.csrf_matches(ctx.principal.csrf, token):
            return console.forbidden(ctx, "the form has expired or did not come from this console; reload the page")
        try:
            return await run_in_threadpool(handler, ctx)
        except ConfigError as exc:
            back = request.headers.get("referer") or "/"
            return console.redirect(request, _same_site(back), str(exc).splitlines()[0], "error")

    return endpoint


def _same_site(url: str) -> str:
    """Only a path of this site is a place to send a person back to."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path if parts.path.startswith("/") and not parts.path.startswith("//") else "/"
    return path + (f"?{parts.query}" if parts.query else "")


class RequireSession:
    """Everything but the sign-in page and static files needs a signed-in person."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in PUBLIC_PATHS or path.startswith(STATIC_PREFIX):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        principal = await run_in_threadpool(self.console.sessions.principal, request)
        if principal is None:
            await _unauthenticated(request)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def _unauthenticated(request: Request) -> Response:
    if _wants_html(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    response = JSONResponse({"error": "sign in first (POST /login)"}, status_code=401)
    if "hx-request" in request.headers:
        response.headers["HX-Redirect"] = "/login"
    return response


# -- the app ----------------------------------------------------------------------------


def create_console(console: Console) -> Starlette:
    """The console as an ASGI app (mounted at ``/`` behind the receiver's routes)."""
    from hub.web.pages import audit, compliance, connectors, events, overview, session, sync, users, workflows

    routes: list[BaseRoute] = [Mount("/static", app=StaticFiles(packages=[("hub.web", "static")]), name="static")]
    for module in (session, overview, sync, workflows, compliance, events, audit, connectors, users):
        routes += module.routes(console)
    app = Starlette(routes=routes)
    app.add_middleware(_SecurityHeaders)
    app.add_middleware(RequireSession, console=console)
    return app


class _SecurityHeaders:
    """No framing (clickjacking), no MIME sniffing, no referrer leaks, scripts only from here."""

    HEADERS = [
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (
            b"content-security-policy",
            b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            b"frame-ancestors 'none'; form-action 'self'",
        ),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def attach(service: EventService) -> Console | None:
    """Mount the console on ``hub serve``'s app, after the webhook, health and metrics routes.

    Returns None when ``HUB_CONSOLE__ENABLED`` is false. A missing master key
    (``HUB_SECRET_KEY`` with PostgreSQL) is a configuration error now, not at the
    first sign-in.
    """
    hub = service.runtime.hub
    if not hub.settings.console.enabled:
        return None
    console = Console(hub, events=service.runtime.events, process_events=service.wake)
    mount(service.app, console)
    return console


def mount(receiver: Starlette, console: Console) -> None:
    """Serve ``console`` at ``/`` on ``receiver``: its own routes keep matching first.

    A receiver path asked with another method (``GET /webhooks/autotask``) still gets
    the receiver's 405, as before the console existed, not a console page.
    """
    own = list(receiver.router.routes)
    app = create_console(console)

    async def console_app(scope: Scope, receive: Receive, send: Send) -> None:
        for route in own:
            if isinstance(route, Route) and route.matches(scope)[0] is not Match.NONE:
                allow = ", ".join(sorted(route.methods or ()))
                response = PlainTextResponse("Method Not Allowed", status_code=405, headers={"Allow": allow})
                await response(scope, receive, send)
                return
        await app(scope, receive, send)

    receiver.router.routes.append(Mount("/", app=console_app))

