"""Running the compliance rules once, and showing the result (rich table or JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hub.compliance.rules import RULES, Violation, evaluate
from hub.compliance.sources import Snapshot, Sources, read_snapshot
from hub.compliance.tickets import TicketOpener, TicketOutcome

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["ComplianceResult", "render", "run_compliance"]


@dataclass
class ComplianceResult:
    customers: int
    violations: list[Violation]
    #: rules that could not be evaluated, with the reason
    not_checked: dict[str, str] = field(default_factory=dict)
    tickets: list[TicketOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations and not self.not_checked

    def as_dict(self) -> dict[str, Any]:
        counts = {rule.id: 0 for rule in RULES}
        for v in self.violations:
            counts[v.rule] += 1
        return {
            "status": "ok" if self.ok else "violations",
            "customers": self.customers,
            "counts": counts,
            "not_checked": self.not_checked,
            "violations": [v.as_dict() for v in self.violations],
            "tickets": [t.as_dict() for t in self.tickets],
        }


def _not_checked(snap: Snapshot) -> dict[str, str]:
    return {"invoice-contact": snap.accounting_error} if snap.accounting_error else {}


def run_compliance(
    hub: Hub, *, open_tickets: bool = False, sources: Sources | None = None, documents_root: Path | None = None
) -> ComplianceResult:
    """Read the vendors, evaluate every rule, and open tickets for violations if asked."""
    snap = read_snapshot(hub, sources)
    violations = evaluate(snap, Path(documents_root or hub.settings.documents_root))
    result = ComplianceResult(len(snap.customers), violations, _not_checked(snap))
    if open_tickets and violations:
        result.tickets = TicketOpener(hub, sources).open(violations)
    return result


def render(result: ComplianceResult, console: Console, limit: int | None = None) -> None:
    """The violations as a table (the first ``limit``), then one line per rule not checked."""
    tickets = {t.key: t for t in result.tickets}
    if result.violations:
        table = Table(title=f"{len(result.violations)} violations over {result.customers} customers")
        table.add_column("rule", style="bold")
        table.add_column("customer")
        table.add_column("problem")
        if tickets:
            table.add_column("ticket")
        shown = result.violations if limit is None else result.violations[:limit]
        for v in shown:
            row = [v.rule, escape(f"{v.organization} ({v.organization_id})"), escape(v.message)]
            if tickets:
                t = tickets.get(v.key)
                row.append("" if t is None else f"{t.ticket_id} ({'opened' if t.opened else 'already open'})")
            table.add_row(*row)
        console.print(table)
        if len(shown) < len(result.violations):
            console.print(f"... and {len(result.violations) - len(shown)} more (hub compliance lists them all)")
    else:
        console.print(f"[green]no violations[/green] over {result.customers} customers")
    for rule, why in result.not_checked.items():
        console.print(f"[yellow]not checked[/yellow] {rule}: {escape(why)}")
