"""`hub sync psa-to-docs` through the CLI against the Autotask and IT Glue simulators."""

from __future__ import annotations

import json

import pytest

from hub.sandbox import SandboxSet
from tests.core.fakes import run_cli

pytestmark = pytest.mark.sandboxes(autotask={"size": 30, "seed": 11}, itglue={"size": 0, "seed": 2})


def sync(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code, out, err = run_cli(["sync", "psa-to-docs", "--json", *args], capsys)
    assert out.strip(), err
    return code, json.loads(out)


def test_first_run_creates_then_rerun_writes_nothing_then_one_change(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]
) -> None:
    autotask, itglue = sandboxes.control("autotask"), sandboxes.control("itglue")
    companies, contacts = autotask.count("Companies"), autotask.count("Contacts")

    code, first = sync(capsys)
    assert code == 0, first
    assert first["status"] == "ok"
    assert first["read"] == companies + contacts
    assert first["created"] == itglue.count("organizations") + itglue.count("contacts")
    assert first["failed"] == 0 and first["conflicts"] == 0
    assert set(first["api_calls"]) == {"autotask", "itglue"}

    code, again = sync(capsys, "--full-refresh")
    assert (code, again["created"], again["updated"]) == (0, 0, 0)
    assert again["unchanged"] == first["created"]

    company = autotask.touch("Companies")
    code, third = sync(capsys)
    assert code == 0 and third["read"] >= 1
    assert third["created"] == 0
    assert third["updated"] <= 1, f"touching {company} changed nothing the docs hold: {third}"


def test_dry_run_writes_nothing(sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]) -> None:
    itglue = sandboxes.control("itglue")
    before = itglue.count("organizations")
    code, plan = sync(capsys, "--dry-run")
    assert code == 0 and plan["dry_run"] is True and plan["created"] > 0
    # inactive companies and their contacts are not documented: skipped, with the reason
    assert {entry["action"] for entry in plan["plan"]} <= {"create", "skip"}
    assert all(entry["reason"] for entry in plan["plan"] if entry["action"] == "skip")
    assert itglue.count("organizations") == before
    # contacts of companies the dry run would create are planned too, so the plan is the real run
    code, real = sync(capsys)
    assert code == 0 and (real["created"], real["skipped"]) == (plan["created"], plan["skipped"])


def test_missing_setting_exits_2(sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.delenv("HUB_ITGLUE__API_KEY")
    code, out, err = run_cli(["sync", "psa-to-docs", "--json"], capsys)
    assert code == 2 and json.loads(out)["error"] == "HUB_ITGLUE__API_KEY: required but not set"  # one JSON object
    assert err.strip() == "hub: HUB_ITGLUE__API_KEY: required but not set"


def test_contacts_of_a_company_that_failed_are_failed_with_a_pointer_not_skipped(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]
) -> None:
    autotask = sandboxes.control("autotask")
    sim = autotask.sim  # type: ignore[attr-defined]
    contacts = sim.tables["Contacts"].records.values()
    company = next(
        c for c in sim.tables["Companies"].records.values()
        if c["isActive"] and any(p["companyID"] == c["id"] and p["isActive"] for p in contacts)
    )  # fmt: skip
    company["companyName"] = "   "  # blank once trimmed: the core model refuses it
    theirs = {
        str(p["id"]): f"{p['firstName']} {p['lastName']}".strip()
        for p in contacts if p["companyID"] == company["id"] and p["isActive"]
    }  # fmt: skip

    code, summary = sync(capsys)
    assert code == 1 and summary["status"] == "partial"
    failed = {e["source_id"]: e["reason"] for e in summary["plan"] if e["action"] == "failed"}
    assert "field name" in failed.pop(str(company["id"]))
    assert set(failed) == set(theirs)
    assert all("failed to sync: see hub deadletters" in reason for reason in failed.values())
    # a contact is named by its name in the plan, not by its job title
    assert {e["source_id"]: e.get("name") for e in summary["plan"] if e["source_id"] in theirs} == theirs
