"""Contract tests with respx on the vendor's own payloads: the spec examples and the guide's shapes.

Account Management payloads are the spec's examples (``components.schemas.*.example``);
Advanced Automation answers the spec does not describe follow the guide's example
answers (their structure, with values of our own: ``fixtures/*.SHAPE.json``). Every
mocked route must be called.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from connectors.acronis import AcronisConnector
from connectors.acronis.settings import AcronisSettings
from hub.sdk import (
    AuthenticationError,
    ConflictError,
    ConnectorContext,
    FakeClock,
    PermissionDeniedError,
    RecordRejected,
    RetryPolicy,
)
from tests.conftest import vendor_specs

from .conftest import ctx

DC = "https://eu2-cloud.acronis.com"
AM = f"{DC}/api/2"
AA = f"{DC}/api/advanced-automation/v1"
CLIENT_ID = "8a3f0f2e-7f0b-4a43-9f55-1d4b7b9f3c11"
SECRET = "client-secret-value"
PARTNER = "fa6859a9-f5e1-4faf-a56c-5a0ae866dc4f"
FIXTURES = Path(__file__).parent / "fixtures"


def am_spec() -> dict[str, Any]:
    return dict(json.loads((vendor_specs() / "acronis" / "account-management-v2.openapi.json").read_text()))


def aa_spec() -> dict[str, Any]:
    return dict(json.loads((vendor_specs() / "acronis" / "advanced-automation-v1.openapi.json").read_text()))


def shape(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.SHAPE.json").read_text())


def tenant_example(**changes: Any) -> dict[str, Any]:
    """The spec's ``tenant`` example (a partner), changed into what the test needs."""
    return {**am_spec()["components"]["schemas"]["tenant"]["example"], **changes}


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def connector(clock: FakeClock) -> AcronisConnector:
    settings = AcronisSettings(datacenter_url=DC, client_id=CLIENT_ID, client_secret=SECRET, page_size=2)
    retry = RetryPolicy(attempts=3, base=1.0, cap=4.0, jitter=0.0)
    return AcronisConnector(settings, ConnectorContext(clock=clock, retry=retry))


def token_route(mock: respx.MockRouter, *answers: httpx.Response) -> respx.Route:
    example = am_spec()["components"]["schemas"]["token"]["example"]
    ok = httpx.Response(200, json={**example, "expires_in": 7200})
    return mock.post(f"{AM}/idp/token").mock(side_effect=list(answers) or [ok, ok, ok])


def client_route(mock: respx.MockRouter) -> respx.Route:
    example = am_spec()["components"]["schemas"]["client"]["example"]
    return mock.get(f"{AM}/clients/{CLIENT_ID}").respond(json={**example, "tenant_id": PARTNER})


def test_one_token_serves_every_call_until_it_ends(
    mock: respx.MockRouter, connector: AcronisConnector, clock: FakeClock
) -> None:
    token = token_route(mock)
    client_route(mock)
    tenant = mock.get(f"{AM}/tenants/{PARTNER}").respond(json=tenant_example(id=PARTNER))
    connector.api.partner_id()
    connector.api.tenant(PARTNER)
    connector.api.tenant(PARTNER)
    assert token.call_count == 1
    request = token.calls[0].request
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert request.content == b"grant_type=client_credentials"
    assert tenant.calls[0].request.headers["Authorization"] == "Bearer nowhere_to_apply"
    clock.advance(7200 - 30)  # inside the refresh margin: a new token before the old one ends
    connector.api.tenant(PARTNER)
    assert token.call_count == 2


def test_a_call_refused_401_gets_one_new_token_and_is_sent_again(
    mock: respx.MockRouter, connector: AcronisConnector
) -> None:
    token = token_route(mock)
    route = mock.get(f"{AM}/tenants/{PARTNER}").mock(
        side_effect=[httpx.Response(401, json={"error": {"code": 401, "domain": "x", "message": "expired",
                                                         "details": {}}}),
                     httpx.Response(200, json=tenant_example(id=PARTNER))]
    )  # fmt: skip
    assert connector.api.tenant(PARTNER)["id"] == PARTNER
    assert (token.call_count, route.call_count) == (2, 2)


def test_refused_credentials_name_the_settings_and_never_the_secret(
    mock: respx.MockRouter, connector: AcronisConnector
) -> None:
    token_route(mock, httpx.Response(401, json={"error": "access_denied", "error_description": "bad client"}))
    with pytest.raises(AuthenticationError) as info:
        connector.api.partner_id()
    assert "HUB_ACRONIS__CLIENT_SECRET" in str(info.value) and "bad client" in str(info.value)
    assert SECRET not in str(info.value)


