"""Writes against the simulator: sparse updates with SyncToken, stale tokens, recipients."""

from __future__ import annotations

import pytest

from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.simulator import QuickBooksSimulator
from hub.sdk import ConflictError, NotFoundError, RecordRejected, VendorError


def test_create_then_read_back(qb: QuickBooksConnector) -> None:
    result = qb.create(
        "Customer",
        {
            "DisplayName": "Harbor Dental Group",
            "CompanyName": "Harbor Dental",
            "PrimaryEmailAddr": {"Address": "ap@harbor.example.com; office@harbor.example.com"},
        },
    )
    read = qb.get("Customer", result.id)
    assert read["DisplayName"] == "Harbor Dental Group" and read["Active"] is True
    assert read["PrimaryEmailAddr"] == {"Address": "ap@harbor.example.com,office@harbor.example.com"}
    assert read["SyncToken"] == "0"


def test_update_is_sparse_and_changes_only_the_given_fields(
    qb: QuickBooksConnector, sim: QuickBooksSimulator
) -> None:
    before = sim.customer("5")
    result = qb.update("Customer", "5", {"CompanyName": "Renamed Ltd"})
    after = sim.customer("5")
    assert after["CompanyName"] == "Renamed Ltd"
    assert int(after["SyncToken"]) == int(before["SyncToken"]) + 1
    unchanged = {k: v for k, v in before.items() if k not in ("CompanyName", "SyncToken", "MetaData")}
    assert {k: after[k] for k in unchanged} == unchanged
    assert result.record is not None and result.record["CompanyName"] == "Renamed Ltd"
    body_sent = [r for r in sim.requests if r["method"] == "POST" and r["path"].endswith("/customer")]
    assert body_sent and body_sent[-1]["params"]["minorversion"] == "75"


def test_deactivate_sets_active_false_once(qb: QuickBooksConnector, sim: QuickBooksSimulator) -> None:
    qb.deactivate("Customer", "6")
    token = sim.customer("6")["SyncToken"]
    assert sim.customer("6")["Active"] is False
    qb.deactivate("Customer", "6")  # already inactive: nothing sent
    assert sim.customer("6")["SyncToken"] == token


def test_customer_bill_email_is_refused_by_the_connector_and_by_quickbooks(qb: QuickBooksConnector) -> None:
    with pytest.raises(RecordRejected, match="customers have no BillEmail"):
        qb.update("Customer", "5", {"BillEmail": {"Address": "ap@x.example.com"}})
    current = qb.get("Customer", "5")
    with pytest.raises(VendorError, match="BillEmail") as err:
        qb.api.write(
            "Customer",
            {
                "Id": "5",
                "SyncToken": current["SyncToken"],
                "sparse": True,
                "BillEmail": {"Address": "ap@x.example.com"},
            },
        )
    assert "code 2010" in str(err.value)


def test_recipient_list_longer_than_100_characters_is_refused(qb: QuickBooksConnector) -> None:
    many = ",".join(f"recipient{i}@long-domain-name.example.com" for i in range(4))
    with pytest.raises(RecordRejected, match="at most 100"):
        qb.update("Customer", "5", {"PrimaryEmailAddr": {"Address": many}})
    current = qb.get("Customer", "5")
    with pytest.raises(VendorError, match="Max:100"):
        qb.api.write(
            "Customer",
            {
                "Id": "5",
                "SyncToken": current["SyncToken"],
                "sparse": True,
                "PrimaryEmailAddr": {"Address": many},
            },
        )


def test_duplicate_name_shows_intuits_message(qb: QuickBooksConnector, sim: QuickBooksSimulator) -> None:
    taken = sim.customer("2")["DisplayName"]
    with pytest.raises(VendorError, match="Another customer is already using this name"):
        qb.create("Customer", {"DisplayName": taken.upper()})


def test_fault_inside_http_200_is_an_error(qb: QuickBooksConnector, sim: QuickBooksSimulator) -> None:
    qb.check()
    sim.fault_next(
        "6000",
        "A business validation error has occurred while processing your request",
        "Business Validation Error: simulated",
    )
    with pytest.raises(VendorError, match="Business Validation Error: simulated"):
        qb.get("Customer", "2")


