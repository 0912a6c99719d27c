"""``hub users add|list|remove|passwd``: the people who may use the web console.

Passwords are asked for twice on the terminal (never echoed), or read from the first
line of standard input with ``--password-stdin`` for scripts. Each change is audited
as the person running the command (``user:<login name>``), like the CLI's confirmations.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.table import Table

from hub.cli.common import app, emit_json, get_hub, stdout
from hub.errors import ConfigError
from hub.web.accounts import AccountStore, Role, check_password, parse_role

users_app = typer.Typer(help="The people who may use the web console (hub serve).", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
StdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
]
NameArg = Annotated[str, typer.Argument(help="the name the person signs in with")]


def person() -> str:
    """Who runs this command, as the audit log names people."""
    try:
        return f"user:{getpass.getuser()}"
    except (KeyError, OSError):
        return "user:unknown"


def _accounts() -> AccountStore:
    return AccountStore(get_hub().store)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise ConfigError("--password-stdin: standard input is empty")
        return check_password(line.rstrip("\r\n"))
    if not sys.stdin.isatty():
        raise ConfigError("no terminal to ask for the password on; pipe it in with --password-stdin")
    first = getpass.getpass("Password: ")
    check_password(first)
    if getpass.getpass("Password again: ") != first:
        raise ConfigError("the two passwords differ")
    return first


def add(
    name: NameArg,
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin")],
    password_stdin: StdinOpt = False,
) -> None:
    """Add a person who may sign in to the console, with a role and a password."""
    parsed = parse_role(role)
    accounts = _accounts()
    if accounts.get(name) is not None:
        raise ConfigError(f"user {name!r} already exists (hub users passwd {name} changes the password)")
    account = accounts.add(name, parsed, _password(password_stdin), actor=person())
    stdout.print(f"added {account.name} ({account.role.value})", highlight=False, markup=False)


def list_users(json: JsonOpt = False) -> None:
    """The people who may sign in to the console, and their roles."""
    rows = [a.as_dict() for a in _accounts().list()]
    if json:
        emit_json(rows)
        return
    if not rows:
        stdout.print("no users yet; add one with: hub users add NAME --role admin", highlight=False, markup=False)
        return
    table = Table(title="console users")
    for col in ("name", "role", "added", "changed"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["name"], row["role"], row["created_at"][:16], row["updated_at"][:16])
    stdout.print(table)


def remove(name: NameArg) -> None:
    """Remove a person; their sessions end at once."""
    _accounts().remove(name, actor=person())
    stdout.print(f"removed {name}", highlight=False, markup=False)


def passwd(name: NameArg, password_stdin: StdinOpt = False) -> None:
    """Set a new password for a person; their sessions end at once."""
    accounts = _accounts()
    if accounts.get(name) is None:
        raise ConfigError(f"no user {name!r} (see hub users list)")
    accounts.set_password(name, _password(password_stdin), actor=person())
    stdout.print(f"password of {name} changed; their sessions ended", highlight=False, markup=False)


def register() -> None:
    users_app.command("add")(add)
    users_app.command("list")(list_users)
    users_app.command("remove")(remove)
    users_app.command("passwd")(passwd)
    app.add_typer(users_app, name="users")


__all__ = ["Role", "person", "register"]
