"""The highest invoice number in QuickBooks, read through the query API (for another system's numbering)."""

from __future__ import annotations

from pathlib import Path

from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.simulator import QuickBooksSimulator
from hub.sdk import ActionContext, MemoryKeyValueStore

CTX = ActionContext(run_id="run", step_id="numbers", documents_root=Path("."), state=MemoryKeyValueStore())


def test_every_invoice_is_read_and_the_largest_number_wins(
    qb: QuickBooksConnector, sim: QuickBooksSimulator
) -> None:
    invoices = list(sim.data.invoices.values())
    invoices[0]["DocNumber"] = "INV-99999"  # numbers by value, not as text: "999" < "1042"
    invoices[1]["DocNumber"] = "no number"
    action = qb.action("highest_invoice_number")
    found = action.run(action.params(), CTX)
    assert found == {"highest_number": 99999, "doc_number": "INV-99999", "invoices": len(invoices)}
    statements = [r["params"].get("query") for r in sim.requests if r["path"].endswith("/query")]
    assert statements and all(str(s).startswith("SELECT * FROM Invoice ORDERBY Id STARTPOSITION") for s in statements)


def test_a_company_without_invoices_has_number_zero(qb: QuickBooksConnector, sim: QuickBooksSimulator) -> None:
    sim.data.invoices.clear()
    sim.data.version["Invoice"] += 1
    action = qb.action("highest_invoice_number")
    assert action.run(action.params(), CTX) == {"highest_number": 0, "doc_number": None, "invoices": 0}
