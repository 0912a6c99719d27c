"""`hub sync accounting-recipients` against the QuickBooks and Autotask simulators.

QuickBooks customers' invoice recipients (PrimaryEmailAddr addresses) and the
"Invoice Recipient" role of Autotask contacts are merged both ways against the set of
the last sync: additions and removals on either side reach the other.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.sandbox import SandboxSet
from hub.sync.recipients import merge
from tests.core.fakes import run_cli
from tests.jobs.helpers import (
    add_company,
    add_contact,
    audit_rows,
    autotask_sim,
    invoice_role,
    set_invoice_role,
    sync,
)

pytestmark = pytest.mark.sandboxes(autotask={"size": 2, "seed": 3}, quickbooks={"size": 4, "seed": 2})

JOB = "accounting-recipients"


def listed(qb: Any, cid: int) -> list[str]:
    value = qb.customer(str(cid)).get("PrimaryEmailAddr", {}).get("Address") or ""
    return [a for a in value.split(",") if a]


def edit_in_quickbooks(qb: Any, cid: int, addresses: list[str]) -> None:
    """Someone edits the customer's e-mail field in QuickBooks (new SyncToken, new change time)."""
    with qb._lock:
        record = qb.data.customers[cid]
        record["PrimaryEmailAddr"] = {"Address": ",".join(addresses)}
        qb.data.touched("Customer", record, qb.clock.now())


def customer(qb: Any, cid: int) -> tuple[str, list[str]]:
    return qb.data.customers[cid]["DisplayName"], listed(qb, cid)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, summary = sync(capsys, JOB, *args)
    assert code == 0 and summary["status"] == "ok", summary
    return summary


