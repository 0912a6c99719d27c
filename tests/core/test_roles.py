"""Roles, not vendors: jobs, workflows and reports name roles; connectors declare the roles they fill."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from hub.app import Hub
from hub.errors import ConfigError
from hub.plugins import ConnectorRegistry, HubPlugins
from hub.roles import ROLES, RoleTable, fill
from hub.sdk import CheckResult, Connector, Page, Stream, hookimpl
from hub.settings import RoleSettings, load_settings
from hub.sync import get_job
from hub.sync.alerts import AlertTicketStep
from hub.sync.recipients import RecipientStep
from hub.workflow.library import WorkflowLibrary
from tests.core.fakes import run_cli

ROOT = Path(__file__).resolve().parents[2]


def _stream(name: str, kind: str, entity: str = "") -> type[Stream]:
    def read(self: Stream, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        yield Page([])

    return type(f"{name}Stream", (Stream,), {"name": name, "kind": kind, "entity": entity, "read": read})


class HaloPsa(Connector):
    """A third party's PSA: its own entity names, the PSA role's kinds."""

    name = "halopsa"
    roles: ClassVar[dict[str, dict[str, str]]] = {"psa": {"ticket_notes": "Actions"}}
    stream_classes: ClassVar[list[type[Stream]]] = [
        _stream("clients", "organization", "Client"),
        _stream("users", "contact", "User"),
        _stream("tickets", "ticket", "Ticket"),
        _stream("contracts", "contract", "Contract"),
        _stream("assets", "configuration_item", "Asset"),
    ]
    writable: ClassVar[dict[str, str]] = {
        "Client": "organization", "User": "contact", "Ticket": "ticket", "Actions": "note", "Notes": "note",
        "Asset": "configuration_item",
    }  # fmt: skip

    def check(self) -> CheckResult:
        return CheckResult(True)


class HaloPlugin:
    @hookimpl
    def hub_register_connectors(self, registry: ConnectorRegistry) -> None:
        registry.add(HaloPsa)


def _plugins(*extra: Any) -> HubPlugins:
    plugins = HubPlugins()
    for i, plugin in enumerate(extra):
        plugins.register(plugin, f"extra{i}")
    return plugins


def test_every_role_is_a_setting() -> None:
    assert set(ROLES) == set(RoleSettings.model_fields)


def test_the_built_in_connectors_fill_the_default_roles() -> None:
    table = RoleTable(RoleSettings(), HubPlugins())
    assert table.names() == {"psa": "autotask", "docs": "itglue", "rmm": "ncentral", "accounting": "quickbooks",
                             "esign": "docusign", "billing": "acronis"}  # fmt: skip
    for role, name in table.names().items():
        assert table.connector(role) == name
    assert table.can_fill("rmm") == ["dattormm", "ncentral"]
    # where the kind alone is ambiguous, the connector names its entity
    assert table.entity("psa", "ticket_notes") == "TicketNotes"
    assert table.stream("rmm", "customers") == "customers"
    assert table.entity("rmm", "customers") == "customer"  # N-central's customers, not every org unit
    assert table.stream("accounting", "invoice_recipients") == "invoice_recipients"


def test_the_built_in_jobs_bind_to_whichever_connector_fills_the_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_ROLES__RMM", "dattormm")
    with Hub(load_settings()) as hub:
        devices = get_job(hub, "rmm-devices")
        assert [s.label for s in devices.steps] == [
            "dattormm.customers -> autotask.Companies", "dattormm.devices -> autotask.ConfigurationItems"
        ]  # fmt: skip
        assert devices.connectors == ["dattormm", "autotask"]
        (alerts,) = get_job(hub, "rmm-alerts").steps
        assert alerts == AlertTicketStep("dattormm", "active_issues", "customers", "autotask", "Tickets", "TicketNotes")
        assert [s.label for s in get_job(hub, "psa-to-docs").steps] == [
            "autotask.Companies -> itglue.organizations", "autotask.Contacts -> itglue.contacts"
        ]  # fmt: skip
        link, merge = get_job(hub, "accounting-recipients").steps
        assert link.label == "quickbooks.customers -> autotask.Companies"
        assert merge == RecipientStep("quickbooks", "customers", "invoice_recipients", "Customer", "autotask",
                                      "Contacts", "Contacts")  # fmt: skip
        # the registered definitions still name roles: binding never changes them
        assert hub.plugins.jobs()["rmm-devices"].steps[0].source == "rmm"


def test_a_third_party_psa_runs_the_built_in_jobs() -> None:
    plugins = _plugins(HaloPlugin())
    table = RoleTable(RoleSettings(psa="halopsa"), plugins)
    job = plugins.jobs()["psa-to-docs"].bind(table)
    assert [s.label for s in job.steps] == ["halopsa.clients -> itglue.organizations",
                                            "halopsa.users -> itglue.contacts"]  # fmt: skip
    (alerts,) = plugins.jobs()["rmm-alerts"].bind(table).steps
    assert (alerts.psa, alerts.tickets, alerts.notes) == ("halopsa", "Ticket", "Actions")


def test_a_role_its_connector_cannot_fill_is_exit_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_ROLES__RMM", "itglue")
    code, out, err = run_cli(["sync", "rmm-devices"], capsys)
    assert (code, out) == (2, "")
    assert err.strip() == ("hub: HUB_ROLES__RMM: itglue cannot fill the rmm role: it fills docs; "
                           "connectors that can: dattormm, ncentral")  # fmt: skip
    monkeypatch.setenv("HUB_ROLES__RMM", "nosuch")
    code, _, err = run_cli(["sync", "rmm-alerts", "--json"], capsys)
    assert code == 2 and err.startswith("hub: HUB_ROLES__RMM: unknown connector 'nosuch'; installed: acronis,")
    monkeypatch.setenv("HUB_ROLES__PSA", "docusign")
    code, _, err = run_cli(["report", "uncovered-devices"], capsys)
    assert code == 2 and "HUB_ROLES__PSA: docusign cannot fill the psa role: it fills esign" in err
    assert len(err.strip().splitlines()) == 1


def test_hub_connectors_lists_the_roles_and_which_are_filled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_ROLES__RMM", "dattormm")
    code, out, _ = run_cli(["connectors", "--json"], capsys)
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert {name: (row["roles"], row["fills"]) for name, row in rows.items()} == {
        "acronis": (["billing"], ["billing"]), "autotask": (["psa"], ["psa"]), "dattormm": (["rmm"], ["rmm"]),
        "docusign": (["esign"], ["esign"]), "itglue": (["docs"], ["docs"]), "ncentral": (["rmm"], []),
        "quickbooks": (["accounting"], ["accounting"]),
    }  # fmt: skip
    monkeypatch.setenv("COLUMNS", "250")
    code, out, _ = run_cli(["connectors"], capsys)
    assert code == 0 and "rmm*" in out and "HUB_ROLES__<ROLE>" in out


class NoTickets(HaloPsa):
    name = "notickets"
    stream_classes = [s for s in HaloPsa.stream_classes if s.kind != "ticket"]


class TwoCustomerLists(Connector):
    name = "twormm"
    roles: ClassVar[dict[str, dict[str, str]]] = {"rmm": {}}
    stream_classes: ClassVar[list[type[Stream]]] = [
        _stream("org_units", "organization", "org_unit"),
        _stream("customers", "organization", "customer"),
        _stream("devices", "configuration_item"),
        _stream("alerts", "alert"),
    ]

    def check(self) -> CheckResult:
        return CheckResult(True)


def test_a_connector_declaring_a_role_it_cannot_fill_is_refused_at_registration() -> None:
    with pytest.raises(ValueError, match=r"psa.tickets: no entity of ticket records to read and write"):
        fill(NoTickets, "psa")
    with pytest.raises(TypeError, match="NoTickets declares a role it cannot fill"):
        ConnectorRegistry().add(NoTickets)

    class Broken:
        @hookimpl
        def hub_register_connectors(self, registry: ConnectorRegistry) -> None:
            registry.add(TwoCustomerLists)

    plugins = _plugins(Broken())
    assert "twormm" not in plugins.connector_classes()
    error = plugins.infos["extra0"].error or ""
    assert "rmm.customers: several entities of organization records to read (org_unit, customer)" in error
    assert "name one in roles = {'rmm': {'customers': ...}}" in error


def test_a_named_entity_must_be_of_the_slot_s_kind() -> None:
    class Misnamed(TwoCustomerLists):
        name = "misnamed"
        roles: ClassVar[dict[str, dict[str, str]]] = {"rmm": {"customers": "devices"}}

    with pytest.raises(ValueError, match=r"rmm\.customers: 'devices' is no entity of organization records to read"):
        fill(Misnamed, "rmm")
    TwoCustomerLists.roles = {"rmm": {"customers": "customer"}}
    try:
        assert fill(TwoCustomerLists, "rmm") == {"customers": "customer", "devices": "devices", "alerts": "alerts"}
    finally:
        TwoCustomerLists.roles = {"rmm": {}}


# -- workflows ---------------------------------------------------------------------------


def test_the_built_in_workflows_name_roles_only() -> None:
    def connectors(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "connector":
                    yield value
                yield from connectors(value)
        elif isinstance(node, list):
            for value in node:
                yield from connectors(value)

    files = (ROOT / "hub" / "workflows").glob("*.yaml")
    named = {c for path in files for c in connectors(yaml.safe_load(path.read_text()))}
    assert named and named <= set(ROLES), named


def _library(tmp_path: Path, roles: RoleSettings, plugins: HubPlugins | None = None) -> WorkflowLibrary:
    plugins = plugins or HubPlugins()
    return WorkflowLibrary(plugins.workflow_dirs(), tmp_path, roles=RoleTable(roles, plugins))


def _steps(definition: Any) -> dict[str, str]:
    return {step.id: step.spec.connector for step, _ in definition.walk() if hasattr(step.spec, "connector")}


def test_a_workflow_step_naming_a_role_runs_on_the_connector_filling_it(tmp_path: Path) -> None:
    shipped = _library(tmp_path, RoleSettings()).get("new-breakfix-customer")
    assert set(_steps(shipped).values()) == {"autotask", "docusign"}
    assert _steps(shipped)["send_terms"] == "docusign"
    halo = _library(tmp_path, RoleSettings(psa="halopsa"), _plugins(HaloPlugin())).get("new-breakfix-customer")
    assert set(_steps(halo).values()) == {"halopsa", "docusign"}
    # the stored definition of a run holds the connectors, so it finishes with the ones it started with
    assert "connector: psa" not in yaml.safe_dump(halo.snapshot()) and "halopsa" in json.dumps(halo.snapshot())


def test_a_user_workflow_naming_a_vendor_keeps_working(tmp_path: Path) -> None:
    (tmp_path / "note-it.yaml").write_text(
        "name: note-it\nsteps:\n"
        "  - id: find\n    write: {connector: autotask, entity: Companies, op: find, where: {companyName: Acme}}\n"
        "  - id: docs\n    write: {connector: docs, entity: organizations, op: find, where: {name: Acme}}\n"
    )
    definition = _library(tmp_path, RoleSettings(psa="halopsa"), _plugins(HaloPlugin())).get("note-it")
    assert _steps(definition) == {"find": "autotask", "docs": "itglue"}


def test_a_workflow_role_no_connector_can_fill_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _library(tmp_path, RoleSettings(esign="itglue")).get("new-breakfix-customer")
    assert str(caught.value).startswith("workflow new-breakfix-customer: step send_terms: HUB_ROLES__ESIGN: itglue "
                                        "cannot fill the esign role: it fills docs; connectors that can: docusign")
