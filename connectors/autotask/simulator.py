"""A simulator of the Autotask REST API v1.0 (a Starlette app) and its control handle.

What it imitates, from the vendor's documentation and swagger:

* zone discovery at ``/atservicesrest/v1.0/zoneInformation?user=`` on the root host
  (500 for an unknown user) pointing at a separate zone base ``/ws5/atservicesrest/``;
* the ``ApiIntegrationCode`` / ``UserName`` / ``Secret`` headers on every zone request
  (401 otherwise) and ``ImpersonationResourceId`` (which resource a write is credited to);
* ``POST V1.0/{Entity}/query`` (and ``GET ...?search=``) with the filter grammar, pages
  ordered by id (stateless keyset paging on id, like the real one). The next page is
  fetched the way the query was sent (Autotask Developer Help, "Advanced query features
  of the REST API" > Paginating results; the 405 as live Autotask answers it, recorded in
  WYRE-AI/autotask-mcp pull request 170): after a POST, ``nextPageUrl`` is
  ``.../query/next?paging=...`` and takes a POST of the same body, while a GET there
  answers 405 ``{"Message": "The requested resource does not support http method
  'GET'."}``; after a GET, it is ``.../query/next?paging=...&search=...`` and takes a GET.
  ``GET V1.0/{Entity}/{id}`` -> ``{"item": ...}``, creates and PATCH updates ->
  ``{"itemId": N}``;
* account team members (``POST V1.0/Companies/{id}/Teams``, ``DELETE .../Teams/{id}``, no
  update) and Client Portal users (``POST``/``PATCH``/``PUT V1.0/ClientPortalUsers``, the
  password checked, kept aside and never answered), with the rules of :mod:`.sim_rules`;
* ``PUT V1.0/{Entity}`` replaces a record: fields left out are cleared, required ones
  must be there;
* ``entityInformation/fields`` and ``/userDefinedFields`` with picklists (a reference
  field names the entity it refers to in the singular, ``referenceEntityType:
  "Resource"``, and an inactive value has ``isActive: false``);
* the database it plays (:mod:`.sim_tenant`): the sandbox's codes and ids, or a
  real-like database's other ones; resources, roles and products queried by name
  (roles and products created by POST; resources read-only, as the swagger has it),
  UDFs created with ``POST V1.0/UserDefinedFieldDefinitions`` and a list UDF's values
  with ``POST V1.0/UserDefinedFields/{id}/ListItems`` (the REST entity pages of both);
* ``ThresholdInformation`` and a 429 once the hourly request budget is spent;
* errors as ``{"errors": [...]}`` (business-rule refusals are HTTP 500, as in Autotask);
* signed webhook callouts (``X-Hook-Signature``) for companies, contacts, configuration
  items, tickets and ticket notes, posted from a background thread; after 25 failed
  deliveries in a row the webhook is deactivated and a ``Deactivated`` notice is sent;
* the webhook resources (``{Name}Webhooks`` and their ``Fields``, :mod:`.sim_webhooks`):
  webhooks registered through them get their own signed callouts, besides the
  ``webhook_url`` option (a webhook configured out of band).

Paths are matched case-insensitively, as the IIS-hosted API does.
"""

from __future__ import annotations

import collections
import gc
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from hub.sdk import Sandbox

from .entities import ENTITIES
from .query import MAX_RECORDS
from .sim_data import LOOKUPS, RESOURCES, seed_records, stamp, start_id
from .sim_rules import RuleError, check_portal_user, check_team_member, check_team_removal
from .sim_store import QueryError, Table, compile_filter
from .sim_tenant import Tenant, dress, tenant
from .sim_webhooks import MAX_FAILED_DELIVERIES, Hook, HookError, HookRegistry, hook_resource
from .webhooks import sign

__all__ = ["AutotaskControl", "AutotaskSimulator", "build_sandbox"]

ZONE_PREFIX = "/ws5/atservicesrest"
ROOT_PREFIX = "/atservicesrest"
WEBHOOK_ENTITY_TYPES = {
    "Companies": "Company",
    "Contacts": "Contact",
    "ConfigurationItems": "ConfigurationItem",
    "Tickets": "Ticket",
    "TicketNotes": "TicketNote",
}
#: fields always in a callout's ``Fields`` (Autotask's "display always" fields)
DISPLAY_ALWAYS = ("companyID", "ticketID", "contactID")
_INDEXES = {
    "Contacts": ("companyID",),
    "Tickets": ("companyID",),
    "Contracts": ("companyID",),
    "ConfigurationItems": ("companyID",),
    "TicketNotes": ("ticketID",),
    "CompanyNotes": ("companyID",),
    "CompanyTeams": ("companyID",),
    "ClientPortalUsers": ("contactID",),
    "ServiceCalls": ("companyID",),
    "ServiceCallTickets": ("ticketID", "serviceCallID"),
    "ServiceCallTicketResources": ("serviceCallTicketID",),
    "ContractServices": ("contractID",),
}
_PARENT_ROUTES = {
    ("companies", "contacts"): "Contacts",
    ("companies", "notes"): "CompanyNotes",
    ("tickets", "notes"): "TicketNotes",
    ("companies", "teams"): "CompanyTeams",
    ("servicecalls", "tickets"): "ServiceCallTickets",
    ("servicecalltickets", "resources"): "ServiceCallTicketResources",
    ("contracts", "services"): "ContractServices",
}
_TOP_LEVEL_WRITES = (
    "Companies",
    "Tickets",
    "Contracts",
    "ConfigurationItems",
    "ClientPortalUsers",
    "Roles",
    "Products",
    "ServiceCalls",
    "Services",
)
#: ``UserDefinedFieldDefinitions.udfType``: the entity a UDF belongs to. The codes are the
#: simulator's (the vendor documents the field as a picklist); clients find them by label
UDF_TYPES = {1: "Company", 2: "Configuration Item", 3: "Contact", 4: "Contract", 7: "Ticket"}
UDF_TYPE_ENTITIES = {"Company": "Companies", "Configuration Item": "ConfigurationItems", "Contact": "Contacts",
                     "Contract": "Contracts", "Ticket": "Tickets"}
