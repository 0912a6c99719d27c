"""The simulator refuses what neither the spec nor the guide allows, and answers in the spec's shapes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI
from werkzeug.datastructures import Headers

from connectors.acronis.sim_spec import SpecRequest, account_management_spec
from tests.conftest import vendor_specs

from .conftest import Served, ctx

AA = "/api/advanced-automation/v1"


def bearer(sim: Served) -> dict[str, str]:
    c = sim.connector()
    c.api.partner_id()  # fetches a token
    assert c.auth.token is not None
    return {"Authorization": f"Bearer {c.auth.token.value}"}


def call(sim: Served, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {**bearer(sim), **kwargs.pop("headers", {})}
    return httpx.request(method, sim.url + path, headers=headers, timeout=10, **kwargs)


class SpecResponse:
    """A response as openapi-core reads it."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.data = response.content
        self.content_type = response.headers.get("content-type", "").split(";")[0]
        self.headers = Headers(dict(response.headers))


def _typed_nullables(node: Any, schemas: dict[str, Any]) -> None:
    """The spec writes nullable timestamps and ids as ``{nullable: true, allOf: [ref]}``, which
    OpenAPI 3.0.3 validators read as not nullable (the referenced schema refuses null), while its
    own examples carry null there (``deleted_at``, ``owner_id``); the copy given to the validator
    puts the referenced schema in place, nullable."""
    if isinstance(node, dict):
        refs = node.get("allOf") or []
        if node.get("nullable") and "type" not in node and len(refs) == 1 and "$ref" in refs[0]:
            node.update({**schemas[refs.pop()["$ref"].rsplit("/", 1)[-1]], "nullable": True})
            del node["allOf"]
        for value in node.values():
            _typed_nullables(value, schemas)
    elif isinstance(node, list):
        for value in node:
            _typed_nullables(value, schemas)


