"""mappings/itglue.yaml round trips (vendor -> core -> vendor) and property tests of the parsers."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.itglue.jsonapi import error_message, next_page
from connectors.itglue.plugin import MAPPINGS
from connectors.itglue.site_summary import AssetField, AssetType, labels_of, traits_for_write
from hub.mapping import load_mapping
from hub.sdk import AccountType, Contact, Organization, RecordRejected, SiteSummary

from .conftest import Sim

MAPPING = load_mapping("itglue", [MAPPINGS])


def _first(sim: Sim, stream: str, where=lambda r: True) -> dict:
    return next(r for p in sim.make().stream(stream).read() for r in p.records if where(r))


def test_organization_round_trip(sim: Sim) -> None:
    connector = sim.make()
    mapping = MAPPING.entity("organizations")
    raw = _first(sim, "organizations")
    core = mapping.to_core(raw, connector)
    assert isinstance(core, Organization)
    assert core.name == raw["attributes"]["name"] and core.active is True
    assert (
        core.account_type
        == {"Customer": AccountType.customer, "Prospect": AccountType.prospect, "Vendor": AccountType.vendor}[
            raw["attributes"]["organization-type-name"]
        ]
    )
    assert core.ref_id("itglue") == raw["id"]
    back = mapping.to_vendor(core, connector)
    assert back == {
        "attributes": {
            "name": raw["attributes"]["name"],
            "organization-type-id": raw["attributes"]["organization-type-id"],
            "organization-status-id": raw["attributes"]["organization-status-id"],
        }
    }
    inactive = mapping.to_vendor(core.model_copy(update={"active": False}), connector, fields=["active"])
    assert inactive == {"attributes": {"organization-status-id": 69}}


def test_contact_round_trip(sim: Sim) -> None:
    connector = sim.make()
    mapping = MAPPING.entity("contacts")
    raw = _first(sim, "contacts", lambda r: not r["attributes"]["psa-integration"])
    core = mapping.to_core(raw, connector)
    assert isinstance(core, Contact)
    assert core.email == raw["attributes"]["contact-emails"][0]["value"]
    assert core.phone == "+1" + raw["attributes"]["contact-phones"][0]["value"]
    assert core.organization.id == str(raw["attributes"]["organization-id"])
    back = mapping.to_vendor(core, connector)
    # written through the connector, the payload leaves the stored contact unchanged
    connector.update("contacts", raw["id"], back)
    again = mapping.to_core(connector.get("contacts", raw["id"]), connector)
    assert again.model_dump(exclude={"updated_at"}) == core.model_dump(exclude={"updated_at"})


def test_site_summary_round_trip(sim: Sim) -> None:
    connector = sim.make()
    mapping = MAPPING.entity("site_summaries")
    raw = _first(sim, "site_summaries")
    core = mapping.to_core(raw, connector)
    assert isinstance(core, SiteSummary)
    labels = raw["labels"]
    assert core.points_of_contact == labels["Points of Contact"]
    assert core.primary_authorization == labels["Primary Authorization"][0]
    assert core.authorization_permissions == labels["Authorization Permissions"]
    assert core.fields["Network Diagram"] == labels["Network Diagram"]
    back = mapping.to_vendor(core, connector)
    assert back["attributes"] == {"organization-id": raw["attributes"]["organization-id"]}
    assert back["labels"]["Primary Authorization"] == labels["Primary Authorization"]
    assert back["labels"]["Report Recipients"] == labels["Report Recipients"]
    connector.update("site_summaries", raw["id"], back)
    again = mapping.to_core(connector.get("site_summaries", raw["id"]), connector)
    # the diagram was uploaded again (the only way a PATCH keeps it): same file, new upload
    files = again.fields.pop("Network Diagram"), core.fields.pop("Network Diagram")
    assert [[f["file_name"] for f in side] for side in files] == [["network-diagram.pdf"]] * 2
    assert again.model_dump(exclude={"updated_at"}) == core.model_dump(exclude={"updated_at"})


# -- properties ------------------------------------------------------------------------

_text = st.text(min_size=1, max_size=20).filter(lambda s: s.strip())
_error = st.fixed_dictionaries(
    {"status": st.sampled_from(["422", 422, "400"])},
    optional={
        "title": _text,
        "detail": _text,
        "source": st.fixed_dictionaries({"pointer": st.sampled_from(["/data/attributes/name", "data/x"])}),
    },
)


@given(st.lists(_error, min_size=1, max_size=4))
def test_error_message_keeps_every_vendor_detail(errors: list[dict]) -> None:
    response = httpx.Response(422, json={"errors": errors})
    message = error_message(response)
    assert message is not None
    for e in errors:
        assert (e.get("detail") or e.get("title") or str(e["status"])).strip() in message


@given(st.binary(max_size=40))
def test_error_message_never_raises_on_garbage(body: bytes) -> None:
    error_message(httpx.Response(500, content=body))


@given(st.integers(1, 50), st.integers(1, 50))
def test_next_page_stops_at_total_pages(page: int, total: int) -> None:
    nxt = next_page({"meta": {"total-pages": total}}, page)
    assert nxt == (page + 1 if page < total else None)


_TYPE = AssetType(
    1,
    "Site Summary",
    (
        AssetField("Points of Contact", "points-of-contact", "Tag", "Contacts"),
        AssetField("Notes", "notes", "Textbox"),
        AssetField("Network Diagram", "network-diagram", "Upload"),
    ),
)
_ids = st.lists(st.integers(1, 10**7), max_size=4, unique=True)


@settings(max_examples=60)
@given(_ids, st.text(max_size=30), _ids)
def test_traits_for_write_keeps_unmanaged_and_applies_changes(current_ids, note, new_ids) -> None:
    current = {
        "points-of-contact": {
            "type": "Contacts",
            "values": [{"id": i, "name": f"n{i}"} for i in current_ids],
        },
        "notes": note,
        "network-diagram": [{"id": 5, "file_name": "d.pdf", "url": "u"}],
    }
    files = {"u": b"%PDF diagram"}
    download = lambda item: files.get(item["url"])  # noqa: E731
    traits = traits_for_write(_TYPE, current, {"Points of Contact": [str(i) for i in new_ids]}, download)
    assert traits["points-of-contact"] == new_ids
    assert traits["notes"] == note
    # the file goes back uploaded again: the only shape in which a PATCH keeps it
    assert traits["network-diagram"] == [{"content": base64.b64encode(b"%PDF diagram").decode(), "file_name": "d.pdf"}]
    unchanged = traits_for_write(_TYPE, current, {}, download)
    assert unchanged["points-of-contact"] == current_ids
    assert labels_of(_TYPE, current)["Points of Contact"] == [str(i) for i in current_ids]


def test_a_file_that_cannot_be_uploaded_again_refuses_the_update_instead_of_erasing_it() -> None:
    current = {"notes": "n", "network-diagram": [{"id": 5, "file_name": "d.pdf", "url": "u"}]}
    with pytest.raises(RecordRejected, match=r"would erase the file 'd\.pdf' of field 'Network Diagram'"):
        traits_for_write(_TYPE, current, {"Notes": "changed"}, lambda item: None)
    with pytest.raises(RecordRejected, match="issue 161"):
        traits_for_write(_TYPE, current, {"Notes": "changed"})  # no way to download at all
    # a file the change itself uploads, or removes, needs no download
    upload = [{"content": "JVBERg==", "file_name": "new.pdf"}]
    assert traits_for_write(_TYPE, current, {"Network Diagram": upload})["network-diagram"] == upload
    assert traits_for_write(_TYPE, current, {"Network Diagram": None})["network-diagram"] is None


_WITH_PASSWORD = AssetType(
    1, "Site Summary", (*_TYPE.fields, AssetField("Wi-Fi Password", "wi-fi-password", "Password"))
)


@pytest.mark.parametrize("shown", ["********", "••••", {"id": 9, "name": "Wi-Fi"}])
def test_a_password_the_api_does_not_show_is_never_sent_back_as_something_else(shown: Any) -> None:
    current = {"notes": "n", "wi-fi-password": shown}
    with pytest.raises(RecordRejected, match="would erase the password in field 'Wi-Fi Password'"):
        traits_for_write(_WITH_PASSWORD, current, {"Notes": "changed"})
    # setting the password itself is fine, and a readable one goes back as it is
    assert traits_for_write(_WITH_PASSWORD, current, {"Wi-Fi Password": "s3cret!"})["wi-fi-password"] == "s3cret!"
    kept = traits_for_write(_WITH_PASSWORD, {"wi-fi-password": "plain"}, {"Notes": "x"})
    assert kept["wi-fi-password"] == "plain"
