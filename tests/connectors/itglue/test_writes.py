"""Writes against the simulator: create then read back, partial updates, the traits rule,
and the PSA-synced refusal."""

from __future__ import annotations

import pytest

from connectors.itglue.plugin import MAPPINGS
from hub.mapping import load_mapping
from hub.sdk import ConfigError, ContactRole, Need, RecordRejected, SiteSummary, VendorError

from .conftest import Sim


def _free_org(sim: Sim) -> str:
    synced = set(sim.control.psa_synced_organizations())
    return next(str(i) for i in range(100001, 100041) if str(i) not in synced)


def _asset_of(sim: Sim) -> dict:
    connector = sim.make()
    return next(iter(connector.stream("site_summaries").read())).records[0]


def test_create_and_update_organization(sim: Sim) -> None:
    connector = sim.make()
    created = connector.create(
        "organizations", {"attributes": {"name": "Accent Fit", "organization-type-id": 87}}
    )
    stored = connector.get("organizations", created.id)
    assert stored["attributes"]["name"] == "Accent Fit"
    assert stored["attributes"]["organization-type-name"] == "Prospect"
    connector.update("organizations", created.id, {"attributes": {"quick-notes": "Onboarding done"}})
    after = sim.control.record("organizations", created.id)["attributes"]
    assert after["quick-notes"] == "Onboarding done"
    assert after["name"] == "Accent Fit" and after["organization-type-id"] == 87


def test_organization_refusal_shows_the_vendor_message(sim: Sim) -> None:
    with pytest.raises(VendorError) as err:
        sim.make().create("organizations", {"attributes": {"organization-type-id": 86}})
    assert err.value.status == 422
    assert "Name can't be blank" in str(err.value)


def test_psa_synced_organization_is_rejected_without_retry(sim: Sim) -> None:
    connector = sim.make()
    org = sim.control.psa_synced_organizations()[0]
    before = sim.control.requests
    with pytest.raises(RecordRejected) as err:
        connector.update("organizations", org, {"attributes": {"name": "Renamed"}})
    assert "kept in sync with a PSA (autotask)" in str(err.value)
    assert "only alert, description and quick notes" in str(err.value)
    assert sim.control.requests - before == 2  # the refused PATCH and the GET that confirms why
    assert sim.control.record("organizations", org)["attributes"]["name"] != "Renamed"
    # what IT Glue still allows on a synced organization goes through
    connector.update("organizations", org, {"attributes": {"alert": "Call before visiting"}})
    assert sim.control.record("organizations", org)["attributes"]["alert"] == "Call before visiting"


def test_unsynced_422_stays_a_vendor_error(sim: Sim) -> None:
    connector = sim.make()
    with pytest.raises(VendorError) as err:
        connector.update("organizations", _free_org(sim), {"attributes": {"name": ""}})
    assert not isinstance(err.value, RecordRejected)
    assert "Name can't be blank" in str(err.value)


def test_create_contact_in_its_organization_and_update_one_field(sim: Sim) -> None:
    connector = sim.make()
    org = _free_org(sim)
    created = connector.create(
        "contacts",
        {
            "attributes": {
                "organization-id": int(org),
                "first-name": "Jackie",
                "last-name": "Tilds",
                "contact-emails": [{"primary": "True", "value": "jackie@example.com"}],
                "contact-phones": [{"primary": "True", "value": "+13135552015"}],
            }
        },
    )
    stored = connector.get("contacts", created.id)["attributes"]
    assert stored["organization-id"] == int(org)
    assert stored["contact-emails"] == [
        {"value": "jackie@example.com", "primary": True, "label-name": "Work"}
    ]
    assert stored["contact-phones"][0]["value"] == "3135552015"
    connector.update("contacts", created.id, {"attributes": {"title": "Account Executive"}})
    after = sim.control.record("contacts", created.id)["attributes"]
    assert after["title"] == "Account Executive" and after["first-name"] == "Jackie"
    assert after["contact-emails"] == stored["contact-emails"]


def test_contact_without_organization_is_rejected(sim: Sim) -> None:
    with pytest.raises(RecordRejected, match="organization"):
        sim.make().create("contacts", {"attributes": {"first-name": "Nobody"}})


