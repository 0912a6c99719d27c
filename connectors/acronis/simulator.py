"""A simulator of Acronis Account Management v2 and Advanced Automation v1, for tests and the demo.

Every request is first checked against the vendor's published OpenAPI specs with the
guide's documented additions (:mod:`.sim_spec`); a request neither allows is refused
with 400 (404 for a path neither has). Then, as the vendor documents:

* ``POST /api/2/idp/token``: HTTP Basic client id and secret, ``grant_type=client_credentials``;
  a bearer token that lives two hours (developer.acronis.com, connector "API
  Authentication": "the token expiration time is set to two hours. After this time, the
  API will respond with a 401"); refused credentials are a 401 ``tokenError`` (spec);
* ``GET /api/2/clients/{id}``: the API client and its ``tenant_id`` (spec ``client``);
* ``GET /api/2/tenants``: ``subtree_root_id`` / ``parent_id`` / ``uuids``, ``updated_since``
  ("updated after"), ``limit`` (default 5000), ``with_contacts``, sorted by tenant level,
  and the cursor ``paging.cursors.after`` that "encodes all the filtering and sorting
  arguments" (spec), so a next page is asked for with ``after`` alone;
* ``GET``/``PUT /api/2/tenants/{id}`` (a PUT carries ``version``; another version is a 409,
  spec "Another object of the same type already exists"), ``POST /api/2/tenants`` (201);
* ``GET /api/2/tenants/{id}/offering_items``: ``edition`` defaults to ``standard``, ``*``
  for all, items without an edition never filtered out; ``status`` filters (spec);
* ``GET /api/2/tenants/{id}/usages`` (spec ``usageList``);
* Advanced Automation, as the guide's pages and the spec describe them: ``POST /Customer``
  (list, and details by ``id``), ``PUT /Customers`` (billing information, keyed by the
  customer's tenant in ``Tenant``), ``GET /StaticFormData``, ``GET``/``PUT /Contracts``,
  ``GET``/``PUT /ContractPart``, ``GET /Product`` (spec) and ``GET /Products`` (guide),
  ``GET /InvoiceOverview`` (the spec's envelope), ``GET /BillingEntities`` (guide);
* Account Management errors in the spec's ``errorScheme``; Advanced Automation documents
  no error body, so its errors are ``{"Message": ...}`` (the simulator's choice).

The control handle (:class:`AcronisSimulator`) injects failures (``fail_next``), lets
time pass (tokens expire), changes usage, issues invoices, takes Advanced Automation
rights from the API client, counts and touches tenants, and lists the gaps it seeded.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.sdk import Clock, InjectedFailure, Sandbox, SystemClock, parse_timestamp

from .sim_data import GIB, PRODUCT_OVERRIDES, SimData, aa_time, iso, seed
from .sim_spec import check_request

__all__ = ["AcronisSimulator", "build_sandbox"]

AM = "/api/2"
AA = "/api/advanced-automation/v1"
TOKEN_SECONDS = 7200


def _am_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The spec's ``errorScheme``."""
    body = {"error": {"code": status, "domain": "AccountServer", "message": message, "details": {"info": None}}}
    return JSONResponse(body, status, headers=headers)


def _aa_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Advanced Automation documents no error body; this one is the simulator's choice."""
    return JSONResponse({"Message": message}, status, headers=headers)


def _error(path: str, status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    maker = _aa_error if path.startswith(AA) else _am_error
    return maker(status, message, headers)


def _cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, sort_keys=True).encode()).decode().rstrip("=")


