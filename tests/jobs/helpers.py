"""Helpers for the job tests: run a job through the CLI, arrange simulator data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.sandbox import SandboxSet
from tests.core.fakes import run_cli

#: the MSP's default owner resource in the Autotask simulator
OWNER = 29682885


def sync(capsys: pytest.CaptureFixture[str], job: str, *args: str) -> tuple[int, dict[str, Any]]:
    """``hub sync JOB --json``: exit code and summary."""
    code, out, err = run_cli(["sync", job, "--json", *args], capsys)
    assert out.strip(), err[-2000:]
    return code, json.loads(out)


def autotask_sim(sandboxes: SandboxSet) -> Any:
    return sandboxes.sandboxes["autotask"].extra["simulator"]


def add_company(sim: Any, name: str, classification: int | None = 103) -> int:
    """A company in the Autotask simulator (103 = MS, managed services)."""
    body = {"companyName": name, "companyType": 1, "phone": "518-555-0100", "ownerResourceID": OWNER}
    if classification is not None:
        body["classification"] = classification
    return int(sim.write("Companies", body, create=True, actor=OWNER))


def add_contact(sim: Any, company: int, email: str, *, invoice_recipient: bool = False, active: bool = True) -> int:
    body = {
        "companyID": company,
        "firstName": email.split("@")[0],
        "lastName": "Test",
        "isActive": int(active),
        "emailAddress": email,
        "userDefinedFields": [{"name": "Invoice Recipient", "value": "1" if invoice_recipient else "0"}],
    }
    return int(sim.write("Contacts", body, create=True, actor=OWNER, parent=("companyID", company)))


def set_invoice_role(sim: Any, company: int, contact: int, on: bool) -> None:
    body = {"id": contact, "userDefinedFields": [{"name": "Invoice Recipient", "value": "1" if on else "0"}]}
    sim.write("Contacts", body, create=False, actor=OWNER, parent=("companyID", company))


def invoice_role(sim: Any, contact: int) -> bool:
    record = sim.get("Contacts", contact)
    return any(u["name"] == "Invoice Recipient" and u["value"] == "1" for u in record["userDefinedFields"])


def audit_rows(job: str) -> list[dict[str, Any]]:
    """The audit rows a job wrote to the state store of this test (``HUB_STATE_URL``)."""
    from hub.settings import load_settings
    from hub.state.store import StateStore

    store = StateStore.open(load_settings().state_url)
    try:
        return [r for r in store.audit_rows(limit=100_000) if r["actor"] == f"sync:{job}"]
    finally:
        store.close()
