"""``hub report uncovered-devices``: rules over the synced records that a person acts on."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hub.cli.common import app, emit_json, get_hub, stdout
from hub.reports import uncovered_devices

report_app = typer.Typer(help="Reports over the synced records; exit 1 when something needs a person.",
                         no_args_is_help=True)  # fmt: skip


@report_app.command("uncovered-devices")
def uncovered(json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False) -> None:
    """Managed-services devices that no active recurring-service contract covers; exit 1 if any."""
    hub = get_hub()
    rows = [row.as_dict() for row in uncovered_devices(hub)]  # the PSA and RMM roles (HUB_ROLES__PSA, __RMM)
    if json:
        emit_json(rows)
    elif not rows:
        stdout.print("every managed-services device is covered by a recurring-service contract")
    else:
        table = Table(title=f"{len(rows)} managed-services devices without a recurring-service contract")
        for col in ("company", "device", "serial", "RMM device", "reason"):
            table.add_column(col)
        for r in rows:
            cells = (r["company_name"] or r["company"], f"{r['name']} ({r['configuration_item']})",
                     r["serial_number"], r["rmm_device"], r["reason"])  # fmt: skip
            table.add_row(*(escape(str(c or "")) for c in cells))
        stdout.print(table)
    if rows:
        raise typer.Exit(1)


def register() -> None:
    app.add_typer(report_app, name="report")