def test_tenants_follow_the_cursor_alone_and_keep_customers(
    mock: respx.MockRouter, connector: AcronisConnector
) -> None:
    token_route(mock)
    client_route(mock)
    first = {"timestamp": "2024-01-01T00:00:00", "paging": {"cursors": {"after": "c-1"}}, "items": [
        tenant_example(id=PARTNER, kind="partner"),
        tenant_example(id="0b0a0b0a-0000-4000-8000-000000000001", kind="customer", name="Acme"),
    ]}  # fmt: skip
    second = {"timestamp": "2024-01-01T00:00:00", "paging": {"cursors": {}}, "items": [
        tenant_example(id="0b0a0b0a-0000-4000-8000-000000000002", kind="customer", name="Birch"),
        tenant_example(id="0b0a0b0a-0000-4000-8000-000000000003", kind="unit", name="Birch - unit"),
        tenant_example(id="0b0a0b0a-0000-4000-8000-000000000004", kind="customer", name="Gone",
                       deleted_at="2024-01-01T00:00:00"),
    ]}  # fmt: skip
    route = mock.get(f"{AM}/tenants").mock(side_effect=[httpx.Response(200, json=first),
                                                          httpx.Response(200, json=second)])  # fmt: skip
    names = [t["name"] for t in connector.api.customer_tenants()]
    assert names == ["Acme", "Birch"]
    assert dict(route.calls[0].request.url.params) == {
        "subtree_root_id": PARTNER, "limit": "2", "with_contacts": "true",
    }  # fmt: skip
    assert dict(route.calls[1].request.url.params) == {"after": "c-1"}


def test_offering_items_are_asked_for_every_edition_and_usage_counts(
    mock: respx.MockRouter, connector: AcronisConnector
) -> None:
    token_route(mock)
    tenant = "f313ecf6-9256-4afd-9d47-72e032ee81d0"  # the tenant of the spec's examples
    schemas = am_spec()["components"]["schemas"]
    offering = schemas["offeringItemList"]["example"]["value"]
    items = mock.get(f"{AM}/tenants/{tenant}/offering_items").respond(json=offering)
    mock.get(f"{AM}/tenants/{tenant}/usages").respond(json=schemas["usageList"]["example"]["value"])
    services = connector.services_of(tenant)
    assert dict(items.calls[0].request.url.params) == {"status": "1", "edition": "*"}
    # the example's feature item (local_storage) is no service; usage joins by the item's name
    assert [(s.name, s.unit) for s in services] == [
        ("adv_storage", "bytes"), ("dre_mobiles", "quantity"), ("vms", "quantity"),
    ]  # fmt: skip
    assert [s.quantity for s in services] == [0.0, 0.0, 0.0]  # usage names differ: adv_vms, storage ...


def test_a_tenant_update_carries_the_version_read_and_a_409_is_a_conflict(
    mock: respx.MockRouter, connector: AcronisConnector
) -> None:
    token_route(mock)
    tenant_id = "f313ecf6-9256-4afd-9d47-72e032ee81d0"
    mock.get(f"{AM}/tenants/{tenant_id}").respond(json=tenant_example(version=7))
    put = mock.put(f"{AM}/tenants/{tenant_id}").respond(
        409, json={"error": {"code": 409, "domain": "AccountServer", "message": "version mismatch", "details": {}}}
    )
    with pytest.raises(ConflictError, match="version mismatch"):
        connector.update("tenants", tenant_id, {"name": "Renamed", "version": 1})
    assert json.loads(put.calls[0].request.content) == {"name": "Renamed", "version": 7}


