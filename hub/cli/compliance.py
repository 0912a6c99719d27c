"""``hub compliance [--json] [--open-tickets]``: cross-system rules over every customer.

Exit 0 when every rule holds, 1 when there is a violation (or a rule could not be
checked because its system could not be read), 2 for a configuration error.
"""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.common import app, emit_json, get_hub, stdout
from hub.compliance.report import render, run_compliance


def compliance(
    json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    open_tickets: Annotated[
        bool, typer.Option("--open-tickets", help="Open one PSA ticket per violation (never two for the same one).")
    ] = False,
) -> None:
    """Check every customer: report recipients, invoice contacts, primary contact, client folder, device contracts."""
    result = run_compliance(get_hub(), open_tickets=open_tickets)
    if json:
        emit_json(result.as_dict())
    else:
        render(result, stdout)
    if not result.ok:
        raise typer.Exit(1)


def register() -> None:
    app.command("compliance")(compliance)
