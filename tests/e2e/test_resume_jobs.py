"""A run killed mid-read resumes at its checkpoint, for every sync job.

Each test lets a run commit some pages, kills it (the process dies right after a
checkpoint), then runs the job again and checks where the second run starts reading:
at the checkpoint, not at the beginning (so nothing is read, or written, twice).
``rmm-alerts`` is the exception by design: a poll is a snapshot of the active alerts
(an alert missing from a complete poll has cleared), so it always reads them all; its
guarantee is that nothing it wrote is written again.
"""

from __future__ import annotations

from typing import Any

import pytest

from hub.sandbox import SandboxSet
from hub.settings import load_settings
from hub.state.store import StateStore
from hub.sync.entity import EntitySync
from tests.core.fakes import run_cli
from tests.jobs.helpers import add_company, add_contact, autotask_sim, sync


class Killed(BaseException):
    """The process dies (not an Exception: nothing in the hub catches it)."""


def kill_after(monkeypatch: pytest.MonkeyPatch, stream: str, pages: int) -> None:
    """The run dies right after committing ``pages`` pages of ``stream``."""
    real = EntitySync.commit
    done = {"n": 0}

    def commit(self: EntitySync, results: Any, cursor: Any, pass_id: str) -> None:
        real(self, results, cursor, pass_id)
        if self.step.stream == stream and cursor is not None:
            done["n"] += 1
            if done["n"] == pages:
                raise Killed(f"killed after page {pages} of {stream}")

    monkeypatch.setattr(EntitySync, "commit", commit)


def killed_run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, job: str, stream: str,
               pages: int) -> dict[str, Any]:  # fmt: skip
    """Run ``job`` until it dies after ``pages`` pages of ``stream``; return the stream's checkpoint."""
    with monkeypatch.context() as patch:
        kill_after(patch, stream, pages)
        with pytest.raises(Killed):
            run_cli(["sync", job, "--json"], capsys)
    capsys.readouterr()
    store = StateStore.open(load_settings().state_url)
    cursors = [store.get_cursor(job, connector, stream) for connector in ("autotask", "ncentral", "quickbooks")]
    store.close()
    resume = next(c.resume for c in cursors if c.resume)
    assert resume is not None and resume["stream"], "the killed run left a checkpoint"
    return dict(resume["stream"])