def test_billing_information_is_written_as_the_guide_shows_and_read_back(
    mock: respx.MockRouter, connector: AcronisConnector
) -> None:
    token_route(mock)
    tenant_id = "41e19c11-2606-475d-b459-56a5509494ee"
    mock.get(f"{AM}/tenants/{tenant_id}").respond(json=tenant_example(id=tenant_id, kind="customer", name="Foobar"))
    listing = shape("customers")
    listing["Customers"][1]["ExternalTenantUUID"] = tenant_id
    detail = shape("customer")
    filled = {**detail, "Street": "24 Esenni motivi", "Zipcode": "1330", "City": "Sofia",
              "Country": "b28c162b-007a-42a1-ba97-d798e9e26909", "Email": "foo.bar@example.com",
              "SendInvoiceByEmail": True}  # fmt: skip
    customers = mock.post(f"{AA}/Customer").mock(side_effect=[
        httpx.Response(200, json=listing), httpx.Response(200, json=detail), httpx.Response(200, json=filled),
    ])  # fmt: skip
    mock.get(f"{AA}/StaticFormData").respond(json=shape("static_form_data"))
    put = mock.put(f"{AA}/Customers").respond(json=filled)
    action = connector.action("set_billing_info")
    params = action.params.model_validate({
        "tenant": tenant_id, "street": "24 Esenni motivi", "zipcode": "1330", "city": "Sofia",
        "country": "Bulgaria", "email": "foo.bar@example.com",
    })  # fmt: skip
    assert action.run(params, ctx()) == {"customer_id": detail["Id"], "changed": True}
    assert json.loads(put.calls[0].request.content) == {
        "Tenant": tenant_id, "Name": detail["Name"], "Street": "24 Esenni motivi", "Zipcode": "1330",
        "City": "Sofia", "Country": "b28c162b-007a-42a1-ba97-d798e9e26909", "Email": "foo.bar@example.com",
        "SendInvoiceByEmail": True,
    }  # fmt: skip
    assert dict(customers.calls[0].request.url.params) == {"Active": "true", "Page": "1", "PageSize": "2"}
    assert dict(customers.calls[1].request.url.params) == {"id": detail["Id"]}


def test_billing_information_nobody_gave_is_refused_before_anything_is_sent(
    mock: respx.MockRouter, connector: AcronisConnector
) -> None:
    token_route(mock)
    tenant_id = "41e19c11-2606-475d-b459-56a5509494ee"
    mock.get(f"{AM}/tenants/{tenant_id}").respond(json=tenant_example(id=tenant_id, kind="customer", name="Foobar"))
    action = connector.action("set_billing_info")
    params = action.params.model_validate({"tenant": tenant_id, "street": "24 Esenni motivi", "email": None})
    with pytest.raises(RecordRejected, match="lacks postal code, city, country, e-mail"):
        action.run(params, ctx())


def test_a_contract_and_its_parts_carry_what_the_spec_and_the_guide_document(
    mock: respx.MockRouter, connector: AcronisConnector
) -> None:
    token_route(mock)
    tenant_id = "41e19c11-2606-475d-b459-56a5509494ee"
    mock.get(f"{AM}/tenants/{tenant_id}").respond(json=tenant_example(id=tenant_id, kind="customer", name="Foobar"))
    listing = shape("customers")
    listing["Customers"][1]["ExternalTenantUUID"] = tenant_id
    customer = {**shape("customer"), "Street": "1 Main", "Zipcode": "1", "City": "Sofia",
                "Country": "b28c162b-007a-42a1-ba97-d798e9e26909", "Email": "ap@example.com"}  # fmt: skip
    answers = [httpx.Response(200, json=listing), httpx.Response(200, json=customer)]
    mock.post(f"{AA}/Customer").mock(side_effect=answers)
    schemas = am_spec()["components"]["schemas"]
    offering = {"timestamp": "2024-01-01T00:00:00", "items": [
        {**schemas["offeringItemList"]["example"]["value"]["items"][0], "name": "workstations"}]}  # fmt: skip
    usage = {"items": [{**schemas["usageList"]["example"]["value"]["items"][0], "name": "workstations", "value": 12,
                        "absolute_value": 12}]}  # fmt: skip
    mock.get(f"{AM}/tenants/{tenant_id}/offering_items").respond(json=offering)
    mock.get(f"{AM}/tenants/{tenant_id}/usages").respond(json=usage)
    mock.get(f"{AA}/Contracts").respond(json={"contracts": []})
    products = shape("products")
    products["products"]["Result"]["Products"][0]["Name"] = "Workstations"
    mock.get(f"{AA}/Products").respond(json=products)
    mock.get(f"{AA}/BillingEntities").respond(json=shape("billing_entities"))
    contract_id = aa_spec()["paths"]["/Contracts"]["put"]["responses"]["200"]["content"]["application/json"][
        "schema"]["example"]["contractId"]  # fmt: skip
    put_contract = mock.put(f"{AA}/Contracts").respond(json={"contractId": contract_id})
    mock.get(f"{AA}/ContractPart").respond(json={"ContractParts": []})
    mock.get(f"{AA}/StaticFormData").respond(json=shape("static_form_data"))
    put_part = mock.put(f"{AA}/ContractPart").respond(json={})
    connector.settings.products = {"workstations": "workstations"}
    action = connector.action("ensure_contract")
    params = action.params.model_validate({"tenant": tenant_id, "name": "Foobar - Acronis services",
                                           "start_date": "2026-02-01"})  # fmt: skip
    result = action.run(params, ctx())
    assert result["created"] is True and result["contract_id"] == contract_id
    entity = shape("billing_entities")["entities"][0]
    assert json.loads(put_contract.calls[0].request.content) == {
        "Name": "Foobar - Acronis services", "Customer": customer["Id"], "StartDate": "2026-02-01T00:00:00Z",
        "BillingEntity": entity["Id"], "PaymentIntervalInMonths": 1, "BillInAdvance": True,
        "SendInvoiceByEmail": False, "ContactEmail": "ap@example.com",
    }  # fmt: skip
    part = json.loads(put_part.calls[0].request.content)
    product = products["products"]["Result"]["Products"][0]
    assert (part["Contract"], part["Product"], part["Quantity"], part["Price"]) == (
        contract_id, product["Id"], 12.0, product["Price"]
    )
    assert part["ContractPartType"] == "9a4bb5d5-0000-4000-8000-00000000b500"  # "Default type", by its label