def test_contact_email_update_keeps_other_addresses(sim: Sim) -> None:
    connector = sim.make()
    created = connector.create(
        "contacts",
        {
            "attributes": {
                "organization-id": int(_free_org(sim)),
                "first-name": "John",
                "contact-emails": [
                    {"value": "john@work.example", "primary": True, "label-name": "Work"},
                    {"value": "john@home.example", "primary": False, "label-name": "Home"},
                ],
            }
        },
    )
    connector.update(
        "contacts",
        created.id,
        {"attributes": {"contact-emails": [{"primary": "True", "value": "john@new.example"}]}},
    )
    emails = sim.control.record("contacts", created.id)["attributes"]["contact-emails"]
    assert {(e["value"], e["primary"], e["label-name"]) for e in emails} == {
        ("john@new.example", True, "Work"),
        ("john@home.example", False, "Home"),
    }


def test_psa_synced_contact_is_rejected(sim: Sim) -> None:
    org = sim.control.psa_synced_organizations()[0]
    contact = next(
        c
        for c in (sim.control.record("contacts", str(i)) for i in range(200001, 200041))
        if str(c["attributes"]["organization-id"]) == org
    )
    with pytest.raises(RecordRejected, match="PSA"):
        sim.make().update("contacts", contact["id"], {"attributes": {"title": "CEO"}})


def test_site_summary_update_preserves_unmanaged_traits(sim: Sim) -> None:
    asset = _asset_of(sim)
    before = sim.control.record("site_summaries", asset["id"])["attributes"]["traits"]
    assert before["network-diagram"] and before["notes"]  # a file and a note the hub does not manage
    contact = sim.make().create(
        "contacts",
        {
            "attributes": {
                "organization-id": asset["attributes"]["organization-id"],
                "first-name": "New",
                "last-name": "Authority",
            }
        },
    )
    sim.make().update(
        "site_summaries",
        asset["id"],
        {"labels": {"Primary Authorization": [contact.id], "Authorization Permissions": "Everything"}},
    )
    after = sim.control.record("site_summaries", asset["id"])["attributes"]["traits"]
    assert [v["id"] for v in after["primary-authorization"]["values"]] == [int(contact.id)]
    assert after["authorization-permissions"] == "Everything"
    stored = sim.control.sim.data.attachments
    [old], [new] = before["network-diagram"], after["network-diagram"]
    # the file survived the PATCH: the connector uploaded it again (IT Glue erases it otherwise)
    assert (new["file_name"], stored[new["id"]]["content"]) == (old["file_name"], stored[old["id"]]["content"])
    for key in (
        "notes",
        "site-name",
        "points-of-contact",
        "report-recipients",
        "internet-provider",
        "onboarding-status",
    ):
        assert after[key] == before[key], key


def test_simulator_really_replaces_traits(sim: Sim) -> None:
    """The guard on the test above: a PATCH with one trait erases the rest, as IT Glue does."""
    import httpx

    asset = _asset_of(sim)
    response = httpx.patch(
        f"{sim.url}/flexible_assets/{asset['id']}",
        headers={"x-api-key": sim.control.api_key, "Content-Type": "application/vnd.api+json"},
        json={"data": {"type": "flexible-assets", "attributes": {"traits": {"site-name": "Only this"}}}},
    )
    assert response.status_code == 200
    assert sim.control.record("site_summaries", asset["id"])["attributes"]["traits"] == {
        "site-name": "Only this"
    }


def test_simulator_erases_a_file_sent_back_in_its_read_shape(sim: Sim) -> None:
    """The guard on the tests above (itglue/powershellwrapper issue 161): a file survives a
    PATCH only if it is uploaded again."""
    import httpx

    asset = _asset_of(sim)
    traits = dict(sim.control.record("site_summaries", asset["id"])["attributes"]["traits"])
    assert traits["network-diagram"]
    traits = {k: v for k, v in traits.items() if k not in ("points-of-contact", "primary-authorization",
                                                            "secondary-authorization", "report-recipients")}
    response = httpx.patch(
        f"{sim.url}/flexible_assets/{asset['id']}",
        headers={"x-api-key": sim.control.api_key, "Content-Type": "application/vnd.api+json"},
        json={"data": {"type": "flexible-assets", "attributes": {"traits": traits}}},
    )
    assert response.status_code == 200
    assert "network-diagram" not in sim.control.record("site_summaries", asset["id"])["attributes"]["traits"]