def _example_fields(spec: dict[str, Any]) -> None:
    """The spec's own answer example for GET /Contracts carries Id, Incasso, Contact and
    CustomFields, which its Contract schema (no additional properties) does not list: the
    copy given to the validator allows the fields of the vendor's example."""
    contract = spec["components"]["schemas"].get("Contract")
    if contract is None:
        return
    answer = spec["paths"]["/Contracts"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    for key in answer["example"]["contracts"][0]:
        contract["properties"].setdefault(key, {})


def spec_api(name: str) -> OpenAPI:
    spec = json.loads((vendor_specs() / "acronis" / name).read_text())
    _typed_nullables(spec, spec["components"]["schemas"])
    _example_fields(spec)
    for operations in spec["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    spec.pop("security", None)
    spec["components"].pop("securitySchemes", None)
    return OpenAPI.from_dict(spec)


def test_requests_neither_the_spec_nor_the_guide_allow_are_refused(sim: Served) -> None:
    partner = sim.control.data.partner_id
    unknown = call(sim, "GET", "/api/2/tenants", params={"subtree_root_id": partner, "sort": "name"})
    assert unknown.status_code == 400 and "unknown query parameter 'sort'" in unknown.json()["error"]["message"]
    no_version = call(sim, "PUT", f"/api/2/tenants/{sim.control.customer_ids()[0]}", json={"name": "x"})
    assert no_version.status_code == 400 and "version" in no_version.json()["error"]["message"]
    stray = call(sim, "PUT", f"{AA}/ContractPart", json={"Price": 1, "Colour": "red"})
    assert stray.status_code == 400 and "Colour" in stray.json()["Message"]
    assert call(sim, "GET", f"{AA}/Tickets").status_code == 404
    bad_limit = call(sim, "GET", "/api/2/tenants", params={"subtree_root_id": partner, "limit": "0"})
    assert bad_limit.status_code == 400


def test_what_the_guide_documents_beyond_the_spec_is_accepted(sim: Served) -> None:
    control = sim.control
    contract = next(iter(control.data.contracts))
    product = next(iter(control.data.products))
    part = {"Contract": contract, "Product": product, "Quantity": 3, "Price": 2.5}
    answer = call(sim, "PUT", f"{AA}/ContractPart", json=part)  # Contract and Quantity: guide, not spec
    assert answer.status_code == 200 and answer.json()["Quantity"] == 3
    orphan = call(sim, "PUT", f"{AA}/ContractPart", json={"Product": product, "Price": 2.5})
    assert orphan.status_code == 400 and "needs an existing contract" in orphan.json()["Message"]
    listing = call(sim, "POST", f"{AA}/Customer", params={"Page": 1, "PageSize": 50, "Active": "True"})
    assert listing.status_code == 200 and listing.json()["Customers"]
    assert call(sim, "GET", f"{AA}/BillingEntities").json()["entities"][0]["InvoiceStartNumber"] == 5001


@pytest.mark.parametrize("edition", [None, "*"])
def test_offering_items_default_to_the_standard_edition(sim: Served, edition: str | None) -> None:
    control = sim.control
    tenant = next(t for t in control.customer_ids() if control.data.usage[t].get("adv_workstations"))
    params = {"status": 1, **({"edition": edition} if edition else {})}
    items = call(sim, "GET", f"/api/2/tenants/{tenant}/offering_items", params=params).json()["items"]
    names = {i["name"] for i in items}
    assert ("adv_workstations" in names) is (edition == "*")
    assert "local_storage" in names, "items without an edition are never filtered out"


def test_answers_match_the_spec_s_response_schemas(sim: Served) -> None:
    control = sim.control
    am = spec_api("account-management-v2.openapi.json")
    aa = spec_api("advanced-automation-v1.openapi.json")
    tenant = control.customer_ids()[0]
    customer = control.customer(tenant)["Id"]
    contract = next(iter(control.data.contracts))
    control.issue_invoice(tenant, 5001)
    checks = [
        (am, "GET", "/api/2/tenants", {"subtree_root_id": control.data.partner_id, "with_contacts": "true"}),
        (am, "GET", f"/api/2/tenants/{tenant}", {}),
        (am, "GET", f"/api/2/tenants/{tenant}/offering_items", {"edition": "*"}),
        (am, "GET", f"/api/2/tenants/{tenant}/usages", {}),
        (am, "GET", f"/api/2/clients/{control.client_id}", {}),
        (aa, "GET", f"{AA}/Contracts", {"id": customer}),
        (aa, "GET", f"{AA}/ContractPart", {"contract": contract}),
        (aa, "GET", f"{AA}/Product", {}),
        (aa, "GET", f"{AA}/InvoiceOverview", {"Page": 1, "PageSize": 10}),
    ]
    for api, method, path, params in checks:
        response = call(sim, method, path, params=params)
        assert response.status_code == 200, (path, response.text)
        request = SpecRequest(method, path, [(k, str(v)) for k, v in params.items()], "", b"")
        api.validate_response(request, SpecResponse(response))


def test_a_token_lives_two_hours(sim: Served) -> None:
    c = sim.connector()
    c.check()
    assert c.auth.issued == 1
    sim.clock.advance(3600)
    c.api.tenant(sim.control.data.partner_id)
    assert c.auth.issued == 1
    sim.clock.advance(3600)
    c.api.tenant(sim.control.data.partner_id)
    assert c.auth.issued == 2


def test_a_spent_budget_is_answered_429_with_retry_after(simulator: Any) -> None:
    served = simulator(budget=3)
    c = served.connector()
    for _ in range(4):  # the token exchange is not counted; the fourth call finds the budget spent
        c.api.tenant(served.control.data.partner_id)
    assert any(s >= 1.0 for s in served.clock.sleeps), "the fourth call waited for Retry-After"


def test_the_seeded_gaps_are_the_ones_the_billing_report_finds(sim: Served) -> None:
    c = sim.connector()
    gaps = c.action("billing_gaps").run(c.action("billing_gaps").params(), ctx())["gaps"]
    found = {(g["kind"], g["tenant_id"], g["product"]) for g in gaps}
    assert found == set(sim.control.seeded_gaps())


def test_tenant_requests_are_checked_against_the_account_management_spec_copy() -> None:
    """The simulator checks against the spec it ships, with only security taken out."""
    spec = account_management_spec()
    assert "security" not in json.dumps(spec["paths"]["/tenants"])
    assert spec["paths"]["/tenants"]["get"]["parameters"][1]["name"] == "parent_id"