def test_stale_sync_token_reapplies_when_hub_fields_did_not_move(
    qb: QuickBooksConnector, sim: QuickBooksSimulator
) -> None:
    sim.edit_before_next_update("7", {"Notes": "called about the invoice"})
    qb.update("Customer", "7", {"CompanyName": "Seven Co"})
    after = sim.customer("7")
    assert after["CompanyName"] == "Seven Co" and after["Notes"] == "called about the invoice"
    posts = [r for r in sim.requests if r["method"] == "POST" and r["path"].endswith("/customer")]
    assert len(posts) == 2  # the stale attempt and the re-applied one


def test_stale_sync_token_is_a_conflict_when_a_hub_field_moved(
    qb: QuickBooksConnector, sim: QuickBooksSimulator
) -> None:
    sim.edit_before_next_update("7", {"PrimaryEmailAddr": {"Address": "new-ap@seven.example.com"}})
    with pytest.raises(ConflictError, match="PrimaryEmailAddr") as err:
        qb.update("Customer", "7", {"CompanyName": "Seven Co"})
    assert "was changed by someone else" in str(err.value)
    assert sim.customer("7")["CompanyName"] != "Seven Co"
    assert sim.customer("7")["PrimaryEmailAddr"] == {"Address": "new-ap@seven.example.com"}


def test_invoice_recipients_are_added_changed_and_removed(
    qb: QuickBooksConnector, sim: QuickBooksSimulator
) -> None:
    sim.data.customers[8]["PrimaryEmailAddr"] = {"Address": "ap@eight.example.com"}
    added = qb.create("InvoiceRecipient", {"CustomerRef": {"value": 8}, "Address": "CFO@eight.example.com"})
    assert added.id == "8:cfo@eight.example.com"
    assert sim.customer("8")["PrimaryEmailAddr"]["Address"] == "ap@eight.example.com,CFO@eight.example.com"
    token = sim.customer("8")["SyncToken"]
    qb.create("InvoiceRecipient", {"CustomerRef": {"value": "8"}, "Address": "cfo@EIGHT.example.com"})
    assert sim.customer("8")["SyncToken"] == token  # already listed: idempotent
    assert qb.get("InvoiceRecipient", added.id)["Address"] == "CFO@eight.example.com"

    changed = qb.update("InvoiceRecipient", added.id, {"Address": "controller@eight.example.com"})
    assert changed.id == "8:controller@eight.example.com"
    assert (
        sim.customer("8")["PrimaryEmailAddr"]["Address"]
        == "ap@eight.example.com,controller@eight.example.com"
    )

    qb.deactivate("InvoiceRecipient", "8:ap@eight.example.com")
    assert sim.customer("8")["PrimaryEmailAddr"]["Address"] == "controller@eight.example.com"
    with pytest.raises(NotFoundError, match="does not list"):
        qb.get("InvoiceRecipient", "8:ap@eight.example.com")


def test_invoice_recipient_moves_to_another_customer(
    qb: QuickBooksConnector, sim: QuickBooksSimulator
) -> None:
    sim.data.customers[9]["PrimaryEmailAddr"] = {"Address": "ap@nine.example.com,shared@nine.example.com"}
    sim.data.customers[10]["PrimaryEmailAddr"] = {"Address": "ap@ten.example.com"}
    moved = qb.update("InvoiceRecipient", "9:shared@nine.example.com", {"CustomerRef": {"value": "10"}})
    assert moved.id == "10:shared@nine.example.com"
    assert sim.customer("9")["PrimaryEmailAddr"]["Address"] == "ap@nine.example.com"
    assert sim.customer("10")["PrimaryEmailAddr"]["Address"] == "ap@ten.example.com,shared@nine.example.com"


def test_bad_writes_are_refused_clearly(qb: QuickBooksConnector) -> None:
    from hub.sdk import ConfigError

    with pytest.raises(ConfigError, match="cannot create Invoice"):
        qb.create("Invoice", {})
    with pytest.raises(RecordRejected, match=r"CustomerRef\.value and Address"):
        qb.create("InvoiceRecipient", {"Address": "a@b.example.com"})
    with pytest.raises(RecordRejected, match="not a QuickBooks invoice recipient id"):
        qb.deactivate("InvoiceRecipient", "nonsense")
    with pytest.raises(RecordRejected, match="not an e-mail address"):
        qb.create("InvoiceRecipient", {"CustomerRef": {"value": "3"}, "Address": "not-an-address"})
    with pytest.raises(NotFoundError, match="Object Not Found"):
        qb.get("Customer", "99999")
