"""`hub compliance` over a PSA whose customers break each rule in a known way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.app import Hub
from hub.compliance import Sources, TicketOpener, Violation, evaluate, read_snapshot
from hub.compliance.tickets import external_key
from hub.folders import client_folder
from hub.sandbox import SandboxSet
from hub.settings import load_settings
from tests.core.fakes import run_cli

from .support import MS, R0, Crash, Psa

pytestmark = pytest.mark.sandboxes(autotask={"size": 0}, quickbooks={"size": 0})


@pytest.fixture
def psa(hub: Hub) -> dict[str, str]:
    """Good (managed, all fine), Messy (managed, everything wrong), Home (break/fix), a prospect."""
    p = Psa(hub)
    good = p.company("Good Dental, LLC", MS)
    p.contact(good, "Gina", primary=True, reports=True)
    good_contract = p.contract(good, "Good Dental - Managed Services")
    p.device(good, "GOOD-WS-01", good_contract)
    messy = p.company("Messy: Legal / East", MS)
    p.contact(messy, "Max", primary=True)
    p.contact(messy, "Mia", primary=True)
    p.device(messy, "MESSY-WS-01")
    p.device(messy, "MESSY-WS-02", good_contract)
    old = p.contract(messy, "Messy - old", active=False)
    p.device(messy, "MESSY-SRV-01", old)
    home = p.company("Home of Ann", R0)
    p.device(home, "ANN-LAPTOP")  # break/fix: no contract needed
    p.company("Prospect Co", MS, company_type=3)
    books = hub.connector("quickbooks")
    # matched by normalized name ("Good Dental, LLC" ~ "GOOD DENTAL"), with an invoice address
    books.create("Customer", {"DisplayName": "GOOD DENTAL", "PrimaryEmailAddr": {"Address": "ap@gooddental.example"}})
    # same name exactly, but nobody receives the invoices
    books.create("Customer", {"DisplayName": "Messy: Legal / East"})
    root = Path(load_settings().documents_root)
    client_folder(root, "Good Dental, LLC")
    client_folder(root, "Messy: Legal / East")
    return {"good": good, "messy": messy, "home": home}


def by_rule(violations: list[Violation]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for v in violations:
        out.setdefault(v.rule, []).append((v.organization, v.message))
    return out


def test_every_rule_finds_what_it_should(hub: Hub, psa: dict[str, str]) -> None:
    snap = read_snapshot(hub)
    assert [c.name for c in snap.customers] == ["Good Dental, LLC", "Home of Ann", "Messy: Legal / East"]
    found = by_rule(evaluate(snap, Path(load_settings().documents_root)))
    no_reports = "managed-services customer: no contact receives reports"
    assert found["report-recipient"] == [("Messy: Legal / East", no_reports)]
    assert found["primary-contact"] == [
        ("Home of Ann", "no primary contact; there must be exactly one"),
        ("Messy: Legal / East", "2 primary contacts (Max Tester, Mia Tester); there must be exactly one"),
    ]
    assert [o for o, _ in found["client-folder"]] == ["Home of Ann"]
    problems = sorted(m.split(") ", 1)[1] for _, m in found["device-contract"])
    assert problems == [
        "is covered by contract 'Good Dental - Managed Services' of another account",
        "is covered by inactive contract 'Messy - old'",
        "is not covered by a contract",
    ]
    assert found["invoice-contact"] == [
        (
            "Messy: Legal / East",
            f"accounting customer {snap.accounting[psa['messy']].customer_id} has no invoice e-mail address",
        )
    ]
    assert snap.accounting[psa["good"]].how == "name"
    assert snap.accounting_error is None


def test_the_crosswalk_links_an_account_to_a_differently_named_customer(hub: Hub, psa: dict[str, str]) -> None:
    billing = hub.connector("quickbooks").create(
        "Customer", {"DisplayName": "ML Billing Dept", "PrimaryEmailAddr": {"Address": "billing@messy.example"}}
    )
    with hub.store.transaction() as conn:
        hub.store.link(conn, "organization", {"autotask": psa["messy"], "quickbooks": billing.id})
    snap = read_snapshot(hub)
    assert snap.accounting[psa["messy"]].customer_id == billing.id
    found = by_rule(evaluate(snap, Path(load_settings().documents_root)))
    assert "invoice-contact" not in found


def test_unreadable_accounting_is_reported_not_passed(
    psa: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_QUICKBOOKS__REALM_ID")
    code, out, _err = run_cli(["compliance", "--json"], capsys)
    data = json.loads(out)
    assert code == 1 and data["counts"]["invoice-contact"] == 0
    assert data["not_checked"] == {"invoice-contact": "quickbooks: HUB_QUICKBOOKS__REALM_ID: required but not set"}


def test_cli_lists_violations_and_exits_1(psa: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run_cli(["compliance", "--json"], capsys)
    data = json.loads(out)
    assert code == 1 and data["status"] == "violations"
    assert data["counts"] == {
        "report-recipient": 1,
        "invoice-contact": 1,
        "primary-contact": 2,
        "client-folder": 1,
        "device-contract": 3,
    }
    assert data["not_checked"] == {}
    code, out, _err = run_cli(["compliance"], capsys)
    assert code == 1 and "8 violations over 3 customers" in out and "Messy: Legal / East" in out


def tickets_of(sandboxes: SandboxSet) -> list[dict[str, Any]]:
    table = sandboxes.sandboxes["autotask"].extra["simulator"].tables["Tickets"].records
    return [t for t in table.values() if str(t.get("externalID") or "").startswith("compliance:")]


def test_open_tickets_once_per_violation(
    psa: dict[str, str], sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = run_cli(["compliance", "--json", "--open-tickets"], capsys)
    first = json.loads(out)
    assert code == 1 and len(first["tickets"]) == 8 and all(t["opened"] for t in first["tickets"])
    tickets = tickets_of(sandboxes)
    assert len(tickets) == 8
    by_key = {t["externalID"]: t for t in tickets}
    messy = next(v for v in first["violations"] if v["rule"] == "report-recipient")
    ticket = by_key[external_key(messy["key"])]
    assert ticket["companyID"] == int(psa["messy"]) and ticket["title"].startswith("Compliance: managed-services")
    assert ticket["status"] == 1  # New
    code, out, _err = run_cli(["compliance", "--json", "--open-tickets"], capsys)
    again = json.loads(out)
    assert [t["opened"] for t in again["tickets"]] == [False] * 8
    assert {t["ticket_id"] for t in again["tickets"]} == {t["ticket_id"] for t in first["tickets"]}
    assert len(tickets_of(sandboxes)) == 8


def test_killed_after_creating_a_ticket_adopts_it(hub: Hub, psa: dict[str, str], sandboxes: SandboxSet) -> None:
    violations = evaluate(read_snapshot(hub), Path(load_settings().documents_root))
    opener = TicketOpener(hub)
    original = opener._record
    calls = {"n": 0}

    def dies_on_second(violation: Violation, ticket_id: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise Crash("killed after the PSA made the ticket, before the hub recorded it")
        original(violation, ticket_id)

    opener._record = dies_on_second  # type: ignore[method-assign]
    with pytest.raises(Crash):
        opener.open(violations)
    assert len(tickets_of(sandboxes)) == 2
    outcomes = TicketOpener(hub).open(violations)
    assert [o.opened for o in outcomes] == [False, False] + [True] * (len(violations) - 2)
    assert len(tickets_of(sandboxes)) == len(violations)


def test_sources_are_data(hub: Hub, psa: dict[str, str]) -> None:
    """Another accounting connector is a name, not code: an unknown one is reported as not checked."""
    snap = read_snapshot(hub, Sources(accounting="no-such-books"))
    assert snap.accounting_error is not None and "no-such-books" in snap.accounting_error
