"""No duplicates under the faults real vendors produce, for every sync job.

Each simulator sits behind a fault injector: a write is applied and then its answer is
lost (answered after the client's timeout, the connection dropped before the body, or a
gateway's 502 instead). The hub must find what the write made before sending it again:
afterwards no simulator holds a duplicate or lacks a record, and the next run writes
nothing. The client's timeout is one second here, so a "late" answer takes two.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from hub.plugins import HubPlugins
from hub.sandbox import FaultInjector, SandboxSet
from tests.jobs.helpers import add_company, add_contact, autotask_sim, invoice_role, sync

FAULTS = ["late", "drop", "502"]
LATE = 2.0


@pytest.fixture
def served(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxSet]:
    options: dict[str, dict[str, Any]] = request.param
    classes = HubPlugins().connector_classes()
    with SandboxSet({name: classes[name] for name in options}, options) as sandboxes:
        for key, value in sandboxes.env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("HUB_HTTP_TIMEOUT", "1")
        yield sandboxes


def arm(injector: FaultInjector, kind: str, *, method: str = "POST", path: str, times: int = 1) -> None:
    injector.after_write(kind, method=method, path=path, times=times, delay=LATE)


def twice(counter: Counter[Any]) -> list[Any]:
    return [key for key, n in counter.items() if n > 1]


def settled(capsys: pytest.CaptureFixture[str], job: str, *args: str) -> dict[str, Any]:
    """A run that must end with everything written (lost answers resolved, none dead-lettered)."""
    code, summary = sync(capsys, job, *args)
    assert code == 0 and summary["status"] == "ok" and summary["failed"] == 0, summary
    return summary


def quiet(capsys: pytest.CaptureFixture[str], job: str) -> None:
    code, again = sync(capsys, job, "--full-refresh")
    assert code == 0 and (again["created"], again["updated"], again["failed"]) == (0, 0, 0), again


PSA_TO_DOCS = {"autotask": {"size": 12, "seed": 5}, "itglue": {"size": 0, "seed": 2}}


@pytest.mark.parametrize("served", [PSA_TO_DOCS], indirect=True)
@pytest.mark.parametrize("kind", FAULTS)
def test_psa_to_docs(served: SandboxSet, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    faults, itglue = served.faults["itglue"], served.control("itglue")
    arm(faults, kind, path=r"^/organizations$", times=2)
    arm(faults, kind, path=r"^/organizations/\d+/relationships/contacts$", times=2)
    first = settled(capsys, "psa-to-docs")
    assert len(faults.injected) == 4, faults.injected

    orgs = Counter(r["attributes"]["name"] for r in itglue.records("organizations"))
    assert not twice(orgs), f"duplicate organizations: {twice(orgs)}"
    people = Counter(
        (r["attributes"]["organization-id"], r["attributes"]["first-name"], r["attributes"]["last-name"])
        for r in itglue.records("contacts")
    )
    assert not twice(people), f"duplicate contacts: {twice(people)}"
    assert first["created"] == len(orgs) + len(people)
    quiet(capsys, "psa-to-docs")


RMM = {"autotask": {"size": 4, "seed": 3}, "ncentral": {"size": 12, "seed": 2, "alerts": 0}}


def link_rmm(served: SandboxSet) -> None:
    sim, nc = autotask_sim(served), served.control("ncentral")
    for customer in nc.customer_ids:
        add_company(sim, nc.org_units[customer]["orgUnitName"])


@pytest.mark.parametrize("served", [RMM], indirect=True)
@pytest.mark.parametrize("kind", FAULTS)
def test_rmm_devices(served: SandboxSet, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    sim, nc, faults = autotask_sim(served), served.control("ncentral"), served.faults["autotask"]
    link_rmm(served)
    arm(faults, kind, path=r"/ConfigurationItems$", times=3)
    first = settled(capsys, "rmm-devices")
    assert len(faults.injected) == 3
    serials = Counter(r["serialNumber"] for r in sim.tables["ConfigurationItems"].records.values()
                      if r.get("serialNumber") in set(nc.serials.values()))  # fmt: skip
    assert not twice(serials), f"duplicate configuration items: {twice(serials)}"
    assert set(serials) == set(nc.serials.values()) and first["created"] == len(serials)
    quiet(capsys, "rmm-devices")


@pytest.mark.parametrize("served", [RMM], indirect=True)
@pytest.mark.parametrize("kind", FAULTS)
def test_rmm_alerts(served: SandboxSet, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    sim, nc, faults = autotask_sim(served), served.control("ncentral"), served.faults["autotask"]
    link_rmm(served)
    settled(capsys, "rmm-devices")
    devices = nc.devices_by_org_unit[nc.customer_ids[0]][:2]
    tasks = [nc.raise_alert(device, "Disk Space", "C:", "Failed") for device in devices]
    arm(faults, kind, path=r"/V1.0/Tickets$", times=2)
    first = settled(capsys, "rmm-alerts")
    assert first["created"] == 2 and len(faults.injected) == 2

    def alert_tickets() -> Counter[str]:
        return Counter(r["externalID"] for r in sim.tables["Tickets"].records.values() if r.get("externalID"))

    assert not twice(alert_tickets()) and len(alert_tickets()) == 2
    for task in tasks:
        nc.clear_alert(task)
    arm(faults, kind, path=r"/V1.0/Tickets/\d+/Notes$", times=2)
    settled(capsys, "rmm-alerts")
    assert len(faults.injected) == 4
    ticket_ids = {r["id"] for r in sim.tables["Tickets"].records.values() if r.get("externalID")}
    resolved = Counter(n["ticketID"] for n in sim.tables["TicketNotes"].records.values()
                       if n["ticketID"] in ticket_ids and "no longer reports" in n["description"])  # fmt: skip
    assert set(resolved) == ticket_ids and not twice(resolved), f"one resolution note per ticket: {resolved}"
    assert not twice(alert_tickets())
    code, again = sync(capsys, "rmm-alerts")
    assert code == 0 and (again["created"], again["updated"]) == (0, 0), again


RECIPIENTS = {"autotask": {"size": 2, "seed": 3}, "quickbooks": {"size": 4, "seed": 2}}


@pytest.mark.parametrize("served", [RECIPIENTS], indirect=True)
@pytest.mark.parametrize("kind", FAULTS)
def test_accounting_recipients(served: SandboxSet, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    sim, qb = autotask_sim(served), served.control("quickbooks")
    name = qb.data.customers[1]["DisplayName"]
    listed = qb.customer("1").get("PrimaryEmailAddr", {}).get("Address", "").split(",")
    company = add_company(sim, name)
    listed_person = add_contact(sim, company, listed[0])
    bookkeeper = add_contact(sim, company, "books@psa-side.example.com", invoice_recipient=True)
    arm(served.faults["quickbooks"], kind, path=r"/customer$")
    arm(served.faults["autotask"], kind, method="PATCH", path=r"/Contacts$")
    settled(capsys, "accounting-recipients")
    assert len(served.faults["quickbooks"].injected) == 1 and len(served.faults["autotask"].injected) == 1

    addresses = qb.customer("1")["PrimaryEmailAddr"]["Address"].split(",")
    assert Counter(a.lower() for a in addresses) == Counter(a.lower() for a in [*listed, "books@psa-side.example.com"])
    assert invoice_role(sim, listed_person) and invoice_role(sim, bookkeeper)
    quiet(capsys, "accounting-recipients")
