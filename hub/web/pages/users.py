"""Users (admins only): add a person, change a role, set a password, end sessions, remove.

The same :class:`hub.web.accounts.AccountStore` as ``hub users``; each change is
audited as the admin who made it.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from hub.errors import ConfigError
from hub.web.accounts import Role, parse_role
from hub.web.app import Console, Ctx, action, page

__all__ = ["routes"]


def routes(console: Console) -> list[Route]:
    accounts = console.accounts

    def index(ctx: Ctx) -> Response:
        return console.render(ctx, ctx.request, "users.html", users=accounts.list(), roles=[r.value for r in Role])

    def add(ctx: Ctx) -> Response:
        name = ctx.form.get("name", "").strip()
        password = ctx.form.get("password", "")
        if password != ctx.form.get("password_again", ""):
            raise ConfigError("the two passwords differ")
        accounts.add(name, parse_role(ctx.form.get("role", "")), password, actor=ctx.principal.actor)
        return console.redirect(ctx.request, "/users", f"{name} added")

    def change(ctx: Ctx) -> Response:
        name = ctx.param("name")
        what = ctx.param("what")
        actor = ctx.principal.actor
        if what == "role":
            accounts.set_role(name, parse_role(ctx.form.get("role", "")), actor=actor)
            message = f"{name} is now {ctx.form.get('role')}"
        elif what == "password":
            if ctx.form.get("password", "") != ctx.form.get("password_again", ""):
                raise ConfigError("the two passwords differ")
            accounts.set_password(name, ctx.form.get("password", ""), actor=actor)
            message = f"{name}'s password changed; their sessions ended"
        elif what == "sign-out":
            accounts.end_sessions(name, actor=actor)
            message = f"{name} signed out everywhere"
        elif what == "remove":
            accounts.remove(name, actor=actor)
            message = f"{name} removed"
        else:
            raise ConfigError(f"unknown change {what!r}")
        return console.redirect(ctx.request, "/users", message)

    return [
        Route("/users", page(console, index, Role.admin)),
        Route("/users", action(console, add, Role.admin), methods=["POST"]),
        Route("/users/{name}/{what}", action(console, change, Role.admin), methods=["POST"]),
    ]
