"""The simulator's request check: the vendor's published OpenAPI specs, plus what the guide adds.

Every request the simulator answers is first validated with ``openapi-core`` against
``specs/account-management-v2.openapi.json`` or ``specs/advanced-automation-v1.openapi.json``
(byte-identical to what developer.acronis.com serves; see tests/vendor-specs/acronis/
SOURCE.txt). The Advanced Automation spec is a subset of the vendor's guide, and in places
it contradicts it; :data:`GUIDE_ADDITIONS` patches a copy of the spec with exactly what
the guide documents, each entry citing its guide page, so the simulator accepts what the
guide documents and refuses what neither allows:

* operations the guide uses and the spec lacks: ``POST /Customer`` (list and details),
  ``PUT /Customers`` (billing information), ``GET /BillingEntities``, ``GET /Products``,
  ``GET /StaticFormData``;
* ``PUT /ContractPart``: the spec's body forbids extra properties and has no
  ``Contract``, ``Quantity`` or ``Id``, without which a part belongs to no contract; the
  guide's contract-part scenario has them (and ``ContractPartType``), as does the spec's
  own ``GET /ContractPart`` answer.

Beyond the schemas, a query parameter that neither the spec nor the guide declares for
the operation is refused (openapi-core lets unknown ones through). Security requirements
are taken out of the copies: the simulator checks bearer tokens itself.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from werkzeug.datastructures import Headers, ImmutableMultiDict

__all__ = ["GUIDE", "GUIDE_ADDITIONS", "SpecRequest", "check_request"]

#: the vendor's guide to the Advanced Automation (PSA) API
GUIDE = "https://developer.acronis.com/doc/outbound/apis/api-library/psa/"
#: the spec's server, against which request paths are matched whatever host serves them
SPEC_HOST = "https://dev-cloud.acronis.com"
_GUID = {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
_OK = {"200": {"description": "The request was successful."}}


def _query(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


#: Page/PageSize as the guide sends them; Active as Python's requests sends True ("True")
_PAGED = [
    _query("Page", {"type": "integer", "minimum": 0}),
    _query("PageSize", {"type": "integer", "minimum": 1}),
    _query("Active", {"type": "string", "enum": ["true", "false", "True", "False"]}),
]

#: the billing-information fields of the guide's example body (set-customer-billing-info.html)
_BILLING_INFO = {
    "type": "object",
    "additionalProperties": False,
    "required": ["Tenant", "Name"],
    "properties": {
        "Tenant": _GUID,
        "Name": {"type": "string", "minLength": 1},
        "TaxExempt": {"type": "boolean"},
        "Tax": {"type": "string"},
        "Language": _GUID,
        "Country": _GUID,
        "BankAccount": {"type": "string"},
        "VATNumber": {"type": "string"},
        "TrialAccount": {"type": "boolean"},
        "DaysOffPerYear": {"type": "integer"},
        "TimeRegistrationRoundupTime": {"type": "integer"},
        "PaymentTerms": {"type": "integer"},
        "LoginUserName": {"type": "string"},
        "SubtotalsOnInvoice": {"type": "boolean"},
        "DirectDebit": {"type": "boolean"},
        "SendInvoiceByEmail": {"type": "boolean"},
        "HouseNo": {"type": "string"},
        "Street": {"type": "string"},
        "Zipcode": {"type": "string"},
        "City": {"type": "string"},
        "PhoneNumber": {"type": "string"},
        "Email": {"type": "string"},
    },
}

#: path -> method -> operation the guide documents and the spec lacks (page cited per entry)
GUIDE_ADDITIONS: dict[str, dict[str, dict[str, Any]]] = {
    # managing-customers-clients/fetch-customers.html (Page, PageSize, Active) and
    # managing-customers-clients/fetch-customer-details.html (id): both POST /Customer
    "/Customer": {"post": {"parameters": [*_PAGED, _query("id", _GUID)], "responses": _OK}},
    # managing-customers-clients/set-customer-billing-info.html: PUT /Customers
    "/Customers": {
        "put": {
            "requestBody": {"required": True, "content": {"application/json": {"schema": _BILLING_INFO}}},
            "responses": _OK,
        }
    },
    # managing-sales-billing/fetch-billing-entities.html: GET /BillingEntities
    "/BillingEntities": {"get": {"responses": _OK}},
    # managing-sales-billing/fetch-products.html: GET /Products with Page, PageSize, Active
    "/Products": {"get": {"parameters": list(_PAGED), "responses": _OK}},
    # managing-service-desk/fetch-service-desk-configuration.html: GET /StaticFormData
    "/StaticFormData": {"get": {"responses": _OK}},
}

#: properties the guide gives a contract part that the spec's PUT body lacks
#: (developer.acronis.com scenarios "Creating contract parts": contract part type, product,
#: quantity, price ...; and the spec's own GET /ContractPart answer: Contract, Quantity, Id)
CONTRACT_PART_ADDITIONS = {
    "Contract": _GUID,
    "Quantity": {"type": "number", "minimum": 0},
    "Id": {**_GUID, "nullable": True},
    "ContractPartType": _GUID,
}


def _strip_security(spec: dict[str, Any]) -> dict[str, Any]:
    spec.pop("security", None)
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    spec.get("components", {}).pop("securitySchemes", None)
    return spec


def _load(name: str) -> dict[str, Any]:
    text = resources.files("connectors.acronis").joinpath("specs", name).read_text(encoding="ascii")
    return dict(json.loads(text))


def advanced_automation_spec() -> dict[str, Any]:
    """The Advanced Automation spec with the guide's additions (see the module docstring)."""
    spec = _strip_security(copy.deepcopy(_load("advanced-automation-v1.openapi.json")))
    for path, operations in GUIDE_ADDITIONS.items():
        spec["paths"].setdefault(path, {}).update(copy.deepcopy(operations))
    body = spec["paths"]["/ContractPart"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    body["properties"].update(copy.deepcopy(CONTRACT_PART_ADDITIONS))
    return spec


def account_management_spec() -> dict[str, Any]:
    return _strip_security(_load("account-management-v2.openapi.json"))


@dataclass(frozen=True)
class _Api:
    prefix: str
    openapi: OpenAPI
    #: (method, templated path) -> declared query parameter names
    declared: dict[tuple[str, str], frozenset[str]]


def _declared(spec: dict[str, Any]) -> dict[tuple[str, str], frozenset[str]]:
    out: dict[tuple[str, str], frozenset[str]] = {}
    for path, operations in spec["paths"].items():
        shared = [p for p in operations.get("parameters", []) if p.get("in") == "query"]
        for method, operation in operations.items():
            if method == "parameters" or not isinstance(operation, dict):
                continue
            own = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
            out[(method, path)] = frozenset(str(p["name"]) for p in shared + own)
    return out


_lock = threading.Lock()


@cache
def _api(which: str) -> _Api:
    with _lock:
        if which == "am":
            spec, prefix = account_management_spec(), "/api/2"
        else:
            spec, prefix = advanced_automation_spec(), "/api/advanced-automation/v1"
        return _Api(prefix, OpenAPI.from_dict(spec), _declared(spec))


class SpecRequest:
    """A request as openapi-core reads it (its ``Request`` protocol), at the spec's host."""

    def __init__(
        self, method: str, path: str, query: list[tuple[str, str]], content_type: str, body: bytes | None
    ) -> None:
        self.host_url = SPEC_HOST
        self.path = path
        self.full_url_pattern = SPEC_HOST + path
        self.method = method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(query), header=Headers(), cookie=ImmutableMultiDict()
        )
        self.content_type = content_type.split(";")[0].strip() if body else ""
        self.mimetype = self.content_type
        self.body = body or None