@pytest.mark.sandboxes(autotask={"size": 40, "seed": 5, "page_size": 10}, itglue={"size": 0, "seed": 1})
def test_psa_to_docs_resumes_after_the_last_company_committed(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = autotask_sim(sandboxes)
    at = killed_run(capsys, monkeypatch, "psa-to-docs", "Companies", pages=2)
    assert set(at) == {"after_id"}, at
    mark = len(sim.requests)
    code, resumed = sync(capsys, "psa-to-docs")
    assert code == 0 and resumed["updated"] == 0, resumed
    first_query = next(r for r in list(sim.requests)[mark:] if str(r["path"]).endswith("Companies/query"))
    assert _has_after(first_query["json"], at["after_id"]), f"the re-read starts after the checkpoint: {first_query}"
    later = sum(1 for r in sim.tables["Companies"].records.values() if r["id"] > at["after_id"])
    contacts = len(sim.tables["Contacts"].records)
    assert resumed["read"] == later + contacts, "companies up to the checkpoint were not read again"


def _has_after(body: Any, after_id: int) -> bool:
    """Whether a query body filters on ``id gt after_id`` (at any depth of its and/or groups)."""
    if isinstance(body, dict):
        if body.get("op") == "gt" and body.get("field") == "id" and int(body.get("value")) == after_id:
            return True
        return any(_has_after(v, after_id) for v in body.values())
    if isinstance(body, list):
        return any(_has_after(v, after_id) for v in body)
    return False


@pytest.mark.sandboxes(autotask={"size": 4, "seed": 3}, ncentral={"size": 24, "seed": 2, "alerts": 0})
def test_rmm_devices_resumes_at_the_next_device_page(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, nc = autotask_sim(sandboxes), sandboxes.control("ncentral")
    for customer in nc.customer_ids:
        add_company(sim, nc.org_units[customer]["orgUnitName"])
    monkeypatch.setenv("HUB_NCENTRAL__PAGE_SIZE", "5")
    at = killed_run(capsys, monkeypatch, "rmm-devices", "devices", pages=2)
    assert at == {"token": 3}, "page 3 of the devices is next"
    devices = len(nc.devices)
    code, resumed = sync(capsys, "rmm-devices")
    assert code == 0 and resumed["updated"] == 0, resumed
    customers = len(nc.customer_ids)
    assert resumed["read"] == customers + devices - 10, "the ten devices of the first two pages were not read again"
    # the third page's items were made while the second page was being recorded: adopted, not made again
    assert resumed["created"] <= devices - 10
    theirs = set(nc.serials.values())
    serials = [r["serialNumber"] for r in sim.tables["ConfigurationItems"].records.values()
               if r.get("serialNumber") in theirs]  # fmt: skip
    assert len(serials) == len(set(serials)) == devices


@pytest.mark.sandboxes(autotask={"size": 2, "seed": 3}, quickbooks={"size": 12, "seed": 2})
def test_accounting_recipients_link_step_resumes_at_its_start_position(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.quickbooks.streams import CustomersStream

    sim, qb = autotask_sim(sandboxes), sandboxes.control("quickbooks")
    for cid in sorted(qb.data.customers)[:4]:
        company = add_company(sim, qb.data.customers[cid]["DisplayName"])
        add_contact(sim, company, f"billing{cid}@example.com", invoice_recipient=True)
    monkeypatch.setattr(CustomersStream, "page_size", 4)
    at = killed_run(capsys, monkeypatch, "accounting-recipients", "customers", pages=1)
    assert at["start"] == 5, f"the next page starts at the fifth customer: {at}"
    mark = len(qb.requests)
    code, resumed = sync(capsys, "accounting-recipients")
    assert code == 0 and resumed["status"] == "ok", resumed
    first = next(r for r in list(qb.requests)[mark:] if "FROM CUSTOMER" in r["params"].get("query", "").upper())
    assert "STARTPOSITION 5" in first["params"]["query"].upper(), first
    code, again = sync(capsys, "accounting-recipients")
    assert code == 0 and again["updated"] == 0, "the resumed run left nothing to write"


@pytest.mark.sandboxes(autotask={"size": 4, "seed": 3}, ncentral={"size": 12, "seed": 2, "alerts": 0})
def test_rmm_alerts_reads_the_whole_snapshot_again_and_writes_nothing_twice(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.sync.alerts import AlertSync

    sim, nc = autotask_sim(sandboxes), sandboxes.control("ncentral")
    for customer in nc.customer_ids:
        add_company(sim, nc.org_units[customer]["orgUnitName"])
    assert sync(capsys, "rmm-devices")[0] == 0
    devices = nc.devices_by_org_unit[nc.customer_ids[0]][:3]
    for device in devices:
        nc.raise_alert(device, "Disk Space", "C:", "Failed")
    real, opened = AlertSync._open, {"n": 0}

    def open_then_die(self: AlertSync, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        opened["n"] += 1
        if opened["n"] == 2:
            raise Killed("killed after the second ticket was recorded")

    with monkeypatch.context() as patch:
        patch.setattr(AlertSync, "_open", open_then_die)
        with pytest.raises(Killed):
            run_cli(["sync", "rmm-alerts", "--json"], capsys)
    code, resumed = sync(capsys, "rmm-alerts")
    assert code == 0 and resumed["read"] == 3, "a poll always reads every active alert"
    assert resumed["created"] == 1 and resumed["updated"] == 0, resumed
    keys = [r["externalID"] for r in sim.tables["Tickets"].records.values() if r.get("externalID")]
    assert len(keys) == len(set(keys)) == 3