def _uncursor(text: str) -> dict[str, Any]:
    try:
        padded = text + "=" * (-len(text) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        raise ValueError("malformed cursor") from None
    if not isinstance(value, dict):
        raise ValueError("malformed cursor")
    return value


def _flag(value: str | None) -> bool:
    return str(value or "").lower() in ("true", "1")


class AcronisSimulator:
    """The simulated data center's state and its control handle."""

    def __init__(
        self,
        *,
        size: int = 14,
        seed_value: int = 1,
        clock: Clock | None = None,
        budget: int | None = None,
        budget_window: float = 60.0,
        invoice_start: int = 5001,
    ) -> None:
        self.clock = clock or SystemClock()
        self._offset = timedelta()
        self.data: SimData = seed(size, seed_value, self.now(), invoice_start=invoice_start)
        self.budget = budget
        self.budget_window = budget_window
        self._lock = threading.RLock()
        self._failures: deque[InjectedFailure] = deque()
        self._recent: deque[datetime] = deque()
        self._tokens: dict[str, datetime] = {}
        self.advanced_automation_allowed = True
        self.products_path_missing = False
        #: every request answered: (method, path)
        self.requests: list[tuple[str, str]] = []
        #: every request that changed data: (method, path, body)
        self.writes: list[tuple[str, str, dict[str, Any]]] = []
        self.tokens_issued = 0

    # -- time ---------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now() + self._offset

    def advance(self, seconds: float) -> None:
        """Let time pass on the server only (tokens expire)."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    # -- SimulatorControl -------------------------------------------------------------------

    @property
    def client_id(self) -> str:
        return self.data.client_id

    @property
    def client_secret(self) -> str:
        return self.data.client_secret

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``count`` requests (token exchange included) with ``status``."""
        with self._lock:
            self._failures.extend(InjectedFailure(status, retry_after) for _ in range(count))

    def touch(self, stream: str, record_id: str | None = None) -> str:
        """Change one customer tenant now (its phone), which moves its ``updated_at``."""
        if stream != "tenants":
            raise ValueError(f"unknown stream {stream!r}; streams: tenants")
        with self._lock:
            tenant_id = record_id or self.customer_ids()[0]
            tenant = self.data.tenants[tenant_id]
            tenant["contact"]["phone"] = f"518-555-{secrets.randbelow(10000):04d}"
            self._changed(tenant)
            return tenant_id

    def count(self, stream: str) -> int:
        if stream != "tenants":
            raise ValueError(f"unknown stream {stream!r}; streams: tenants")
        return len(self.customer_ids())

    # -- vendor-specific controls ---------------------------------------------------------------

    def customer_ids(self) -> list[str]:
        return [t["id"] for t in self._ordered() if t["kind"] == "customer" and not t["deleted_at"]]

    def seeded_gaps(self) -> list[tuple[str, str, str | None]]:
        """(kind, tenant id, product) of every billing gap the seeding made."""
        return self.data.seeded_gaps()

    def set_usage(self, tenant_id: str, offering_item: str, value: int) -> None:
        with self._lock:
            self.data.usage[tenant_id][offering_item] = value

    def issue_invoice(self, tenant_id: str, number: int, total: float = 100.0) -> dict[str, Any]:
        """An invoice the billing entity issued (numbered as the guide shows: batch-date-0-serial-n)."""
        with self._lock:
            entity = next(e for e in self.data.entities.values() if e["IsDefault"])
            customer = next(c for c in self.data.customers.values() if c["ExternalTenantUUID"] == tenant_id)
            when = self.now()
            invoice = {
                "Id": self.data.new_id(),
                "Tenant": "00000000-0000-0000-0000-000000000000",
                "Customer": customer["Id"],
                "CustomerName": customer["Name"],
                "BillingEntityName": entity["Name"],
                "CreationDate": when.isoformat(),
                "ScheduledAt": aa_time(when),
                "SendByEmail": False,
                "InvoiceNumber": f"1-{when:%Y%m%d}-0-{entity['InvoiceSerialNumber']}-{number}",
                "BatchNumber": "1",
                "Exported": False,
                "ExportedDate": "0001-01-01T00:00:00+00:00",
                "PaymentSent": False,
                "PaymentStatus": False,
                "InvoicedBy": "Partner Administrator",
                "InvoicerDeleted": False,
                "PaymentType": 3,
                "PaymentDate": "0001-01-01T00:00:00",
                "Incasso": False,
                "Total": total,
                "InvoiceXml": None,
                "InvoiceQueueId": "00000000-0000-0000-0000-000000000000",
                "InvoiceQueueStatus": 0,
                "InvoiceQueueLastUpdateTime": "0001-01-01T00:00:00",
                "InvoiceQueueErrorCount": 0,
                "InvoiceQueueErrorMessage": "",
                "InvoiceQueueExternalInvoiceStatus": 0,
                "IsConsolidateBillingStructure": False,
            }
            self.data.invoices.append(invoice)
            entity["IsUsed"] = True
            return invoice

    def set_invoice_start(self, number: int) -> None:
        with self._lock:
            for entity in self.data.entities.values():
                if entity["IsDefault"]:
                    entity["InvoiceStartNumber"] = number

    def deny_advanced_automation(self) -> None:
        """The API client loses its Advanced Automation rights: those endpoints answer 403."""
        self.advanced_automation_allowed = False

    def customer(self, tenant_id: str) -> dict[str, Any]:
        return next(c for c in self.data.customers.values() if c["ExternalTenantUUID"] == tenant_id)

    def contracts_of(self, tenant_id: str) -> list[dict[str, Any]]:
        customer_id = self.customer(tenant_id)["Id"]
        return [self.data.contract_view(c) for c in self.data.contracts.values() if c["Customer"] == customer_id]

    # -- plumbing -----------------------------------------------------------------------------

    def _changed(self, tenant: dict[str, Any]) -> None:
        tenant["version"] += 1
        tenant["updated_at"] = iso(self.now())

    def _ordered(self) -> list[dict[str, Any]]:
        return sorted(self.data.tenants.values(), key=lambda t: (self.data.level[t["id"]], t["created_at"], t["id"]))

    def _subtree(self, root: str) -> set[str]:
        children: dict[str, list[str]] = {}
        for t in self.data.tenants.values():
            if t["id"] != t["parent_id"]:
                children.setdefault(t["parent_id"], []).append(t["id"])
        found, todo = set(), [root]
        while todo:
            current = todo.pop()
            if current in found:
                continue
            found.add(current)
            todo.extend(children.get(current, []))
        return found

    def _throttled(self) -> float | None:
        if self.budget is None:
            return None
        now = self.now()
        while self._recent and (now - self._recent[0]).total_seconds() >= self.budget_window:
            self._recent.popleft()
        if len(self._recent) >= self.budget:
            return max(1.0, self.budget_window - (now - self._recent[0]).total_seconds())
        self._recent.append(now)
        return None

    async def dispatch(self, request: Request) -> Response:
        path = request.url.path
        method = request.method.upper()
        body = await request.body()
        with self._lock:
            self.requests.append((method, path))
            token_exchange = path == f"{AM}/idp/token" and method == "POST"
            if self._failures:
                failure = self._failures.popleft()
                headers = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else None
                if token_exchange and failure.status in (400, 401, 403):
                    # the spec's tokenError: a refused client
                    return JSONResponse(
                        {"error": "access_denied", "error_description": "injected refusal"}, failure.status
                    )
                return _error(path, failure.status, "injected failure", headers)
            if token_exchange:
                return self._token(request, body)
            wait = self._throttled()
            if wait is not None:
                return _error(path, 429, "too many requests", {"Retry-After": f"{wait:.0f}"})
            denied = self._authenticate(request, path)
            if denied is not None:
                return denied
            problem = check_request(
                method, path, list(request.query_params.multi_items()), request.headers.get("content-type", ""), body
            )
            if problem is not None:
                status = 404 if problem.startswith("Path not found") else 400
                return _error(path, status, problem)
            payload = json.loads(body) if body and "json" in request.headers.get("content-type", "") else None
            for verb, pattern, handler in ROUTES:
                match = pattern.fullmatch(path)
                if verb == method and match:
                    return handler(self, request, match.groupdict(), payload)
            return _error(path, 404, f"no such resource: {path}")

    def _token(self, request: Request, body: bytes) -> Response:
        header = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{self.data.client_id}:{self.data.client_secret}".encode()).decode()
        if not secrets.compare_digest(header.encode(), f"Basic {expected}".encode()):
            return JSONResponse({"error": "access_denied", "error_description": "invalid client credentials"}, 401)
        form = dict(pair.split("=", 1) for pair in body.decode().split("&") if "=" in pair)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "invalid_request", "error_description": "unsupported grant_type"}, 400)
        token = secrets.token_urlsafe(32)
        ends = self.now() + timedelta(seconds=TOKEN_SECONDS)
        self._tokens[token] = ends
        self.tokens_issued += 1
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": TOKEN_SECONDS,
                "expires_on": int(ends.timestamp()),
                "id_token": secrets.token_urlsafe(16),
            }
        )

    def _authenticate(self, request: Request, path: str) -> Response | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        ends = self._tokens.get(token)
        if ends is None or ends <= self.now():
            return _error(path, 401, "the access token is missing, unknown or expired")
        if path.startswith(AA) and not self.advanced_automation_allowed:
            return _error(path, 403, "the API client has no Advanced Automation role")
        return None

    # -- Account Management -------------------------------------------------------------------

    def _client(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        if params["client_id"] != self.data.client_id:
            return _am_error(404, "client not found")
        return JSONResponse(
            {
                "client_id": self.data.client_id,
                "tenant_id": self.data.partner_id,
                "client_secret_expires_at": 0,
                "type": "api_client",
                "data": {"client_name": "msp-hub"},
                "token_endpoint_auth_method": "client_secret_basic",
                "created_at": iso(self.now()),
                "created_by": self.data.partner_id,
                "last_access_at": iso(self.now()),
                "last_access_from_ip": "127.0.0.1",
                "status": "enabled",
            }
        )

    def _tenants(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        query = request.query_params
        if query.get("after"):
            try:
                state = _uncursor(query["after"])
            except ValueError:
                return _am_error(400, "malformed cursor")
        else:
            given = [k for k in ("uuids", "parent_id", "subtree_root_id") if query.get(k)]
            if len(given) > 1:
                return _am_error(400, f"{', '.join(given)} are mutually exclusive")
            state = {
                "uuids": query.get("uuids"),
                "parent": query.get("parent_id"),
                "root": query.get("subtree_root_id"),
                "since": query.get("updated_since"),
                "limit": int(query.get("limit") or 5000),
                "contacts": _flag(query.get("with_contacts")),
                "last": None,
            }
        rows = self._ordered()
        if state["root"]:
            inside = self._subtree(state["root"])
            rows = [t for t in rows if t["id"] in inside]
        elif state["parent"]:
            rows = [t for t in rows if t["parent_id"] == state["parent"] and t["id"] != state["parent"]]
        elif state["uuids"]:
            wanted = set(str(state["uuids"]).split(","))
            rows = [t for t in rows if t["id"] in wanted]
        rows = [t for t in rows if not t["deleted_at"]]
        if state["since"]:
            since = parse_timestamp(state["since"])
            rows = [t for t in rows if since is None or (parse_timestamp(t["updated_at"]) or since) > since]
        keys = [(self.data.level[t["id"]], t["created_at"], t["id"]) for t in rows]
        if state["last"] is not None:
            last = tuple(state["last"])
            rows = [t for t, k in zip(rows, keys, strict=True) if k > last]
        page = rows[: state["limit"]]
        body: dict[str, Any] = {
            "timestamp": iso(self.now()),
            "items": [self._tenant_view(t, state["contacts"]) for t in page],
            "paging": {"cursors": {}},
        }
        if len(rows) > len(page):
            last_row = page[-1]
            body["paging"]["cursors"]["after"] = _cursor(
                {**state, "last": [self.data.level[last_row["id"]], last_row["created_at"], last_row["id"]]}
            )
        return JSONResponse(body)

    def _tenant_view(self, tenant: dict[str, Any], contacts: bool) -> dict[str, Any]:
        view = {k: v for k, v in tenant.items()}
        view["contacts"] = [dict(c) for c in tenant["contacts"]] if contacts else []
        view["contact"] = {k: v for k, v in tenant["contact"].items() if k != "tenant_id"}
        return view

    def _tenant(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        tenant = self.data.tenants.get(params["tenant_id"])
        if tenant is None or tenant["deleted_at"]:
            return _am_error(404, "tenant not found")
        view = self._tenant_view(tenant, False)
        view.pop("offering_items", None)
        return JSONResponse(view)

    def _put_tenant(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        tenant = self.data.tenants.get(params["tenant_id"])
        if tenant is None or tenant["deleted_at"]:
            return _am_error(404, "tenant not found")
        if payload["version"] != tenant["version"]:
            return _am_error(409, f"version conflict: the tenant is at version {tenant['version']}")
        for key, value in payload.items():
            if key == "version":
                continue
            if key == "contact" and isinstance(value, dict):
                tenant["contact"].update(value)
            else:
                tenant[key] = value
        self._changed(tenant)
        self.writes.append(("PUT", request.url.path, payload))
        return self._tenant(request, params, None)

    def _post_tenant(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        parent = self.data.tenants.get(payload["parent_id"])
        if parent is None or payload["parent_id"] not in self._subtree(self.data.partner_id):
            return _am_error(404, "parent tenant not found")
        tenant = self.data.add_tenant(
            payload["name"], payload["kind"], payload["parent_id"], contact=payload.get("contact"), when=self.now()
        )
        for key in ("customer_id", "internal_tag", "language", "enabled"):
            if key in payload:
                tenant[key] = payload[key]
        if tenant["kind"] == "customer":
            self.data.enable_catalog(tenant["id"], self.now())
            self.data.add_customer(tenant, billing=None)
        self.writes.append(("POST", request.url.path, payload))
        view = self._tenant_view(tenant, False)
        view.pop("offering_items", None)
        return JSONResponse(view, 201)

    def _offering_items(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        items = self.data.offering.get(params["tenant_id"])
        if items is None:
            return _am_error(404, "tenant not found")
        edition = request.query_params.get("edition", "standard")
        status = request.query_params.get("status")
        chosen = [
            i
            for i in items
            if (edition == "*" or i["edition"] is None or i["edition"] == edition)
            and (status is None or i["status"] == int(status))
        ]
        return JSONResponse({"timestamp": iso(self.now()), "items": chosen})

    def _usages(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        items = self.data.offering.get(params["tenant_id"])
        if items is None:
            return _am_error(404, "tenant not found")
        used = self.data.usage[params["tenant_id"]]
        month = self.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        out = []
        for item in items:
            if item["type"] == "feature":
                continue
            value = int(used.get(item["name"], 0))
            out.append(
                {
                    "application_id": item["application_id"],
                    "name": item["name"],
                    "edition": item["edition"],
                    "usage_name": item["usage_name"],
                    "type": item["type"],
                    "measurement_unit": item["measurement_unit"],
                    "range_start": iso(month),
                    "absolute_value": value,
                    "value": value,
                    "offering_item": {"status": item["status"], "quota": item.get("quota")},
                }
            )
        return JSONResponse({"items": out})

    # -- Advanced Automation --------------------------------------------------------------------

    def _page(self, request: Request, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
        query = request.query_params
        size = int(query.get("PageSize") or 50)
        page = max(1, int(query.get("Page") or 1))
        return rows[(page - 1) * size : page * size], -(-len(rows) // size) if rows else 0

    def _customers(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        wanted = request.query_params.get("id")
        if wanted:
            customer = self.data.customers.get(wanted)
            if customer is None:
                return _aa_error(404, "customer not found")
            return JSONResponse(customer)
        listed = [self._partner_listing(), *(self._listing(c) for c in self.data.customers.values())]
        page, _pages = self._page(request, listed)
        # the guide's example answers two customers with "AmountOfPages": 0
        return JSONResponse({"Customers": page, "AmountRecordsFound": len(listed), "AmountOfPages": 0})

    def _listing(self, customer: dict[str, Any]) -> dict[str, Any]:
        keys = (
            "Id",
            "Tenant",
            "Name",
            "Alias",
            "Status",
            "IsTier4",
            "PaidAccount",
            "TrialAccount",
            "CreationDate",
            "ExternalTenantId",
            "ExternalTenantUUID",
            "AcronisTenantId",
        )
        view = {k: customer.get(k) for k in keys}
        view.update(Branch=None, DeploymentStatus=1, DeploymentStatusValue="Completed", StatusTranslation="Customer")
        return view

    def _partner_listing(self) -> dict[str, Any]:
        partner = self.data.tenants[self.data.partner_id]
        return {
            "Id": self.data.partner_id,
            "Tenant": self.data.partner_id,
            "Name": partner["name"],
            "Alias": partner["name"],
            "Status": 2,
            "IsTier4": False,
            "PaidAccount": True,
            "TrialAccount": False,
            "CreationDate": aa_time(self.now()),
            "ExternalTenantId": "100",
            "ExternalTenantUUID": self.data.partner_id,
            "AcronisTenantId": None,
            "Branch": None,
            "DeploymentStatus": 1,
            "DeploymentStatusValue": "Completed",
            "StatusTranslation": "Customer",
        }

    def _put_customers(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        customer = next((c for c in self.data.customers.values() if c["ExternalTenantUUID"] == payload["Tenant"]), None)
        if customer is None:
            return _aa_error(400, f"no customer of tenant {payload['Tenant']}")
        if payload.get("Country") and payload["Country"] not in self.data.countries:
            return _aa_error(400, f"unknown country {payload['Country']}")
        fields = {k: v for k, v in payload.items() if k not in ("Tenant",)}
        self.data.set_billing(customer, fields)
        self.writes.append(("PUT", request.url.path, payload))
        return JSONResponse(customer)

    def _static_form_data(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        return JSONResponse(
            {
                "TenantKey": self.data.partner_id,
                "Countries": dict(self.data.countries),
                "ContractPartTypes": dict(self.data.part_types),
                "ServiceLevelAgreements": dict(self.data.sla),
                "Languages": [
                    {
                        "Id": "48d06c90-f8a4-4726-a83c-a47dbb709f25",
                        "Country": next(iter(self.data.countries)),
                        "Name": "English",
                        "Active": True,
                    }
                ],
                "LegalForms": ["-", "UNKNOWN"],
            }
        )

    def _contracts(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        customer_id = request.query_params["id"]
        found = [self.data.contract_view(c) for c in self.data.contracts.values() if c["Customer"] == customer_id]
        return JSONResponse({"contracts": found})

    def _put_contract(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        customer_id = payload.get("Customer")
        if customer_id not in self.data.customers:
            return _aa_error(400, "Customer: no such customer")
        entity = payload.get("BillingEntity")
        if entity not in self.data.entities:
            return _aa_error(400, "BillingEntity: no such billing entity")
        start = parse_timestamp(payload["StartDate"]) or self.now()
        contract = self.data.add_contract(customer_id, payload["Name"], start, entity)
        for key in (
            "PaymentIntervalInMonths",
            "BillInAdvance",
            "SendInvoiceByEmail",
            "ContactEmail",
            "ReferenceNumber",
        ):
            if key in payload:
                contract[key] = payload[key]
        self.writes.append(("PUT", request.url.path, payload))
        return JSONResponse({"contractId": contract["Id"]})

    def _parts(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        contract_id = request.query_params["contract"]
        return JSONResponse({"ContractParts": [p for p in self.data.parts.values() if p["Contract"] == contract_id]})

    def _put_part(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        if payload.get("Id"):
            part = self.data.parts.get(payload["Id"])
            if part is None:
                return _aa_error(404, "contract part not found")
            part.update({k: v for k, v in payload.items() if k != "Id"})
            self.writes.append(("PUT", request.url.path, payload))
            return JSONResponse(part)
        # a new part belongs to a contract (guide: contract parts are created in a contract)
        if payload.get("Contract") not in self.data.contracts:
            return _aa_error(400, "Contract: a new contract part needs an existing contract")
        if payload.get("Product") not in self.data.products:
            return _aa_error(400, "Product: no such product")
        contract = self.data.contracts[payload["Contract"]]
        start = payload.get("StartDate") or contract["StartDate"]
        part = self.data.add_part(
            contract["Id"],
            payload["Product"],
            float(payload.get("Quantity") or 0),
            float(payload["Price"]),
            str(start)[:19],
        )
        for key in (
            "ActualQuantity",
            "Discount",
            "DiscountReason",
            "Description",
            "ContractPartType",
            "ServiceLevelAgreement",
            "AutomaticUpdate",
            "MinBillableQuantity",
        ):
            if key in payload:
                part[key] = payload[key]
        self.writes.append(("PUT", request.url.path, payload))
        return JSONResponse(part)

    def _products(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        if self.products_path_missing and request.url.path.endswith("/Products"):
            return _aa_error(404, "not found")
        rows = list(self.data.products.values())
        if _flag(request.query_params.get("Active")):
            rows = [p for p in rows if p["Active"]]
        page, pages = self._page(request, rows)
        paging = {"AmountTotalItems": len(rows), "AmountRecordsFound": len(rows), "AmountOfPages": pages}
        return JSONResponse({"products": {"Result": {"Products": page, "Paging": paging}}})

    def _invoices(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        query = request.query_params
        rows = list(self.data.invoices)
        if query.get("InvoiceNumber"):
            rows = [i for i in rows if i["InvoiceNumber"] == query["InvoiceNumber"]]
        column = query.get("SortColumn", "CustomerName")
        rows.sort(key=lambda i: str(i.get(column) or ""), reverse=query.get("SortDirection") == "Desc")
        page, pages = self._page(request, rows)
        paging = {"AmountTotalItems": len(rows), "AmountRecordsFound": len(rows), "AmountOfPages": pages}
        return JSONResponse({"InvoicesPagedSearchResult": {"Invoices": page, "Paging": paging}})

    def _billing_entities(self, request: Request, params: dict[str, str], payload: Any) -> Response:
        return JSONResponse({"entities": list(self.data.entities.values())})


_ID = r"[0-9a-f-]{36}"
ROUTES: list[tuple[str, re.Pattern[str], Any]] = [
    ("GET", re.compile(rf"{AM}/clients/(?P<client_id>{_ID})"), AcronisSimulator._client),
    ("GET", re.compile(rf"{AM}/tenants"), AcronisSimulator._tenants),
    ("POST", re.compile(rf"{AM}/tenants"), AcronisSimulator._post_tenant),
    ("GET", re.compile(rf"{AM}/tenants/(?P<tenant_id>{_ID})"), AcronisSimulator._tenant),
    ("PUT", re.compile(rf"{AM}/tenants/(?P<tenant_id>{_ID})"), AcronisSimulator._put_tenant),
    ("GET", re.compile(rf"{AM}/tenants/(?P<tenant_id>{_ID})/offering_items"), AcronisSimulator._offering_items),
    ("GET", re.compile(rf"{AM}/tenants/(?P<tenant_id>{_ID})/usages"), AcronisSimulator._usages),
    ("POST", re.compile(rf"{AA}/Customer"), AcronisSimulator._customers),
    ("PUT", re.compile(rf"{AA}/Customers"), AcronisSimulator._put_customers),
    ("GET", re.compile(rf"{AA}/StaticFormData"), AcronisSimulator._static_form_data),
    ("GET", re.compile(rf"{AA}/Contracts"), AcronisSimulator._contracts),
    ("PUT", re.compile(rf"{AA}/Contracts"), AcronisSimulator._put_contract),
    ("GET", re.compile(rf"{AA}/ContractPart"), AcronisSimulator._parts),
    ("PUT", re.compile(rf"{AA}/ContractPart"), AcronisSimulator._put_part),
    ("GET", re.compile(rf"{AA}/Products?"), AcronisSimulator._products),
    ("GET", re.compile(rf"{AA}/InvoiceOverview"), AcronisSimulator._invoices),
    ("GET", re.compile(rf"{AA}/BillingEntities"), AcronisSimulator._billing_entities),
]


def build_app(sim: AcronisSimulator) -> Starlette:
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", sim.dispatch, methods=methods)])


def build_sandbox(**options: Any) -> Sandbox:
    """The simulator as a sandbox; options: ``size``, ``seed``, ``clock``, ``budget``, ``invoice_start``."""
    sim = AcronisSimulator(
        size=int(options.get("size", 14)),
        seed_value=int(options.get("seed", 1)),
        clock=options.get("clock"),
        budget=options.get("budget"),
        invoice_start=int(options.get("invoice_start", 5001)),
    )

    def settings(base_url: str) -> dict[str, Any]:
        return {
            "datacenter_url": base_url,
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
            "products": ";".join(f"{k}={v}" for k, v in PRODUCT_OVERRIDES.items()),
        }

    return Sandbox(app=build_app(sim), settings=settings, control=sim, extra={"simulator": sim, "gib": GIB})
