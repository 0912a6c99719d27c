"""What `hub check` collects from the shipped mappings, workflows and settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.app import Hub
from hub.readiness import collect_needs


@pytest.fixture
def needs() -> dict[tuple[str, str, str | None], object]:
    with Hub() as hub:
        return {(n.entity, n.field, n.value): n for n in collect_needs(hub, "autotask")}


def test_the_procedures_statuses_and_the_workflows_labels_are_needed(needs) -> None:
    for status in ("Pending Paperwork", "Scheduled - external tech", "Scheduled - internal tech", "Auto-Resolved"):
        assert needs[("Tickets", "status", status)].required
    # from a workflow variable: every value it can take
    assert needs[("Companies", "classification", "BN")].source.startswith("workflow new-breakfix-customer")
    onsite = needs[("Tickets", "queueID", "Level II Support")]
    assert onsite.source == "workflow new-breakfix-customer templates.onsite queue"
    assert needs[("Tickets", "queueID", "Monitoring Alert")].source == "setting HUB_RMM_ALERTS__QUEUE"
    assert needs[("Tickets", "assignedResourceRoleID", "Technician")].required
    assert needs[("TicketNotes", "noteType", "Task Summary")].source.endswith("constants.noteType")


def test_udfs_are_needed_and_read_only_labels_are_not_required(needs) -> None:
    udf = needs[("Contacts", "userDefinedFields[name=Invoice Recipient].value", None)]
    assert udf.kind == "field" and udf.picklist
    assert needs[("Contacts", "userDefinedFields[name=Invoice Recipient].value", "Yes")].required
    assert not needs[("Companies", "classification", "MR")].required  # only read: the service model
    assert not needs[("Companies", "companyType", "Lead")].required  # read as prospect, never written
    assert needs[("Companies", "companyType", "Dead")].required  # written for an inactive account


def test_lifecycle_statuses_count_only_when_the_rules_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with Hub() as hub:
        off = {n.value for n in collect_needs(hub, "autotask")}
    monkeypatch.setenv("HUB_LIFECYCLE__ENABLED", "true")
    with Hub() as hub:
        on = {n.value for n in collect_needs(hub, "autotask")}
    assert "Client No Response" in on - off