def check_request(method: str, path: str, query: list[tuple[str, str]], content_type: str, body: bytes) -> str | None:
    """Why the request is not one the spec or the guide allows (None: it is)."""
    which = "aa" if path.startswith("/api/advanced-automation/v1/") else "am"
    api = _api(which)
    request = SpecRequest(method, path, query, content_type, body)
    try:
        api.openapi.validate_request(request)
    except OpenAPIError as exc:
        return _reason(exc)
    template = _template(api, method.lower(), path)
    declared = api.declared.get((method.lower(), template), frozenset()) if template else frozenset()
    unknown = sorted({name for name, _ in query} - declared)
    if unknown:
        return f"unknown query parameter {unknown[0]!r} for {method.upper()} {template or path}"
    return None


def _template(api: _Api, method: str, path: str) -> str | None:
    """The spec path template that ``path`` matches (``/tenants/{tenant_id}``)."""
    parts = path[len(api.prefix) :].strip("/").split("/")
    matches = []
    for m, template in api.declared:
        candidate = template.strip("/").split("/")
        if m == method and len(candidate) == len(parts):
            if all(c == p or (c[:1] == "{" and c[-1:] == "}") for c, p in zip(candidate, parts, strict=True)):
                matches.append(template)
    # a literal segment beats a placeholder (/tenants/usages over /tenants/{tenant_id})
    return min(matches, key=lambda t: t.count("{"), default=None)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    cause = exc.__cause__
    details = getattr(cause, "schema_errors", None) or getattr(exc, "schema_errors", None)
    if details:
        first = details[0]
        message = getattr(first, "message", str(first))
        where = "/".join(str(p) for p in getattr(first, "absolute_path", []) or [])
        text = f"{text}: {where + ': ' if where else ''}{message}"
    elif cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text[:500]
