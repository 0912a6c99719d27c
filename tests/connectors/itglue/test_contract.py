"""respx contract tests built from shared/vendor-specs/itglue/examples: every mocked route
must be called (respx's assert_all_called)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from hub.sdk import VendorError

from .conftest import example, make_connector

BASE = "https://api.itglue.com"


def _type_list(type_id: str, name: str = "Site Summary") -> dict:
    return {
        "data": [{"id": type_id, "type": "flexible-asset-types", "attributes": {"name": name}}],
        "meta": {
            "current-page": 1,
            "next-page": None,
            "prev-page": None,
            "total-pages": 1,
            "total-count": 1,
            "filters": {},
        },
        "links": {},
    }


@respx.mock(assert_all_called=True)
def test_site_summary_type_fields_from_the_real_fields_response(respx_mock: respx.MockRouter) -> None:
    """filter[name] finds the type; without included fields the nested fields route is asked,
    and the real IT Glue fields response gives labels and name-keys."""
    fields = example("flexible_asset_fields_list_response.json")
    types = respx_mock.get(
        f"{BASE}/flexible_asset_types",
        params={"filter[name]": "Site Summary", "include": "flexible_asset_fields"},
    )
    types.mock(return_value=httpx.Response(200, json=_type_list("124964")))
    nested = respx_mock.get(f"{BASE}/flexible_asset_types/124964/relationships/flexible_asset_fields")
    nested.mock(return_value=httpx.Response(200, json=fields))
    connector = make_connector()
    site_type = connector.site_summary_type()
    assert site_type.id == 124964
    assert [f.label for f in site_type.fields] == [
        "SonicWALL",
        "Address Object Name",
        "UUID",
        "Zone",
        "Object Type",
        "Object Value",
    ]
    assert site_type.field_by_label("Object Type").name_key == "object-type"
    assert site_type.field_by_label("SonicWALL").kind == "Tag"
    assert types.calls.last.request.headers["x-api-key"] == "ITG.test-key"


@respx.mock(assert_all_called=True)
def test_organizations_follow_total_pages_from_the_shape_example(respx_mock: respx.MockRouter) -> None:
    body = example("organizations_list_response.SHAPE.json")
    route = respx_mock.get(f"{BASE}/organizations")
    pages = []
    for number in (1, 2, 3):
        page = json.loads(json.dumps(body))
        page["data"][0]["id"] = str(123455 + number)
        page["meta"]["current-page"] = number
        pages.append(httpx.Response(200, json=page))
    route.side_effect = pages
    records = [r for p in make_connector().stream("organizations").read() for r in p.records]
    assert [r["id"] for r in records] == ["123456", "123457", "123458"]
    sent = [dict(c.request.url.params) for c in route.calls]
    assert [s["page[number]"] for s in sent] == ["1", "2", "3"]
    assert all(s["page[size]"] == "1000" and s["sort"] == "-updated_at" for s in sent)
    assert records[0]["attributes"]["organization-type-name"] == "Customer"


@respx.mock(assert_all_called=True)
def test_error_shape_example_becomes_the_users_message(respx_mock: respx.MockRouter) -> None:
    body = example("error_response.SHAPE.json")
    respx_mock.post(f"{BASE}/organizations").mock(return_value=httpx.Response(422, json=body))
    with pytest.raises(VendorError) as err:
        make_connector().create("organizations", {"attributes": {"name": ""}})
    assert err.value.vendor_message == "Name can't be blank"
    assert "Name can't be blank" in str(err.value) and "POST https://api.itglue.com/organizations" in str(
        err.value
    )


@respx.mock(assert_all_called=True)
def test_site_summary_create_body_matches_the_documented_request(respx_mock: respx.MockRouter) -> None:
    """The POST body has the shape of the synthetic create request: type, organization-id,
    flexible-asset-type-id, traits by name-key with Tag traits as id arrays."""
    expected = example("flexible_asset_site_summary_create_request.SYNTHETIC.json")["data"]
    fields = {
        "data": [],
        "included": [
            {
                "id": str(i),
                "type": "flexible-asset-fields",
                "attributes": {
                    "order": i,
                    "name": label,
                    "name-key": key,
                    "kind": kind,
                    "flexible-asset-type-id": 98765,
                    "tag-type": "Contacts" if kind == "Tag" else None,
                    "required": False,
                },
            }
            for i, (label, key, kind) in enumerate(
                [
                    ("Site Name", "site-name", "Text"),
                    ("Primary Contact", "primary-contact", "Tag"),
                    ("Internet Provider", "internet-provider", "Text"),
                    ("Onboarding Status", "onboarding-status", "Select"),
                    ("Notes", "notes", "Textbox"),
                ],
                start=1,
            )
        ],
    }
    listing = _type_list("98765") | {"included": fields["included"]}
    respx_mock.get(f"{BASE}/flexible_asset_types").mock(return_value=httpx.Response(200, json=listing))
    created = {"data": {"id": "777", "type": "flexible-assets", "attributes": {**expected["attributes"]}}}
    post = respx_mock.post(f"{BASE}/flexible_assets").mock(return_value=httpx.Response(201, json=created))
    result = make_connector().create(
        "site_summaries",
        {
            "attributes": {"organization-id": 123456},
            "labels": {
                "Site Name": "Acme HQ",
                "Primary Contact": ["555001"],
                "Internet Provider": "Example Fiber",
                "Onboarding Status": "In Progress",
                "Notes": "<p>Created by integration hub</p>",
            },
        },
    )
    request = post.calls.last.request
    assert request.headers["content-type"] == "application/vnd.api+json"
    assert json.loads(request.content) == {"data": expected}
    assert result.id == "777" and result.record["labels"]["Primary Contact"] == ["555001"]


@respx.mock(assert_all_called=True)
def test_malformed_page_is_a_vendor_error_naming_the_page(respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{BASE}/contacts").mock(return_value=httpx.Response(200, json={"data": "oops"}))
    with pytest.raises(VendorError, match="malformed contacts page 1"):
        list(make_connector().stream("contacts").read())


@respx.mock(assert_all_called=True)
def test_links_next_is_followed_when_meta_has_no_total_pages(respx_mock: respx.MockRouter) -> None:
    record = {"id": "1", "type": "contacts", "attributes": {"updated-at": "2025-01-01T00:00:00.000Z"}}
    route = respx_mock.get(f"{BASE}/contacts")
    route.side_effect = [
        httpx.Response(
            200, json={"data": [record], "links": {"next": f"{BASE}/contacts?page%5Bnumber%5D=2"}}
        ),
        httpx.Response(200, json={"data": [{**record, "id": "2"}], "links": {}}),
    ]
    records = [r["id"] for p in make_connector().stream("contacts").read() for r in p.records]
    assert records == ["1", "2"]