def test_a_file_that_cannot_be_downloaded_refuses_the_update_and_leaves_the_asset_as_it_was(sim: Sim) -> None:
    asset = _asset_of(sim)
    before = sim.control.record("site_summaries", asset["id"])["attributes"]["traits"]
    sim.control.sim.data.attachments.pop(before["network-diagram"][0]["id"])  # its download now 404s
    with pytest.raises(RecordRejected, match=r"would erase the file 'network-diagram\.pdf'"):
        sim.make().update("site_summaries", asset["id"], {"labels": {"Authorization Permissions": "None"}})
    assert sim.control.record("site_summaries", asset["id"])["attributes"]["traits"] == before


def test_create_site_summary_and_read_it_back(sim: Sim) -> None:
    connector = sim.make()
    org = _free_org(sim)
    created = connector.create(
        "site_summaries",
        {
            "attributes": {"organization-id": int(org)},
            "labels": {
                "Site Name": "Branch Office",
                "Authorization Permissions": "Purchases",
                "Points of Contact": [],
            },
        },
    )
    stored = connector.get("site_summaries", created.id)
    assert stored["attributes"]["name"] == "Branch Office"
    assert stored["attributes"]["flexible-asset-type-id"] == sim.control.site_summary_type_id
    assert stored["labels"]["Authorization Permissions"] == "Purchases"
    assert "points-of-contact" not in stored["attributes"]["traits"]


def test_unknown_site_summary_label_lists_the_fields(sim: Sim) -> None:
    asset = _asset_of(sim)
    with pytest.raises(ConfigError) as err:
        sim.make().update("site_summaries", asset["id"], {"labels": {"Favourite Colour": "blue"}})
    assert "Points of Contact" in str(err.value)


def test_missing_site_summary_type_names_the_setting(sim: Sim) -> None:
    with pytest.raises(ConfigError, match="HUB_ITGLUE__SITE_SUMMARY_TYPE"):
        sim.make(site_summary_type="Site Overview").site_summary_type()


def test_mapped_site_summary_write_through_the_mapping(sim: Sim) -> None:
    """Core SiteSummary -> mapping -> connector update -> IT Glue, unmanaged traits intact."""
    connector = sim.make()
    mapping = load_mapping("itglue", [MAPPINGS]).entity("site_summaries")
    asset = _asset_of(sim)
    core = mapping.to_core(asset, connector)
    assert isinstance(core, SiteSummary)
    changed = core.model_copy(update={"authorization_permissions": "Approve new users only"})
    changes = mapping.to_vendor(
        changed, connector, fields=["authorization_permissions", "primary_authorization"]
    )
    connector.update("site_summaries", asset["id"], changes)
    after = connector.get("site_summaries", asset["id"])
    assert after["labels"]["Authorization Permissions"] == "Approve new users only"
    assert after["labels"]["Primary Authorization"] == asset["labels"]["Primary Authorization"]
    assert [f["file_name"] for f in after["labels"]["Network Diagram"]] == [
        f["file_name"] for f in asset["labels"]["Network Diagram"]
    ]


def test_picklist_labels_and_unknown_label(sim: Sim) -> None:
    connector = sim.make()
    assert connector.picklist_value("organizations", "attributes.organization-type-id", "prospect") == 87
    assert connector.picklist_label("organizations", "attributes.organization-status-id", 69) == "Inactive"
    with pytest.raises(ConfigError) as err:
        connector.picklist_value("organizations", "attributes.organization-type-id", "Reseller")
    assert "Customer" in str(err.value) and "Prospect" in str(err.value)
    assert ContactRole  # roles are not written to IT Glue contacts (see docs)


def test_readiness_names_the_site_summary_fields_and_labels_the_tenant_lacks(sim: Sim) -> None:
    connector = sim.make()
    needs = [
        Need("field", "site_summaries", "labels.Points of Contact", source="mapping itglue.yaml"),
        Need("field", "site_summaries", "labels.Favourite Colour", source="mapping itglue.yaml"),
        Need("value", "organizations", "attributes.organization-type-id", "Customer", picklist=True),
        Need("value", "organizations", "attributes.organization-type-id", "Reseller", picklist=True),
    ]
    found = {f.what: f for f in connector.readiness(needs)}
    assert found["site_summaries.labels.Points of Contact"].ok
    colour = found["site_summaries.labels.Favourite Colour"]
    assert not colour.ok and "Points of Contact" in colour.detail and "Flexible Asset Types" in colour.fix
    assert found["organizations.attributes.organization-type-id 'Customer'"].ok
    assert not found["organizations.attributes.organization-type-id 'Reseller'"].ok
