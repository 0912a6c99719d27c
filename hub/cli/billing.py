"""``hub report acronis-billing``: clients the billing system would leave unbilled, and what is at stake."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hub.cli.common import emit_json, get_hub, stdout
from hub.cli.report import report_app
from hub.reports.billing import billing_gaps

LABELS = {
    "no_billing_information": "no billing information",
    "services_without_contract": "services, no contract",
    "quantity_differs_from_usage": "quantity differs from usage",
}


def acronis_billing(json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False) -> None:
    """Clients without billing information, with services but no contract, or billed for other
    quantities than they use, with the monthly amount at stake; exit 1 if any."""
    report = billing_gaps(get_hub())
    if json:
        emit_json(report.as_dict())
    elif not report.gaps:
        stdout.print(f"{report.connector}: every client has billing information and is billed for what it uses")
    else:
        table = Table(title=f"{len(report.gaps)} billing gaps in {report.connector}")
        for col in ("client", "gap", "detail", "monthly amount"):
            table.add_column(col, justify="right" if col == "monthly amount" else "left")
        for gap in report.gaps:
            cells = (gap.client, LABELS.get(gap.kind, gap.kind), gap.detail, f"{gap.monthly_amount:,.2f}")
            table.add_row(*(escape(c) for c in cells))
        stdout.print(table)
        stdout.print(f"at stake a month: {report.monthly_amount:,.2f}", markup=False, highlight=False)
        stdout.print(
            "onboard a client: hub workflow start onboard-existing-client-billing-acronis --set tenant=<tenant_id> "
            "--set contract_start=YYYY-MM-DD (tenant ids: --json)",
            markup=False,
            highlight=False,
        )
    if report.gaps:
        raise typer.Exit(1)


def register() -> None:
    report_app.command("acronis-billing")(acronis_billing)
