"""Who really receives invoices: the report, and the workflow actions on top of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.report import build_report
from connectors.quickbooks.simulator import QuickBooksSimulator
from hub.sdk import ActionContext, MemoryKeyValueStore


def ctx() -> ActionContext:
    return ActionContext(
        run_id="run-1", step_id="step-1", documents_root=Path("."), state=MemoryKeyValueStore()
    )


def test_report_finds_where_invoices_go_elsewhere(qb: QuickBooksConnector, sim: QuickBooksSimulator) -> None:
    sim.data.customers[11]["PrimaryEmailAddr"] = {"Address": "ap@eleven.example.com,cfo@eleven.example.com"}
    for invoice in [i for i in sim.data.invoices.values() if i["CustomerRef"]["value"] == "11"]:
        invoice["TxnDate"] = "2000-01-01"  # seeded invoices are out of the picture
    sim.add_invoice("11", "old-ap@eleven.example.com", cc="AP@eleven.example.com", days_ago=3)
    sim.add_invoice("11", None, email_status="NotSet", days_ago=200)  # older than the report looks
    (check,) = qb.invoice_recipient_report("11")
    assert check.customer_addresses == ["ap@eleven.example.com", "cfo@eleven.example.com"]
    assert check.invoice_addresses == ["old-ap@eleven.example.com", "AP@eleven.example.com"]
    assert check.only_on_invoices == ["old-ap@eleven.example.com"]
    assert check.not_on_invoices == ["cfo@eleven.example.com"]
    assert check.differs and check.has_recipient
    assert [i["EmailStatus"] for i in check.invoices] == ["EmailSent"]


def test_report_over_all_customers(qb: QuickBooksConnector, sim: QuickBooksSimulator) -> None:
    checks = qb.invoice_recipient_report()
    assert len(checks) == sim.count("customers")
    assert any(c.differs for c in checks) and any(not c.differs for c in checks)


def test_report_logic_without_invoices() -> None:
    (check,) = build_report([{"Id": "1", "DisplayName": "A", "PrimaryEmailAddr": {"Address": ""}}], [])
    assert not check.has_recipient and not check.differs and check.as_dict()["invoices"] == []


def test_check_action_by_display_name(qb: QuickBooksConnector, sim: QuickBooksSimulator) -> None:
    name = sim.customer("12")["DisplayName"]
    out = qb.action("check_invoice_recipients").run(
        qb.action("check_invoice_recipients").params(display_name=name), ctx()
    )
    assert out["customer_id"] == "12" and out["display_name"] == name


def test_check_action_needs_exactly_one_key(qb: QuickBooksConnector) -> None:
    params = qb.action("check_invoice_recipients").params
    with pytest.raises(ValueError, match="exactly one"):
        params()
    with pytest.raises(ValueError, match="exactly one"):
        params(customer_id="1", display_name="x")


def test_ensure_recipient_is_idempotent(qb: QuickBooksConnector, sim: QuickBooksSimulator) -> None:
    sim.data.customers[13]["PrimaryEmailAddr"] = {"Address": "ap@thirteen.example.com"}
    ensure = qb.action("ensure_invoice_recipient")
    params = ensure.params(customer_id="13", email="owner@thirteen.example.com")
    first = ensure.run(params, ctx())
    token = sim.customer("13")["SyncToken"]
    again = ensure.run(params, ctx())
    assert first["added"] is True and again["added"] is False
    assert again["addresses"] == ["ap@thirteen.example.com", "owner@thirteen.example.com"]
    assert sim.customer("13")["SyncToken"] == token
