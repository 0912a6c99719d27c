"""Signing in and out.

The sign-in form carries a CSRF token bound to a nonce in its own cookie, so a page
elsewhere cannot sign a browser in as someone else. Attempts are counted per name and
per address (:class:`hub.web.accounts.LoginLimiter`); a blocked attempt gets the same
answer whether or not the password was right, and every answer takes as long as
checking a password does.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.logging import get_logger
from hub.web.accounts import Role
from hub.web.app import Console, Ctx, action

__all__ = ["routes"]

log = get_logger("hub.web")


def _next(value: str | None) -> str:
    """Where to go after signing in: a path of this console, never another site."""
    if not value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def routes(console: Console) -> list[Route]:
    def form(request: Request, status: int = 200, error: str | None = None, name: str = "") -> Response:
        nonce, cookie = console.sessions.login_nonce(request)
        response = console.render(
            None,
            request,
            "login.html",
            status=status,
            csrf=console.sessions.csrf_for(nonce),
            error=error,
            username=name,
            next=_next(request.query_params.get("next")),
            no_users=console.accounts.count() == 0,
        )
        if cookie is not None:
            console.sessions.set_login_cookie(response, request, cookie)
        return response

    async def login_page(request: Request) -> Response:
        return await run_in_threadpool(form, request)

    async def login(request: Request) -> Response:
        async with request.form() as data:
            fields = {k: v for k, v in data.items() if isinstance(v, str)}
        if not console.sessions.login_csrf_ok(request, fields.get("csrf_token")):
            return await run_in_threadpool(
                form, request, 403, "The sign-in form had expired; please sign in again."
            )
        return await run_in_threadpool(_sign_in, request, fields)

    def _sign_in(request: Request, fields: dict[str, str]) -> Response:
        name = fields.get("username", "").strip()
        password = fields.get("password", "")
        address = console.sessions.client_address(request)
        now = console.hub.clock.now()
        if console.limiter.blocked(name, address, now):
            console.accounts.verify(name, password)  # the same time as any other answer
            log.warning("console sign-in blocked: too many failures", user=_known(name), address=address)
            minutes = int(console.limiter.window.total_seconds() // 60)
            return form(request, 429, f"Too many failed sign-ins; try again in {minutes} minutes.", name)
        account = console.accounts.verify(name, password) if name and password else None
        if account is None:
            console.limiter.failed(name, address, now)
            log.warning("console sign-in refused", user=_known(name), address=address)
            return form(request, 401, "Wrong name or password.", name)
        console.limiter.succeeded(name)
        response = console.redirect(request, _next(fields.get("next")))
        console.sessions.sign_in(response, request, account)
        with console.hub.store.transaction() as conn:
            console.hub.store.audit(
                conn, actor=f"user:{account.name}", system="console", entity="session",
                operation="signed_in", record_id=account.name, after={"address": address},
            )  # fmt: skip
        return response

    def _known(name: str) -> str:
        """A name for the log only if it is a person's: a password typed into the name field stays out."""
        return name if console.accounts.get(name) is not None else "(unknown name)"

    def logout(ctx: Ctx) -> Response:
        response = console.redirect(ctx.request, "/login", "Signed out.")
        console.sessions.sign_out(response)
        console.audit(ctx, "signed_out", entity="session", record_id=ctx.principal.name)
        return response

    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", action(console, logout, Role.viewer), methods=["POST"]),
    ]