def test_changes_on_either_side_propagate_and_removals_are_removed_on_the_other(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, qb = autotask_sim(sandboxes), sandboxes.control("quickbooks")
    name, (accounts, *_) = customer(qb, 1)
    # the PSA spells the name differently: case, spacing, punctuation
    company = add_company(sim, "  " + name.upper().replace(" ", "  ") + "!")
    same_person = add_contact(sim, company, accounts.upper())  # listed in QuickBooks, no role yet
    bookkeeper = add_contact(sim, company, "books@psa-side.example.com", invoice_recipient=True)
    office = add_contact(sim, company, "office@psa-side.example.com")
    edit_in_quickbooks(qb, 1, [accounts])

    first = run(capsys)
    assert listed(qb, 1) == [accounts, "books@psa-side.example.com"]
    assert invoice_role(sim, same_person) and invoice_role(sim, bookkeeper) and not invoice_role(sim, office)
    assert first["updated"] == 2  # the QuickBooks customer and one contact
    assert run(capsys)["updated"] == 0, "a second run writes nothing"

    # added in QuickBooks -> the contact with that address gets the role
    edit_in_quickbooks(qb, 1, [*listed(qb, 1), "office@psa-side.example.com"])
    run(capsys)
    assert invoice_role(sim, office)

    # removed in Autotask (role cleared) -> removed from QuickBooks
    set_invoice_role(sim, company, bookkeeper, False)
    run(capsys)
    assert listed(qb, 1) == [accounts, "office@psa-side.example.com"]

    # removed in QuickBooks -> the role is cleared in Autotask
    edit_in_quickbooks(qb, 1, ["office@psa-side.example.com"])
    run(capsys)
    assert not invoice_role(sim, same_person) and invoice_role(sim, office)

    # an address with no Autotask contact is reported, never invented, and kept in QuickBooks
    edit_in_quickbooks(qb, 1, ["office@psa-side.example.com", "stranger@elsewhere.example.com"])
    for _ in range(2):
        summary = run(capsys)
        assert any("stranger@elsewhere.example.com has no active autotask contact" in r for r in summary["reports"])
        assert listed(qb, 1) == ["office@psa-side.example.com", "stranger@elsewhere.example.com"]
    assert not [c for c in sim.tables["Contacts"].records.values() if c["emailAddress"].startswith("stranger")]

    _, out, _ = run_cli(["deadletters", "--json"], capsys)
    assert json.loads(out) == []
    written = {(r["system"], r["entity"], r["record_id"]) for r in audit_rows(JOB)}
    assert {("quickbooks", "Customer", "1"), ("autotask", "Contacts", str(same_person))} <= written


def test_a_customer_with_no_invoice_recipient_is_reported(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, qb = autotask_sim(sandboxes), sandboxes.control("quickbooks")
    name, _ = customer(qb, 2)
    company = add_company(sim, name)
    add_contact(sim, company, "nobody-bills@example.com")
    edit_in_quickbooks(qb, 2, [])
    summary = run(capsys)
    assert any(f"customer 2 ({name}) has no invoice recipient" in r for r in summary["reports"])
    # customers without a PSA company are reported by the link step
    assert any("customers 3" in r and "create or link it there" in r for r in summary["reports"])


def test_more_than_quickbooks_100_characters_is_dead_lettered_and_nothing_is_written(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, qb = autotask_sim(sandboxes), sandboxes.control("quickbooks")
    name, before = customer(qb, 3)
    company = add_company(sim, name)
    long_ones = [add_contact(sim, company, f"{n}-accounts-payable@very-long-domain.example.com",
                             invoice_recipient=True) for n in ("first", "second")]  # fmt: skip
    code, summary = sync(capsys, JOB)
    assert (code, summary["status"], summary["failed"]) == (1, "partial", 1)
    assert listed(qb, 3) == before
    assert all(invoice_role(sim, c) for c in long_ones)
    code, out, _ = run_cli(["deadletters", "--json"], capsys)
    letters = json.loads(out)
    assert [(d["job"], d["system"], d["record_id"]) for d in letters] == [(JOB, "quickbooks", "3")]
    assert "at most 100" in letters[0]["error"]

    # a person shortens the lists on both sides: the next run resolves the dead letter
    set_invoice_role(sim, company, long_ones[1], False)
    edit_in_quickbooks(qb, 3, before[:1])
    run(capsys)
    assert listed(qb, 3) == [*before[:1], "first-accounts-payable@very-long-domain.example.com"]
    code, out, _ = run_cli(["deadletters", "--json"], capsys)
    assert json.loads(out) == []


def test_dry_run_plans_the_writes_and_changes_nothing(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, qb = autotask_sim(sandboxes), sandboxes.control("quickbooks")
    name, before = customer(qb, 4)
    company = add_company(sim, name)
    contact = add_contact(sim, company, "books@psa-side.example.com", invoice_recipient=True)
    plan = run(capsys, "--dry-run")
    updates = [e for e in plan["plan"] if e["action"] == "update"]
    assert [(e["system"], e["after"]) for e in updates] == [
        ("quickbooks", {"invoice_recipients": [*before, "books@psa-side.example.com"]})]  # fmt: skip
    assert listed(qb, 4) == before and invoice_role(sim, contact)
    assert run(capsys)["updated"] == plan["updated"]


@pytest.mark.parametrize(
    ("base", "accounting", "psa", "expected"),
    [
        (set(), {"a"}, {"b"}, {"a", "b"}),  # first sync: the union
        ({"a", "b"}, {"a"}, {"a", "b"}, {"a"}),  # removed in accounting
        ({"a", "b"}, {"a", "b"}, {"a"}, {"a"}),  # removed in the PSA
        ({"a"}, {"a", "c"}, {"a", "d"}, {"a", "c", "d"}),  # added on both sides
        ({"a", "b"}, {"b"}, {"c"}, {"c"}),  # a removed in accounting, b in the PSA, c added
    ],
)
def test_merge(base: set[str], accounting: set[str], psa: set[str], expected: set[str]) -> None:
    assert merge(base, accounting, psa, psa_known=base | accounting | psa) == expected


def test_an_address_the_psa_cannot_hold_is_not_a_psa_removal() -> None:
    assert merge({"a", "x"}, {"a", "x"}, {"a"}, psa_known={"a"}) == {"a", "x"}