#: ``UserDefinedFieldDefinitions.dataType`` (codes the simulator's, as above)
UDF_DATA_TYPES = {1: "String", 2: "Number", 3: "Date", 4: "List"}


class ApiError(Exception):
    """An answer in Autotask's error shape."""

    def __init__(self, status: int, *messages: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(messages[0] if messages else str(status))
        self.status = status
        self.messages = list(messages)
        self.headers = headers or {}

    def response(self) -> Response:
        return JSONResponse({"errors": self.messages}, status_code=self.status, headers=self.headers)


class MethodNotAllowed(ApiError):
    """405 in the shape ASP.NET Web API answers it (``{"Message": ...}`` and ``Allow``), not
    Autotask's ``{"errors": [...]}``: the framework refuses before the API's own code runs."""

    def __init__(self, method: str, allow: str) -> None:
        message = f"The requested resource does not support http method '{method}'."
        super().__init__(405, message, headers={"Allow": allow})

    def response(self) -> Response:
        return JSONResponse({"Message": self.messages[0]}, status_code=self.status, headers=self.headers)


def _now() -> str:
    return stamp(datetime.now(UTC))


@dataclass
class Failure:
    status: int
    retry_after: float | None


@dataclass
class AutotaskSimulator:
    """The simulated database, its credentials, budget, fault injection and webhooks."""

    size: int = 40
    seed: int = 1
    username: str = "api-user@msp.example.com"
    secret: str = "sim-secret"  # noqa: S105 - the simulator's own test credential
    integration_code: str = "SIMINTEGRATIONCODE"
    webhook_url: str | None = None
    webhook_secret: str = "sim-webhook-key"  # noqa: S105 - test key
    hourly_budget: int = 10_000
    page_size: int = MAX_RECORDS
    #: the database it plays: ``sandbox`` or ``real-like`` (see :mod:`.sim_tenant`)
    profile: str = "sandbox"
    tables: dict[str, Table] = field(init=False)
    requests: collections.deque[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.tables = {}
        self.tenant: Tenant = tenant(self.profile, self.username)
        # Hundreds of thousands of long-lived dicts: keep the cyclic GC from rescanning them
        # while they are built, then park them outside its generations.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            seeded = dress(self.tenant, seed_records(self.size, self.seed))
            for name, spec in ENTITIES.items():
                table = Table(self.tenant.schemas[name], spec.cursor, start_id(name), _INDEXES.get(name, ()))
                table.load(seeded[name])
                self.tables[name] = table
            for name, records in (
                ("Resources", self.tenant.resources),
                ("Roles", self.tenant.roles),
                ("Products", self.tenant.products),
            ):
                table = Table(self.tenant.schemas[name], None, max(records) + 1, ())
                table.load([dict(r) for _, r in sorted(records.items())])
                self.tables[name] = table
            gc.freeze()
        finally:
            if was_enabled:
                gc.enable()
        self.requests = collections.deque(maxlen=10_000)
        self.failures: collections.deque[Failure] = collections.deque()
        self.window_start = time.monotonic()
        self.window_count = 0
        self.webhook_guids = {
            e: str(uuid.UUID(int=(self.seed << 64) + i + 1)) for i, e in enumerate(WEBHOOK_ENTITY_TYPES)
        }
        self.sequence: dict[str, int] = dict.fromkeys(WEBHOOK_ENTITY_TYPES, 0)
        self.webhook_active = True
        self.failed_deliveries = 0
        self.deliveries: list[dict[str, Any]] = []
        self.hooks = HookRegistry(self.seed)
        #: portal user id -> the password last set (write-only: never answered)
        self.portal_passwords: dict[int, str] = {}
        self._outbox: queue.Queue[tuple[str, bytes, bytes, Callable[[int], None]] | None] = queue.Queue()
        self._sender: threading.Thread | None = None

    # -- budget and faults ------------------------------------------------------------

    def admit(self) -> None:
        """Fault injection, then the hourly budget (raises :class:`ApiError`)."""
        with self.lock:
            if self.failures:
                failure = self.failures.popleft()
                headers = (
                    {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else {}
                )
                text = {
                    401: "Authentication failed: the UserName, Secret or ApiIntegrationCode is not valid.",
                    429: "Request threshold exceeded; try again later.",
                }.get(failure.status, "An unexpected error occurred on the server.")
                raise ApiError(failure.status, text, headers=headers)
            now = time.monotonic()
            if now - self.window_start >= 3600:
                self.window_start, self.window_count = now, 0
            if self.window_count >= self.hourly_budget:
                wait = max(1, int(3600 - (now - self.window_start)))
                raise ApiError(
                    429,
                    f"The request threshold of {self.hourly_budget} requests per hour has been exceeded.",
                    headers={"Retry-After": str(wait)},
                )
            self.window_count += 1

    def authenticate(self, request: Request) -> int:
        """The resource a request acts as; 401 without the right headers."""
        h = request.headers
        if (
            h.get("apiintegrationcode") != self.integration_code
            or (h.get("username") or "").casefold() != self.username.casefold()
            or h.get("secret") != self.secret
        ):
            raise ApiError(
                401, "Authentication failed: the UserName, Secret or ApiIntegrationCode is not valid."
            )
        impersonate = h.get("impersonationresourceid")
        technicians = self.tenant.technicians
        if impersonate is None:
            return technicians[0]
        if not impersonate.strip().isdigit() or int(impersonate) not in technicians:
            raise ApiError(403, f"Impersonation of resource {impersonate} is not allowed for this API user.")
        return int(impersonate)

    # -- vocabulary ---------------------------------------------------------------------

    def field_info(self, entity: str) -> list[dict[str, Any]]:
        schema = self.tenant.schemas[entity]
        out = []
        for name in schema.fields:
            picklist = schema.picklists.get(name)
            inactive = self.tenant.inactive.get((entity, name), set())
            out.append(
                {
                    "name": name,
                    "dataType": "datetime" if name in schema.dates else "integer" if picklist else "string",
                    "length": 0,
                    "isRequired": name in schema.required,
                    "isReadOnly": name in schema.read_only,
                    "isQueryable": True,
                    "isReference": name in schema.references,
                    "referenceEntityType": _SINGULAR.get(schema.references.get(name, ""), ""),
                    "isPickList": picklist is not None,
                    "picklistValues": _picklist(picklist, schema.defaults.get(name), inactive) if picklist else None,
                    "picklistParentValueField": "",
                    "isSupportedWebhookField": entity in WEBHOOK_ENTITY_TYPES,
                }
            )
        return out

    def hook_field_info(self, prefix: str) -> list[dict[str, Any]]:
        """``{Name}WebhookFields/entityInformation/fields``: ``fieldID`` lists the webhook fields."""
        catalog = {v: k for k, v in self.hooks.catalog[prefix].items()}
        out = []
        for name in ("id", "webhookID", "fieldID", "isSubscribedField", "isDisplayAlwaysField"):
            picklist = catalog if name == "fieldID" else None
            out.append(
                {
                    "name": name,
                    "dataType": "boolean" if name.startswith("is") else "integer",
                    "length": 0,
                    "isRequired": name in ("webhookID", "fieldID"),
                    "isReadOnly": name == "id",
                    "isQueryable": True,
                    "isReference": name == "webhookID",
                    "referenceEntityType": f"{prefix}Webhook" if name == "webhookID" else "",
                    "isPickList": picklist is not None,
                    "picklistValues": _picklist(picklist) if picklist else None,
                    "picklistParentValueField": "",
                    "isSupportedWebhookField": False,
                }
            )
        return out

    def udf_info(self, entity: str) -> list[dict[str, Any]]:
        out = []
        for name, picklist in self.tenant.udfs.get(entity, {}).items():
            out.append(
                {
                    "name": name,
                    "label": name,
                    "type": "string",
                    "length": 8000 if picklist is None else 0,
                    "isPickList": picklist is not None,
                    "picklistValues": _picklist(picklist) if picklist else None,
                }
            )
        return out

    # -- queries --------------------------------------------------------------------------

    def query(
        self, entity: str, search: dict[str, Any], after: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page: the records and the id the next page continues after (None: last page)."""
        schema = self.tenant.schemas[entity]
        filters = search.get("Filter") or search.get("filter")
        if not isinstance(filters, list) or not filters:
            raise ApiError(500, "A query must contain at least one filter.")
        max_records = search.get("MaxRecords") or MAX_RECORDS
        if not isinstance(max_records, int) or not 1 <= max_records <= MAX_RECORDS:
            raise ApiError(500, f"MaxRecords must be between 1 and {MAX_RECORDS}.")
        try:
            preds = [compile_filter(f, schema, self.tenant.udfs.get(entity, {})) for f in filters]
        except QueryError as exc:
            raise ApiError(500, str(exc)) from None
        include = search.get("IncludeFields") or search.get("includeFields") or []
        with self.lock:
            table = self.tables[entity]
            records, more = table.query(
                filters, lambda r: all(p(r) for p in preds), after, min(max_records, self.page_size)
            )
            items = [_project(r, include) for r in records]
        return items, (records[-1]["id"] if more and records else None)

    def get(self, entity: str, rid: int) -> dict[str, Any] | None:
        with self.lock:
            record = self.tables[entity].records.get(rid)
            return _copy(record) if record else None

    # -- writes ---------------------------------------------------------------------------

    def write(
        self,
        entity: str,
        body: Any,
        *,
        create: bool,
        actor: int,
        parent: tuple[str, int] | None = None,
        replace: bool = False,
    ) -> int:
        """A create (POST), an update (PATCH) or, with ``replace``, a full replacement (PUT)."""
        if not isinstance(body, dict):
            raise ApiError(500, "The request body must be a JSON object.")
        schema = self.tenant.schemas[entity]
        with self.lock:
            table = self.tables[entity]
            changes: dict[str, Any] = {}
            udfs = body.get("userDefinedFields")
            for key, value in body.items():
                if key in ("id", "userDefinedFields"):
                    continue
                name = next((f for f in schema.fields if f.casefold() == key.casefold()), None)
                if name is None:
                    raise ApiError(500, f"Unable to find {key} in the {entity} entity.")
                if name in schema.read_only:
                    continue
                changes[name] = self._check_value(schema, name, value)
            if parent is not None:
                field_name, parent_id = parent
                if field_name in changes and changes[field_name] != parent_id:
                    raise ApiError(
                        500, f"{field_name} {changes[field_name]} does not match the parent id {parent_id}."
                    )
                changes[field_name] = parent_id
            # write-only fields (a portal user's password) are kept aside, never in the record
            hidden = {f: changes.pop(f) for f in schema.write_only if f in changes}
            if create or replace:
                if replace:
                    changes = {**dict.fromkeys(_replaceable(schema)), **changes}
                missing = [f for f in schema.required if changes.get(f) in (None, "")]
                if missing:
                    raise ApiError(500, *[f"Value is required for field {f}." for f in missing])
            if create:
                self._check_rules(entity, None, changes, hidden)
                record: dict[str, Any] = {**dict.fromkeys(schema.fields), **schema.initial, **changes}
                if schema.has_udfs:
                    record["userDefinedFields"] = [
                        {"name": n, "value": None} for n in self.tenant.udfs.get(entity, {})
                    ]
                self._apply_udfs(entity, record, udfs)
                self._stamp_create(entity, record, actor)
                table.insert(record)
                rid = record["id"]
                fields = {**changes, "id": rid}
            else:
                rid = body.get("id")
                if not isinstance(rid, int) or isinstance(rid, bool):
                    raise ApiError(500, "An update needs the integer id of the record.")
                current = table.records.get(rid)
                if current is None or (parent is not None and current.get(parent[0]) != parent[1]):
                    raise ApiError(404, f"{entity} {rid} was not found.")
                self._check_rules(entity, current, changes, hidden)
                if udfs is not None:
                    merged = _copy(current)
                    self._apply_udfs(entity, merged, udfs)
                    changes["userDefinedFields"] = merged["userDefinedFields"]
                changes.update(self._stamps(entity, actor, changes))
                table.change(rid, changes)
                fields = {k: v for k, v in changes.items() if k != table.cursor}
            if "password" in hidden:
                self.portal_passwords[int(rid)] = str(hidden["password"])
            self._after_write(entity, rid, actor)
            self._callout(entity, "Create" if create else "Update", rid, fields, actor)
            return int(rid)

    def _check_rules(
        self, entity: str, current: dict[str, Any] | None, changes: dict[str, Any], hidden: dict[str, Any]
    ) -> None:
        """The entity's business rules (:mod:`.sim_rules`); a refusal is HTTP 500."""
        try:
            if entity == "CompanyTeams":
                check_team_member(self.tables, changes, set(self.tenant.technicians), {self.tenant.api_user})
            elif entity == "ClientPortalUsers":
                check_portal_user(self.tables, current, changes, hidden.get("password"))
        except RuleError as exc:
            raise ApiError(500, str(exc)) from None

    def udf_definitions(self, search: Any) -> list[dict[str, Any]]:
        """``UserDefinedFieldDefinitions/query`` by ``name`` (``eq``): id, name, udfType, dataType."""
        wanted = None
        for item in (search or {}).get("Filter") or [] if isinstance(search, dict) else []:
            if isinstance(item, dict) and item.get("field") == "name" and item.get("op") == "eq":
                wanted = str(item.get("value")).casefold()
        with self.lock:
            found = []
            for (entity, name), udf_id in sorted(self.tenant.udf_ids.items(), key=lambda kv: kv[1]):
                if entity not in self.tenant.udfs or name not in self.tenant.udfs[entity]:
                    continue
                if wanted is None or name.casefold() == wanted:
                    udf_type = next(k for k, v in UDF_TYPES.items() if UDF_TYPE_ENTITIES[v] == entity)
                    data_type = 1 if self.tenant.udfs[entity][name] is None else 4
                    found.append({"id": udf_id, "name": name, "udfType": udf_type, "dataType": data_type})
            return found

    def define_udf(self, body: Any) -> int:
        """``POST V1.0/UserDefinedFieldDefinitions``: a new UDF of one entity (name, udfType,
        dataType required; a UDF name is unique per entity; a UDF cannot be deleted)."""
        if not isinstance(body, dict):
            raise ApiError(500, "The request body must be a JSON object.")
        name = str(body.get("name") or "").strip()
        given = (body.get("udfType"), body.get("dataType"))
        codes = [c for c in given if isinstance(c, int) and not isinstance(c, bool)]
        if len(codes) != 2:
            raise ApiError(500, "udfType and dataType must be picklist values (integers).")
        udf_type, data_type = UDF_TYPES.get(codes[0]), UDF_DATA_TYPES.get(codes[1])
        if not name or udf_type is None or data_type is None:
            raise ApiError(500, "name, udfType and dataType are required, with values from their picklists.")
        entity = UDF_TYPE_ENTITIES[udf_type]
        with self.lock:
            fields = self.tenant.udfs.setdefault(entity, {})
            if any(n.casefold() == name.casefold() for n in fields):
                raise ApiError(500, f"A user-defined field named {name} already exists for {udf_type}.")
            fields[name] = {} if data_type == "List" else None
            udf_id = max(self.tenant.udf_ids.values(), default=29_680_000) + 1
            self.tenant.udf_ids[(entity, name)] = udf_id
            return udf_id

    def add_udf_item(self, udf_id: int, body: Any) -> int:
        """``POST V1.0/UserDefinedFields/{id}/ListItems``: one value of a list UDF."""
        found = next((key for key, i in self.tenant.udf_ids.items() if i == udf_id), None)
        if found is None:
            raise ApiError(404, f"UserDefinedFields {udf_id} was not found.")
        label = str((body or {}).get("valueForDisplay") or "").strip() if isinstance(body, dict) else ""
        if not label:
            raise ApiError(500, "Value is required for field valueForDisplay.")
        with self.lock:
            values = self.tenant.udfs[found[0]][found[1]]
            if values is None:
                raise ApiError(500, f"{found[1]} is not a list user-defined field.")
            value = max((int(v) for v in values), default=udf_id * 10) + 1
            values[str(value)] = label
            return value

    def delete(self, entity: str, rid: int, parent: tuple[str, int]) -> int:
        """``DELETE {Parent}/{id}/{Child}/{id}`` (account team members only)."""
        with self.lock:
            table = self.tables[entity]
            current = table.records.get(rid)
            if current is None or current.get(parent[0]) != parent[1]:
                raise ApiError(404, f"{entity} {rid} was not found.")
            try:
                check_team_removal(current)
            except RuleError as exc:
                raise ApiError(500, str(exc)) from None
            table.remove(rid)
            return rid

    def _check_value(self, schema: Any, name: str, value: Any) -> Any:
        picklist = schema.picklists.get(name)
        if picklist is not None and value is not None:
            if isinstance(value, bool) or not str(value).lstrip("-").isdigit() or int(value) not in picklist:
                raise ApiError(500, f"Value {value} does not exist for field {name}.")
            return int(value)
        target = schema.references.get(name)
        if target in self.tables and value not in (None, ""):
            if not str(value).isdigit() or int(value) not in self.tables[target].records:
                raise ApiError(500, f"{name}: {target} {value} does not exist.")
            return int(value)
        if name in schema.dates and value not in (None, ""):
            try:
                return stamp(_parse_date(value))
            except ValueError:
                raise ApiError(500, f"'{value}' is not a valid date/time value for {name}.") from None
        return value

    def _apply_udfs(self, entity: str, record: dict[str, Any], udfs: Any) -> None:
        if udfs is None:
            return
        known = self.tenant.udfs.get(entity, {})
        if not isinstance(udfs, list) or not all(isinstance(u, dict) and "name" in u for u in udfs):
            raise ApiError(500, "userDefinedFields must be a list of {name, value} objects.")
        current = {u["name"]: u for u in record.get("userDefinedFields") or []}
        for udf in udfs:
            name = next((n for n in known if n.casefold() == str(udf["name"]).casefold()), None)
            if name is None:
                raise ApiError(500, f"User-defined field {udf['name']} does not exist for {entity}.")
            value = udf.get("value")
            picklist = known[name]
            if picklist is not None and value not in (None, "") and str(value) not in picklist:
                raise ApiError(500, f"Value {value} does not exist for user-defined field {name}.")
            current[name] = {"name": name, "value": None if value is None else str(value)}
        record["userDefinedFields"] = list(current.values())

    def _stamps(self, entity: str, actor: int, changes: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        table = self.tables[entity]
        if entity == "ServiceCalls":
            return {"lastModifiedDateTime": now}
        if table.cursor is None:
            return {}  # account team members and portal users carry no timestamps
        out: dict[str, Any] = {table.cursor: now}
        if entity == "Companies":
            out["lastTrackedModifiedDateTime"] = now
        elif entity == "Contacts":
            out["lastModifiedDate"] = now
        elif entity == "Tickets":
            out["lastActivityResourceID"] = actor
            out["lastActivityPersonType"] = 1  # a resource (the API user) acted last
            if changes.get("status") == 5:
                out["completedDate"] = now
        return out

    def _stamp_create(self, entity: str, record: dict[str, Any], actor: int) -> None:
        now = _now()
        record.update(self._stamps(entity, actor, record))
        for key in ("createDate", "createDateTime"):
            if key in record:
                record[key] = now
        for key in ("createdByResourceID", "creatorResourceID"):
            if key in record:
                record[key] = actor
        if entity == "Tickets":
            record["ticketNumber"] = f"T{now[:10].replace('-', '')}.{self.tables['Tickets'].next_id:04d}"

    def _after_write(self, entity: str, rid: int, actor: int) -> None:
        """A note is activity on its ticket: the ticket's lastActivityDate moves too."""
        if entity == "TicketNotes":
            ticket_id = self.tables[entity].records[rid]["ticketID"]
            self.tables["Tickets"].change(ticket_id, self._stamps("Tickets", actor, {}))

    def contact_note(self, ticket_id: int, description: str) -> int:
        """A contact answers by e-mail: Autotask appends the reply to the ticket as a note, and
        the contact is the ticket's last actor (``lastActivityPersonType`` 2, a contact)."""
        with self.lock:
            note = self.write(
                "TicketNotes",
                {"ticketID": ticket_id, "title": "Reply from the contact", "description": description,
                 "noteType": 1, "publish": 1},
                create=True,
                actor=RESOURCES[0],
                parent=("ticketID", ticket_id),
            )  # fmt: skip
            self.tables["Tickets"].change(ticket_id, {"lastActivityPersonType": 2, "lastActivityResourceID": None})
            return note

    def touch(self, entity: str, record_id: str | None = None) -> str:
        with self.lock:
            table = self.tables[entity]
            if not table.ids:
                raise KeyError(f"{entity} has no records")
            rid = int(record_id) if record_id is not None else table.ids[0]
            if rid not in table.records:
                raise KeyError(f"{entity} has no record {rid}")
            actor = self.tenant.technicians[0]
            table.change(rid, self._stamps(entity, actor, {}))
            self._callout(entity, "Update", rid, {}, actor)
            return str(rid)

    # -- webhooks -----------------------------------------------------------------------

    def callout_body(self, entity: str, action: str, rid: int, fields: dict[str, Any], actor: int) -> bytes:
        record = self.tables[entity].records.get(rid, {})
        shown = {k: record.get(k) for k in DISPLAY_ALWAYS if k in record}
        self.sequence[entity] += 1
        payload = {
            "Action": action,
            "Guid": self.webhook_guids[entity],
            "EntityType": WEBHOOK_ENTITY_TYPES[entity],
            "Id": rid,
            "Fields": {**shown, **{k: v for k, v in fields.items() if k not in ("userDefinedFields", "id")}},
            "EventTime": _now(),
            "SequenceNumber": self.sequence[entity],
            "PersonID": actor,
        }
        return json.dumps(payload).encode("utf-8")

    def signed(self, body: bytes, secret: bytes | None = None) -> dict[str, str]:
        """Headers of a callout, signed with ``secret`` (default: the configured webhook's key)."""
        return {
            "Content-Type": "application/json",
            "X-Hook-Signature": sign(secret if secret is not None else self.webhook_secret.encode(), body),
        }

    def _callout(self, entity: str, action: str, rid: int, fields: dict[str, Any], actor: int) -> None:
        if entity not in WEBHOOK_ENTITY_TYPES:
            return
        if self.webhook_url and self.webhook_active:
            body = self.callout_body(entity, action, rid, fields, actor)
            self._send(self.webhook_url, body, self.webhook_secret.encode(), self._configured_delivered)
        record = self.tables[entity].records[rid]
        for hook in self.hooks.targets(entity, action, set(fields)):
            body = self.hooks.callout(hook, action, record, fields, actor)
            self._send(hook.record["webhookUrl"], body, hook.secret, partial(self._hook_delivered, hook))

    def _send(self, url: str, body: bytes, secret: bytes, report: Callable[[int], None]) -> None:
        """Queue one signed POST; ``report`` gets its HTTP status (0: no answer) under the lock."""
        if self._sender is None:
            self._sender = threading.Thread(
                target=self._deliver_forever, name="autotask-webhooks", daemon=True
            )
            self._sender.start()
        self._outbox.put((url, body, secret, report))

    def _deliver_forever(self) -> None:
        with httpx.Client(timeout=10.0) as client:
            while True:
                job = self._outbox.get()
                try:
                    if job is None:
                        return
                    self._deliver(client, *job)
                finally:
                    self._outbox.task_done()

    def _deliver(
        self, client: httpx.Client, url: str, body: bytes, secret: bytes, report: Callable[[int], None]
    ) -> None:
        try:
            status = client.post(url, content=body, headers=self.signed(body, secret)).status_code
        except httpx.HTTPError:
            status = 0
        with self.lock:
            self.deliveries.append({"url": url, "status": status, "body": body})
            report(status)

    def _configured_delivered(self, status: int) -> None:
        if 200 <= status < 300:
            self.failed_deliveries = 0
            return
        self.failed_deliveries += 1
        if self.failed_deliveries >= MAX_FAILED_DELIVERIES and self.webhook_active:
            self.deactivate_webhooks()

    def _hook_delivered(self, hook: Hook, status: int) -> None:
        notice = self.hooks.delivered(hook, status)
        if notice is not None:
            self._send(hook.record["deactivationUrl"], notice, hook.secret, _notice_delivered)

    def deactivate_webhooks(self) -> None:
        """Autotask gave up on the configured webhook: stop callouts and notify the deactivation URL."""
        with self.lock:
            self.webhook_active = False
            notice = {"Action": "Deactivated", "Guid": self.webhook_guids["Tickets"], "EventTime": _now()}
            if self.webhook_url:
                body = json.dumps(notice).encode("utf-8")
                self._send(self.webhook_url, body, self.webhook_secret.encode(), _notice_delivered)

    def flush_webhooks(self, timeout: float = 10.0) -> None:
        """Block until every queued callout was attempted."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)


def _notice_delivered(status: int) -> None:
    """A deactivation notice is sent once; its own delivery counts toward nothing."""


def _picklist(values: dict[Any, str], default: Any = None, inactive: set[Any] | None = None) -> list[dict[str, Any]]:
    return [
        {
            "value": str(v),
            "label": label,
            "isDefaultValue": v == default,
            "sortOrder": i,
            "parentValue": "",
            "isActive": v not in (inactive or set()),
            "isSystem": False,
        }
        for i, (v, label) in enumerate(values.items())
    ]


#: entity (table) -> the singular name entityInformation gives as ``referenceEntityType``
_SINGULAR = {
    "Companies": "Company",
    "Contacts": "Contact",
    "Tickets": "Ticket",
    "Contracts": "Contract",
    "ConfigurationItems": "ConfigurationItem",
    "Resources": "Resource",
    "Roles": "Role",
    "Products": "Product",
}


def _page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "items": items,
        "pageDetails": {"count": len(items), "requestCount": MAX_RECORDS, "prevPageUrl": None, "nextPageUrl": None},
    }


def _udf_definition_fields() -> list[dict[str, Any]]:
    """``UserDefinedFieldDefinitions/entityInformation/fields``: the two picklists a create needs."""
    out = []
    for name, values in (("name", None), ("udfType", UDF_TYPES), ("dataType", UDF_DATA_TYPES), ("isActive", None)):
        out.append(
            {
                "name": name,
                "dataType": "integer" if values else "string",
                "isRequired": name != "isActive",
                "isReadOnly": False,
                "isQueryable": True,
                "isReference": False,
                "referenceEntityType": "",
                "isPickList": values is not None,
                "picklistValues": _picklist(values) if values else None,
            }
        )
    return out


def _replaceable(schema: Any) -> list[str]:
    """The fields a PUT sets (to null when left out)."""
    return [f for f in schema.fields if f not in schema.read_only and f not in schema.write_only]


def _parse_date(value: Any) -> datetime:
    text = str(value).strip()
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _copy(record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    if "userDefinedFields" in out:
        out["userDefinedFields"] = [dict(u) for u in out["userDefinedFields"] or []]
    return out


def _project(record: dict[str, Any], include: list[str]) -> dict[str, Any]:
    if not include:
        return _copy(record)
    wanted = {str(f).casefold() for f in include} | {"id"}
    out = {k: v for k, v in record.items() if k.casefold() in wanted and k != "userDefinedFields"}
    udfs = [dict(u) for u in record.get("userDefinedFields") or [] if u["name"].casefold() in wanted]
    if udfs:
        out["userDefinedFields"] = udfs
    return out


# -- the ASGI app ---------------------------------------------------------------------------


def _entity(name: str) -> str:
    for entity in (*ENTITIES, *LOOKUPS):
        if entity.casefold() == name.casefold():
            return entity
    raise ApiError(404, f"The entity {name} does not exist.")


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON.") from None


def _zone_base(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}{ZONE_PREFIX}/"


def build_app(sim: AutotaskSimulator) -> Any:
    """The Starlette app serving ``sim``."""

    def api(handler: Callable[..., Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                sim.admit()
                actor = sim.authenticate(request)
                body = await _json(request) if request.method in ("POST", "PATCH", "PUT") else None
                path, query = request.scope.get("original_path"), request.url.query
                sim.requests.append({"method": request.method, "path": path, "query": query, "json": body})
                return JSONResponse(handler(request, actor, body))
            except ApiError as err:
                return err.response()
            except HookError as err:
                return ApiError(err.status, str(err)).response()

        return endpoint

    async def zone_information(request: Request) -> Response:
        user = request.query_params.get("user", "")
        if user.casefold() != sim.username.casefold():
            return ApiError(500, "Zone information could not be determined for this user.").response()
        return JSONResponse(
            {
                "zoneName": "Simulator Zone 5",
                "url": _zone_base(request),
                "webUrl": f"{str(request.base_url).rstrip('/')}/ww5/",
                "ci": 123456,
            }
        )

    def do_query(request: Request, actor: int, body: Any) -> Any:
        if request.path_params["entity"].casefold() == "userdefinedfielddefinitions":
            return _page(sim.udf_definitions(body))
        hook = hook_resource(request.path_params["entity"])
        if hook is not None:
            if not isinstance(body, dict):
                raise ApiError(500, "A query needs a search object.")
            with sim.lock:
                items = sim.hooks.query(*hook, body)
            return {
                "items": items,
                "pageDetails": {
                    "count": len(items),
                    "requestCount": MAX_RECORDS,
                    "prevPageUrl": None,
                    "nextPageUrl": None,
                },
            }
        entity = _entity(request.path_params["entity"])
        posted = request.method == "POST"
        try:
            if not posted:
                body = json.loads(request.query_params.get("search") or "null")
            paging = json.loads(request.query_params.get("paging") or "null")
        except ValueError:
            raise ApiError(500, "The search or paging parameter is not valid JSON.") from None
        after = int(paging["nextIds"][0]) if isinstance(paging, dict) and paging.get("nextIds") else 0
        if not isinstance(body, dict):
            raise ApiError(500, "A query needs a search object.")
        items, next_after = sim.query(entity, body, after)
        next_url = None
        if next_after is not None:
            paging = {"pageSize": len(items), "previousIds": [items[0]["id"]], "nextIds": [next_after]}
            next_url = f"{_zone_base(request)}V1.0/{entity}/query/next?paging={quote(json.dumps(paging))}"
            if not posted:  # a GET query's next page is a GET that carries the search
                next_url += f"&search={quote(json.dumps(body))}"
        return {
            "items": items,
            "pageDetails": {
                "count": len(items),
                "requestCount": body.get("MaxRecords") or MAX_RECORDS,
                "prevPageUrl": None,
                "nextPageUrl": next_url,
            },
        }

    def do_next(request: Request, actor: int, body: Any) -> Any:
        """``query/next``: a POST of the query body, or a GET whose URL carries the search."""
        if request.method == "GET" and "search" not in request.query_params:
            # the next page of a POSTed query has no GET action: ASP.NET Web API's own 405
            raise MethodNotAllowed("GET", allow="POST")
        return do_query(request, actor, body)

    def do_get(request: Request, actor: int, body: Any) -> Any:
        return {"item": sim.get(_entity(request.path_params["entity"]), int(request.path_params["id"]))}

    def do_fields(request: Request, actor: int, body: Any) -> Any:
        hook = hook_resource(request.path_params["entity"])
        if hook is not None and hook[1] == "fields":
            return {"fields": sim.hook_field_info(hook[0])}
        if request.path_params["entity"].casefold() == "userdefinedfielddefinitions":
            return {"fields": _udf_definition_fields()}
        return {"fields": sim.field_info(_entity(request.path_params["entity"]))}

    def do_udfs(request: Request, actor: int, body: Any) -> Any:
        return {"fields": sim.udf_info(_entity(request.path_params["entity"]))}

    def do_write(request: Request, actor: int, body: Any) -> Any:
        if request.path_params["entity"].casefold() == "userdefinedfielddefinitions" and request.method == "POST":
            return {"itemId": sim.define_udf(body)}
        hook = hook_resource(request.path_params["entity"])
        if hook is not None and hook[1] == "hooks" and request.method != "PUT":
            with sim.lock:
                if request.method == "POST":
                    return {"itemId": sim.hooks.create(hook[0], body, actor)}
                return {"itemId": sim.hooks.update(hook[0], body)}
        entity = _entity(request.path_params["entity"])
        if entity not in _TOP_LEVEL_WRITES:
            raise ApiError(405, f"The {entity} entity cannot be written at this URL.")
        method = request.method
        return {
            "itemId": sim.write(entity, body, create=method == "POST", actor=actor, replace=method == "PUT")
        }

    def do_child_write(request: Request, actor: int, body: Any) -> Any:
        hook = hook_resource(request.path_params["parent"])
        if hook is not None and hook[1] == "hooks" and request.path_params["child"].casefold() == "fields":
            pid = int(request.path_params["pid"])
            with sim.lock:
                if request.method == "POST":
                    return {"itemId": sim.hooks.add_field(hook[0], pid, body)}
                return {"itemId": sim.hooks.update_field(hook[0], pid, body)}
        key = (request.path_params["parent"].casefold(), request.path_params["child"].casefold())
        if key == ("userdefinedfields", "listitems") and request.method == "POST":
            return {"itemId": sim.add_udf_item(int(request.path_params["pid"]), body)}
        entity = _PARENT_ROUTES.get(key)
        if entity is None:
            raise ApiError(404, "This child collection does not exist.")
        if request.method == "PATCH" and not ENTITIES[entity].updatable:
            raise ApiError(
                405, f"The {entity} entity cannot be updated; delete the record and create another."
            )
        parent_entity = _entity(request.path_params["parent"])
        parent_id = int(request.path_params["pid"])
        if sim.get(parent_entity, parent_id) is None:
            raise ApiError(404, f"{parent_entity} {parent_id} was not found.")
        field_name = ENTITIES[entity].parent_field or ""
        return {
            "itemId": sim.write(
                entity, body, create=request.method == "POST", actor=actor, parent=(field_name, parent_id)
            )
        }

    def do_child_delete(request: Request, actor: int, body: Any) -> Any:
        key = (request.path_params["parent"].casefold(), request.path_params["child"].casefold())
        entity = _PARENT_ROUTES.get(key)
        if entity is None or not ENTITIES[entity].deletable:
            raise ApiError(405, "Records of this child collection cannot be deleted.")
        parent = (ENTITIES[entity].parent_field or "", int(request.path_params["pid"]))
        # OperationResultModel: {"itemId": the deleted record's id}
        return {"itemId": sim.delete(entity, int(request.path_params["id"]), parent)}

    def do_threshold(request: Request, actor: int, body: Any) -> Any:
        return {
            "externalRequestThreshold": sim.hourly_budget,
            "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": sim.window_count,
        }

    z = f"{ZONE_PREFIX}/v1.0".lower()
    routes = [
        Route(f"{ROOT_PREFIX}/v1.0/zoneinformation", zone_information, methods=["GET"]),
        Route(f"{z}/thresholdinformation", api(do_threshold), methods=["GET"]),
        Route(f"{z}/{{entity}}/query", api(do_query), methods=["GET", "POST"]),
        Route(f"{z}/{{entity}}/query/next", api(do_next), methods=["GET", "POST"]),
        Route(f"{z}/{{entity}}/entityinformation/fields", api(do_fields), methods=["GET"]),
        Route(f"{z}/{{entity}}/entityinformation/userdefinedfields", api(do_udfs), methods=["GET"]),
        Route(f"{z}/{{entity}}/{{id:int}}", api(do_get), methods=["GET"]),
        Route(f"{z}/{{entity}}", api(do_write), methods=["POST", "PATCH", "PUT"]),
        Route(f"{z}/{{parent}}/{{pid:int}}/{{child}}", api(do_child_write), methods=["POST", "PATCH"]),
        Route(f"{z}/{{parent}}/{{pid:int}}/{{child}}/{{id:int}}", api(do_child_delete), methods=["DELETE"]),
    ]
    return _CaseInsensitive(Starlette(routes=routes))


class _CaseInsensitive:
    """Route on the lower-cased path (IIS paths are case-insensitive); keep the original for logs."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = dict(scope)
            path = scope["path"]
            scope["original_path"] = path
            # entity names stay case-insensitive through _entity(); only route literals need lowering
            scope["path"] = "/".join(p if p.lower() not in _LITERALS else p.lower() for p in path.split("/"))
        await self.app(scope, receive, send)


_LITERALS = {
    "ws5",
    "atservicesrest",
    "v1.0",
    "zoneinformation",
    "thresholdinformation",
    "query",
    "next",
    "entityinformation",
    "fields",
    "userdefinedfields",
}


@dataclass
class AutotaskControl:
    """The control handle (hub.sandbox.SimulatorControl) plus Autotask-specific controls."""

    sim: AutotaskSimulator

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        with self.sim.lock:
            self.sim.failures.extend(Failure(status, retry_after) for _ in range(count))

    def touch(self, stream: str, record_id: str | None = None) -> str:
        return self.sim.touch(_entity(stream), record_id)

    def count(self, stream: str) -> int:
        return len(self.sim.tables[_entity(stream)].records)

    def sample_webhook(self) -> tuple[dict[str, str], bytes]:
        with self.sim.lock:
            ticket = self.sim.tables["Tickets"].ids[0]
            actor = self.sim.tenant.technicians[0]
            body = self.sim.callout_body("Tickets", "Update", ticket, {"status": 13}, actor)
        return self.sim.signed(body), body

    def record(self, stream: str, record_id: int | str) -> dict[str, Any] | None:
        return self.sim.get(_entity(stream), int(record_id))

    def set_budget(self, hourly_budget: int) -> None:
        """Change the hourly request budget (past it every request answers 429)."""
        with self.sim.lock:
            self.sim.hourly_budget = hourly_budget

    def reset_usage(self) -> None:
        with self.sim.lock:
            self.sim.window_start, self.sim.window_count = time.monotonic(), 0

    @property
    def usage(self) -> int:
        return self.sim.window_count

    @property
    def requests(self) -> list[dict[str, Any]]:
        return list(self.sim.requests)

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        return list(self.sim.deliveries)

    def deactivate_webhooks(self) -> None:
        self.sim.deactivate_webhooks()

    def registered_webhooks(self, prefix: str) -> list[dict[str, Any]]:
        """The ``{prefix}Webhooks`` registered through the API, with their field names and failure count."""
        with self.sim.lock:
            return [
                {
                    **hook.answer(),
                    "subscribed": sorted(self.sim.hooks.field_names(hook, "isSubscribedField")),
                    "displayAlways": sorted(self.sim.hooks.field_names(hook, "isDisplayAlwaysField")),
                    "failedDeliveries": hook.failed,
                }
                for hook in self.sim.hooks.hooks[prefix].values()
            ]

    def flush_webhooks(self, timeout: float = 10.0) -> None:
        self.sim.flush_webhooks(timeout)


def build_sandbox(**options: Any) -> Sandbox:
    """``size`` (companies), ``seed``, ``webhook_url``, ``hourly_budget``, ``page_size``, ``profile``."""
    sim = AutotaskSimulator(**options)

    def settings(base_url: str) -> dict[str, Any]:
        values = {
            "username": sim.username,
            "secret": sim.secret,
            "integration_code": sim.integration_code,
            "api_root": f"{base_url.rstrip('/')}{ROOT_PREFIX}/",
            "webhook_secret": sim.webhook_secret,
        }
        if sim.profile == "sandbox":  # set up as an MSP would; a real-like database is not (hub check)
            values["device_product"] = sim.tenant.products[min(sim.tenant.products)]["name"]
        return values

    return Sandbox(
        app=build_app(sim), settings=settings, control=AutotaskControl(sim), extra={"simulator": sim}
    )