def test_products_come_from_the_guide_s_path_else_the_spec_s(
    mock: respx.MockRouter, connector: AcronisConnector
) -> None:
    token_route(mock)
    guide = mock.get(f"{AA}/Products").respond(404, json={"Message": "not found"})
    spec = mock.get(f"{AA}/Product").respond(json=shape("products"))
    assert [p["Name"] for p in connector.api.products()] == ["Backup workstation", "Cloud storage"]
    assert [p["Name"] for p in connector.api.products()] == ["Backup workstation", "Cloud storage"]
    assert (guide.call_count, spec.call_count) == (1, 2), "the path that answered is remembered"


@pytest.mark.parametrize("envelope", ["spec", "guide"])
def test_the_next_invoice_number_reads_either_documented_envelope(
    mock: respx.MockRouter, connector: AcronisConnector, envelope: str
) -> None:
    token_route(mock)
    mock.get(f"{AA}/BillingEntities").respond(json=shape("billing_entities"))
    invoices = shape("invoices")  # the guide's envelope: Invoices and Paging at the top
    if envelope == "spec":
        invoices = {"InvoicesPagedSearchResult": {"Invoices": invoices["Invoices"], "Paging": invoices["Paging"]}}
    route = mock.get(f"{AA}/InvoiceOverview").respond(json=invoices)
    result = connector.action("invoice_numbering").run(connector.action("invoice_numbering").params(), ctx())
    assert (result["start_number"], result["issued"], result["highest_issued"], result["next_number"]) == (4, 3, 6, 7)
    params = dict(route.calls[0].request.url.params)
    assert params == {"SortColumn": "InvoiceNumber", "SortDirection": "Desc", "Page": "1", "PageSize": "2"}


def test_check_is_the_first_run_checklist(mock: respx.MockRouter, connector: AcronisConnector) -> None:
    token_route(mock)
    client_route(mock)
    mock.get(f"{AM}/tenants/{PARTNER}").respond(json=tenant_example(id=PARTNER, name="Summit IT"))
    mock.get(f"{AA}/BillingEntities").respond(403, json={"Message": "forbidden"})
    with pytest.raises(PermissionDeniedError, match="may not use Advanced Automation"):
        connector.check()


def test_a_lost_contract_answer_is_looked_up_before_anything_is_sent_again(
    mock: respx.MockRouter, connector: AcronisConnector
) -> None:
    """A 5xx after PUT /Contracts may mean the contract exists: it is found by name, not made twice."""
    token_route(mock)
    customer = {**shape("customer"), "Street": "1 Main", "Zipcode": "1", "City": "S", "Country": "x", "Email": "a@b.c"}
    mock.get(f"{AA}/BillingEntities").respond(json=shape("billing_entities"))
    made = {"Id": "5c9c9f8a-0000-4000-8000-0000000000c1", "Name": "Foobar - Acronis services"}
    lookup = mock.get(f"{AA}/Contracts").respond(json={"contracts": [made]})
    mock.put(f"{AA}/Contracts").respond(503, json={"Message": "gateway"})
    params = connector.action("ensure_contract").params.model_validate(
        {"tenant": "x", "name": "Foobar - Acronis services", "start_date": "2026-02-01"}
    )
    assert connector._create_contract(customer, params, customer["Id"]) == made["Id"]
    assert lookup.call_count == 1
