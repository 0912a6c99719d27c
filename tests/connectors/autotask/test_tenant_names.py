"""Resources, roles, products and picklists named by name, resolved in the tenant at hand.

The same names resolve to different ids in the sandbox and in a real-like database; a
name the database lacks is one line naming the setting or field and the valid choices.
"""

from __future__ import annotations

import pytest

from connectors.autotask import AutotaskSettings
from connectors.autotask.plugin import MAPPINGS
from hub.mapping import load_mapping
from hub.sdk import ConfigError, Note

from .conftest import make_connector


def _connector(sandbox_factory, profile: str, **settings):
    sandbox, url = sandbox_factory(profile=profile)
    return sandbox, make_connector(AutotaskSettings(**{**sandbox.settings(url), **settings}))


@pytest.mark.parametrize("profile", ["sandbox", "real-like"])
def test_names_resolve_to_the_tenant_s_own_ids(sandbox_factory, profile):
    sandbox, connector = _connector(sandbox_factory, profile)
    db = sandbox.extra["simulator"].tenant
    technician = next(r for r in db.resources.values() if r["id"] == db.technicians[1])
    full_name = f"{technician['firstName']} {technician['lastName']}"
    assert connector.named("Resources", full_name.upper(), "test") == technician["id"]
    assert connector.named("Resources", technician["email"], "test") == technician["id"]
    role = next(iter(db.roles.values()))
    assert connector.picklist_value("Tickets", "assignedResourceRoleID", role["name"]) == role["id"]
    assert connector.picklist_value("Tickets", "assignedResourceID", "12345") == 12345  # an id a person typed
    # a mapping constant named by label: the note type's code in this database
    note = load_mapping("autotask", [MAPPINGS]).entity("TicketNotes").constants(connector)
    codes = {label: code for code, label in db.schemas["TicketNotes"].picklists["noteType"].items()}
    assert note["noteType"] == codes["Task Summary"]


def test_an_unknown_name_names_the_setting_and_the_choices(sandbox_factory):
    _, connector = _connector(sandbox_factory, "real-like", account_owner="Sam Carter")
    with pytest.raises(ConfigError) as caught:
        connector.account_owner()
    text = str(caught.value)
    assert "no active resource named 'Sam Carter' (HUB_AUTOTASK__ACCOUNT_OWNER)" in text
    assert "'Priya Raman'" in text and "\n" not in text


def test_the_account_owner_defaults_to_the_api_user_s_own_resource(sandbox_factory):
    sandbox, connector = _connector(sandbox_factory, "real-like")
    db = sandbox.extra["simulator"].tenant
    created = connector.create("Companies", {"companyName": "New Co", "companyType": 7001, "phone": "555"})
    assert sandbox.control.record("Companies", created.id)["ownerResourceID"] == db.api_user


def test_a_configuration_item_needs_the_device_product_setting(sandbox_factory):
    sandbox, connector = _connector(sandbox_factory, "real-like")
    company = next(iter(sandbox.extra["simulator"].tables["Companies"].records))
    with pytest.raises(ConfigError) as caught:
        connector.create("ConfigurationItems", {"companyID": company, "referenceTitle": "WS-1", "isActive": True})
    assert "HUB_AUTOTASK__DEVICE_PRODUCT is not set" in str(caught.value)
    assert "'Workstation - Managed'" in str(caught.value)

    by_type = {"server": "Server - Managed"}
    configured, connector = _connector(
        sandbox_factory, "real-like", device_product="workstation - managed", device_products=by_type
    )
    sim = configured.extra["simulator"]
    products = {p["name"]: pid for pid, p in sim.tenant.products.items()}
    item_types = sim.tenant.schemas["ConfigurationItems"].picklists["configurationItemType"]
    types = {label: code for code, label in item_types.items()}
    company = next(iter(sim.tables["Companies"].records))
    plain = connector.create("ConfigurationItems", {"companyID": company, "referenceTitle": "WS-2", "isActive": True})
    server = connector.create(
        "ConfigurationItems",
        {"companyID": company, "referenceTitle": "SRV-1", "isActive": True, "configurationItemType": types["Server"]},
    )
    assert sim.get("ConfigurationItems", int(plain.id))["productID"] == products["Workstation - Managed"]
    assert sim.get("ConfigurationItems", int(server.id))["productID"] == products["Server - Managed"]


def test_a_note_written_through_the_mapping_uses_the_tenant_s_note_type(sandbox_factory):
    sandbox, connector = _connector(sandbox_factory, "real-like")
    sim = sandbox.extra["simulator"]
    ticket = next(iter(sim.tables["Tickets"].records))
    bound = load_mapping("autotask", [MAPPINGS]).entity("TicketNotes")
    core = Note.model_validate(
        {"ticket": {"system": "autotask", "kind": "ticket", "id": str(ticket)}, "title": "t", "body": "b",
         "publish": "All Autotask Users"}
    )  # fmt: skip
    created = connector.create("TicketNotes", bound.to_vendor(core, connector, create=True))
    codes = {label: code for code, label in sim.tenant.schemas["TicketNotes"].picklists["noteType"].items()}
    assert sim.get("TicketNotes", int(created.id))["noteType"] == codes["Task Summary"] != 1
