"""A simulator of QuickBooks Online: OAuth token endpoint, accounting API and webhooks.

Served on loopback (``hub.sandbox.serve_app``), it answers like Intuit does:

* ``POST /oauth2/v1/tokens/bearer`` - HTTP Basic client credentials, form
  ``grant_type=refresh_token``; every refresh returns a new refresh token and the one
  used is dead from then on (``{"error": "invalid_grant"}``); access tokens live an hour.
* ``/v3/company/{realm}/query`` (GET ``?query=`` or POST text), ``/cdc`` (30-day
  look-back, 1,000 objects at most), ``/customer`` (create; update with ``SyncToken``,
  sparse or full, fault 5010 when stale, fault 2010 for a ``BillEmail`` on a customer,
  fault 2050 past 100 characters of ``PrimaryEmailAddr``, fault 6240 for a duplicate
  name), ``/customer/{id}``, ``/invoice/{id}``, ``/companyinfo/{realm}``.
* JSON only when asked (``Accept: application/json``), XML otherwise; 401 with Intuit's
  lower-case ``fault`` body for a missing or expired bearer token; 429 ThrottleExceeded
  past the per-minute budget; faults injected on demand, also inside an HTTP 200.
* Webhooks: changes are collected and :meth:`QuickBooksSimulator.deliver_webhooks`
  posts them, signed with ``intuit-signature``, to the configured URL in the CloudEvents
  or the classic format.

The object itself is the control handle of :class:`hub.sandbox.SimulatorControl`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
import threading
import urllib.parse
from collections import deque
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.quickbooks.addresses import MAX_ADDRESS_CHARS, split_addresses
from connectors.quickbooks.records import invoice_email_records, recipient_records
from connectors.quickbooks.simdata import CompanyFile, stamp
from connectors.quickbooks.simquery import Condition, QueryError, parse
from connectors.quickbooks.webhooks import SIGNATURE_HEADER, sign
from hub.sdk import Clock, Sandbox, SystemClock

TOKEN_PATH = "/oauth2/v1/tokens/bearer"  # noqa: S105 - a path
ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 8_726_400
CDC_DAYS = 30
CDC_MAX_OBJECTS = 1000
RECENT_INVOICE_DAYS = 90
READ_ONLY_FIELDS = ("Id", "SyncToken", "MetaData", "domain", "sparse", "FullyQualifiedName")
_VERBS = {"Create": "created", "Update": "updated", "Delete": "deleted", "Merge": "merged"}


def fault_body(
    code: str,
    message: str,
    detail: str = "",
    element: str = "",
    fault_type: str = "ValidationFault",
    when: str = "",
) -> dict[str, Any]:
    return {
        "Fault": {
            "Error": [{"Message": message, "Detail": detail or message, "code": code, "element": element}],
            "type": fault_type,
        },
        "time": when,
    }


def auth_fault_body(detail: str, when_ms: int) -> dict[str, Any]:
    """The 401 body QuickBooks sends (lower-case keys, unlike every other fault)."""
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": when_ms,
        "status": None,
        "cdcresponse": [],
    }


def _xml(name: str, value: Any) -> str:
    if isinstance(value, dict):
        return f"<{name}>" + "".join(_xml(k, v) for k, v in value.items()) + f"</{name}>"
    if isinstance(value, list):
        return "".join(_xml(name, v) for v in value)
    if value is None:
        return f"<{name}/>"
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"<{name}>{escape(text)}</{name}>"


class _Injected:
    def __init__(self, status: int, body: dict[str, Any] | None, retry_after: float | None) -> None:
        self.status = status
        self.body = body
        self.retry_after = retry_after


class QuickBooksSimulator:
    """The simulated Intuit services of one QuickBooks company, and their control handle."""

    def __init__(
        self,
        *,
        size: int = 200,
        seed: int = 7,
        realm_id: str = "9130357766900456",
        client_id: str = "sim-client-id",
        client_secret: str = "sim-client-secret",  # noqa: S107 - simulator credentials
        verifier_token: str = "sim-verifier-token",  # noqa: S107
        webhook_url: str | None = None,
        webhook_format: str = "cloudevents",
        budget: int = 500,
        invoice_ratio: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        if webhook_format not in ("cloudevents", "legacy"):
            raise ValueError("webhook_format must be 'cloudevents' or 'legacy'")
        self.clock = clock or SystemClock()
        self.realm_id = realm_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.verifier_token = verifier_token
        self.webhook_url = webhook_url
        self.webhook_format = webhook_format
        self.budget = budget
        self.data = CompanyFile(size, seed, self.clock.now(), invoice_ratio)
        self._lock = threading.RLock()
        self._refresh_tokens: dict[str, datetime] = {}
        self._access_tokens: dict[str, datetime] = {}
        self._injected: deque[_Injected] = deque()
        self._reject_refresh = 0
        self._minute: tuple[int, int] = (0, 0)
        self._before_update: dict[str, dict[str, Any]] = {}
        #: requestid -> the answer to the write it first came with (see _customer_write)
        self._replies: dict[str, Response] = {}
        self._events: list[dict[str, Any]] = []
        self._event_seq = 0
        self.requests: deque[dict[str, Any]] = deque(maxlen=20_000)
        self.refreshes = 0
        self.throttled = 0
        self.webhook_deliveries: list[int] = []
        self.app = Starlette(
            routes=[
                Route(TOKEN_PATH, self._token, methods=["POST"]),
                Route("/v3/company/{realm}/query", self._query, methods=["GET", "POST"]),
                Route("/v3/company/{realm}/cdc", self._cdc, methods=["GET"]),
                Route("/v3/company/{realm}/customer", self._customer_write, methods=["POST"]),
                Route("/v3/company/{realm}/customer/{id}", self._customer_read, methods=["GET"]),
                Route("/v3/company/{realm}/invoice/{id}", self._invoice_read, methods=["GET"]),
                Route("/v3/company/{realm}/companyinfo/{id}", self._company_info, methods=["GET"]),
            ]
        )

    # == SimulatorControl ================================================================

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """The next ``count`` API requests answer ``status`` in Intuit's shape.

        401 means the credentials are bad: the API answers 401 and the token endpoint
        refuses the client (``invalid_client``) for as many refreshes.
        """
        with self._lock:
            for _ in range(count):
                self._injected.append(_Injected(status, None, retry_after))
            if status == 401:
                self._reject_refresh += count

    def fault_next(
        self,
        code: str,
        message: str,
        detail: str = "",
        *,
        status: int = 200,
        fault_type: str = "ValidationFault",
        count: int = 1,
    ) -> None:
        """The next ``count`` API requests answer a Fault body with HTTP ``status`` (200 by default)."""
        with self._lock:
            for _ in range(count):
                body = fault_body(code, message, detail, fault_type=fault_type, when=self._now_text())
                self._injected.append(_Injected(status, body, None))

    def touch(self, stream: str, record_id: str | None = None) -> str:
        """Change one record of ``stream`` now (a note is edited); returns the stream record's id."""
        with self._lock:
            now = self.clock.now()
            if stream in ("customers", "invoice_recipients"):
                customer = self._pick(self.data.customers, record_id, stream)
                customer["Notes"] = f"touched {stamp(now)}"
                self.data.touched("Customer", customer, now)
                self._queue_event("Customer", customer["Id"], "Update")
                if stream == "customers":
                    return str(customer["Id"])
                return str(recipient_records(customer)[0]["Id"])
            if stream == "invoice_emails":
                invoice = self._pick(self.data.invoices, record_id, stream)
                invoice["PrivateNote"] = f"touched {stamp(now)}"
                self.data.touched("Invoice", invoice, now)
                self._queue_event("Invoice", invoice["Id"], "Update")
                return str(invoice_email_records(invoice)[0]["Id"])
            raise ValueError(
                f"unknown stream {stream!r}; streams: customers, invoice_recipients, invoice_emails"
            )

    def count(self, stream: str) -> int:
        """How many records a full read of ``stream`` returns."""
        with self._lock:
            if stream == "customers":
                return len(self.data.customers)
            if stream == "invoice_recipients":
                return sum(len(recipient_records(c)) for c in self.data.customers.values())
            if stream == "invoice_emails":
                first = (self.clock.now() - timedelta(days=RECENT_INVOICE_DAYS)).date().isoformat()
                return sum(
                    len(invoice_email_records(i))
                    for i in self.data.invoices.values()
                    if i["TxnDate"] >= first
                )
            raise ValueError(f"unknown stream {stream!r}")

    def sample_webhook(self) -> tuple[dict[str, str], bytes]:
        """A validly signed notification that the first customer was updated."""
        with self._lock:
            customer = next(iter(self.data.customers.values()))
            body = self._webhook_body([self._event("Customer", customer["Id"], "Update")])
        return self._signed(body)

    # == vendor-specific controls ===========================================================

    def issue_refresh_token(self) -> str:
        """A new valid refresh token, as when a user connects the app to the company."""
        with self._lock:
            token = "sim-rt-" + secrets.token_urlsafe(18)
            self._refresh_tokens[token] = self.clock.now() + timedelta(seconds=REFRESH_TOKEN_SECONDS)
            return token

    def revoke_tokens(self) -> None:
        """Every refresh and access token stops working (the user disconnected the app)."""
        with self._lock:
            self._refresh_tokens.clear()
            self._access_tokens.clear()

    def expire_access_tokens(self) -> None:
        """Access tokens stop working before their hour is up; refresh tokens stay valid."""
        with self._lock:
            self._access_tokens.clear()

    def edit_before_next_update(self, customer_id: str, fields: dict[str, Any]) -> None:
        """Someone else saves ``fields`` on the customer just before the next update of it arrives."""
        with self._lock:
            self._before_update[str(customer_id)] = dict(fields)

    def customer(self, customer_id: str) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self.data.customers[int(customer_id)]))

    def add_invoice(
        self,
        customer_id: str,
        bill_email: str | None,
        *,
        cc: str | None = None,
        bcc: str | None = None,
        email_status: str = "EmailSent",
        days_ago: int = 1,
    ) -> str:
        """A new invoice for the customer, e-mailed (or to be) to the given addresses."""
        with self._lock:
            customer = self.data.customers[int(customer_id)]
            now = self.clock.now()
            txn = (now - timedelta(days=days_ago)).date().isoformat()
            invoice: dict[str, Any] = {
                "domain": "QBO",
                "sparse": False,
                "SyncToken": "0",
                "TxnDate": txn,
                "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]},
                "EmailStatus": email_status,
                "TotalAmt": 100.0,
                "Balance": 100.0,
                "Line": [],
            }
            for field, value in (("BillEmail", bill_email), ("BillEmailCc", cc), ("BillEmailBcc", bcc)):
                if value:
                    invoice[field] = {"Address": value}
            stored = self.data.insert_invoice(invoice, now, now)
            self._queue_event("Invoice", stored["Id"], "Create")
            return str(stored["Id"])

    def merge_customer(self, customer_id: str) -> None:
        """The customer is merged into another and disappears (CDC reports it Deleted)."""
        with self._lock:
            cid = int(customer_id)
            customer = self.data.customers.pop(cid)
            self.data.names.pop(customer["DisplayName"].lower(), None)
            self.data.changed["Customer"].pop(cid, None)
            self.data.tombstones.append((cid, self.clock.now()))
            self.data.version["Customer"] += 1
            self._queue_event("Customer", customer["Id"], "Merge")

    def pending_webhooks(self) -> int:
        with self._lock:
            return len(self._events)

    def deliver_webhooks(self) -> int | None:
        """Post every collected change as one signed notification to ``webhook_url``.

        Returns the receiver's HTTP status, or None when nothing was pending.
        """
        if not self.webhook_url:
            raise RuntimeError("the simulator has no webhook_url to deliver to")
        with self._lock:
            if not self._events:
                return None
            events, self._events = self._events, []
            body = self._webhook_body(events)
        headers, raw = self._signed(body)
        response = httpx.post(self.webhook_url, content=raw, headers=headers, timeout=10)
        self.webhook_deliveries.append(response.status_code)
        return response.status_code

    # == webhooks ===========================================================================

    def _event(self, entity: str, entity_id: str, operation: str) -> dict[str, Any]:
        self._event_seq += 1
        return {
            "name": entity,
            "id": str(entity_id),
            "operation": operation,
            "lastUpdated": self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "seq": self._event_seq,
        }

    def _queue_event(self, entity: str, entity_id: str, operation: str) -> None:
        if self.webhook_url:
            self._events.append(self._event(entity, entity_id, operation))

    def _webhook_body(self, events: list[dict[str, Any]]) -> bytes:
        if self.webhook_format == "legacy":
            entities = [{k: e[k] for k in ("name", "id", "operation", "lastUpdated")} for e in events]
            payload: Any = {
                "eventNotifications": [{"realmId": self.realm_id, "dataChangeEvent": {"entities": entities}}]
            }
        else:
            source = "intuit." + base64.b64encode(hashlib.sha256(self.client_id.encode()).digest()).decode()
            payload = [
                {
                    "specversion": "1.0",
                    "id": self._cloud_event_id(e),
                    "source": source,
                    "type": f"qbo.{e['name'].lower()}.{_VERBS.get(e['operation'], 'updated')}.v1",
                    "datacontenttype": "application/json",
                    "time": e["lastUpdated"],
                    "intuitentityid": e["id"],
                    "intuitaccountid": self.realm_id,
                    "data": {},
                }
                for e in events
            ]
        return json.dumps(payload, separators=(",", ":")).encode()

    def _cloud_event_id(self, event: dict[str, Any]) -> str:
        tag = hashlib.sha256(f"{self.realm_id}:{event['seq']}".encode()).hexdigest()[:12]
        return f"{tag}-{event['name']}-{event['id']}"

    def _signed(self, body: bytes) -> tuple[dict[str, str], bytes]:
        return {"content-type": "application/json", SIGNATURE_HEADER: sign(body, self.verifier_token)}, body

    # == helpers ============================================================================

    def _now_text(self) -> str:
        return stamp(self.clock.now())

    def _pick(self, table: dict[int, dict[str, Any]], record_id: str | None, stream: str) -> dict[str, Any]:
        if record_id is not None:
            key = str(record_id).split(":", 1)[0]
            return table[int(key)]
        if stream == "invoice_emails":
            return next(i for i in table.values() if invoice_email_records(i))
        if stream == "invoice_recipients":
            return next(c for c in table.values() if recipient_records(c))
        return next(iter(table.values()))

    def _respond(
        self, request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Response:
        """JSON if the client asked for it, otherwise the XML QuickBooks defaults to."""
        if "application/json" in request.headers.get("accept", ""):
            return Response(
                json.dumps(body), status_code=status, media_type="application/json", headers=headers
            )
        xml = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + _xml("IntuitResponse", body)
        return Response(xml, status_code=status, media_type="application/xml", headers=headers)

    def _log(self, request: Request) -> None:
        self.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "params": dict(request.query_params),
                "accept": request.headers.get("accept", ""),
                "authorization": request.headers.get("authorization", "").split(" ", 1)[0],
            }
        )

    def _gate(self, request: Request) -> Response | None:
        """Injected failures, bearer token, realm and the per-minute budget, in that order."""
        self._log(request)
        now = self.clock.now()
        if self._injected:
            inj = self._injected.popleft()
            return self._injected_answer(request, inj)
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        expires = self._access_tokens.get(token)
        if expires is None or expires <= now:
            detail = "Token expired: " + token[:6] if expires is not None else "Token invalid"
            return self._respond(
                request,
                401,
                auth_fault_body(detail, int(now.timestamp() * 1000)),
                {"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'},
            )
        if request.path_params.get("realm") != self.realm_id:
            return self._respond(
                request,
                403,
                fault_body(
                    "3100",
                    "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                    "the token does not belong to this company",
                    fault_type="AuthorizationFault",
                    when=self._now_text(),
                ),
            )
        minute = int(now.timestamp() // 60)
        used = self._minute[1] + 1 if self._minute[0] == minute else 1
        self._minute = (minute, used)
        if used > self.budget:
            self.throttled += 1
            wait = math.ceil((minute + 1) * 60 - now.timestamp())
            return self._respond(
                request,
                429,
                fault_body(
                    "3001",
                    "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                    f"More than {self.budget} requests a minute for this company",
                    fault_type="ThrottlingFault",
                    when=self._now_text(),
                ),
                {"Retry-After": str(max(1, wait))},
            )
        return None

    def _injected_answer(self, request: Request, inj: _Injected) -> Response:
        headers = {"Retry-After": str(inj.retry_after)} if inj.retry_after is not None else None
        if inj.body is not None:
            return self._respond(request, inj.status, inj.body, headers)
        now = self.clock.now()
        if inj.status == 401:
            return self._respond(
                request, 401, auth_fault_body("Token revoked", int(now.timestamp() * 1000)), headers
            )
        if inj.status == 429:
            body = fault_body(
                "3001",
                "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                "Too many requests",
                fault_type="ThrottlingFault",
                when=self._now_text(),
            )
        elif inj.status >= 500:
            body = fault_body(
                "10000",
                "An application error has occurred while processing your request",
                "System Failure Error: simulated outage",
                fault_type="SystemFault",
                when=self._now_text(),
            )
        else:
            body = fault_body(str(inj.status), f"Simulated error {inj.status}", when=self._now_text())
        return self._respond(request, inj.status, body, headers)

    def _fault(
        self,
        request: Request,
        code: str,
        message: str,
        detail: str = "",
        element: str = "",
        status: int = 400,
    ) -> Response:
        return self._respond(
            request, status, fault_body(code, message, detail, element, when=self._now_text())
        )

    # == OAuth ==============================================================================

    async def _token(self, request: Request) -> Response:
        # application/x-www-form-urlencoded, parsed by hand (no multipart support needed)
        pairs = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
        form = {key: values[0] for key, values in pairs.items()}
        with self._lock:
            self.requests.append(
                {
                    "method": "POST",
                    "path": TOKEN_PATH,
                    "params": {},
                    "accept": request.headers.get("accept", ""),
                    "authorization": "Basic",
                }
            )
            expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if request.headers.get("authorization") != expected or self._reject_refresh > 0:
                self._reject_refresh = max(0, self._reject_refresh - 1)
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            if form.get("grant_type") != "refresh_token":
                return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
            now = self.clock.now()
            used = str(form.get("refresh_token") or "")
            expires = self._refresh_tokens.pop(used, None)
            if expires is None or expires <= now:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            self.refreshes += 1
            refresh = self.issue_refresh_token()
            access = "sim-at-" + secrets.token_urlsafe(24)
            self._access_tokens[access] = now + timedelta(seconds=ACCESS_TOKEN_SECONDS)
            return JSONResponse(
                {
                    "token_type": "bearer",
                    "expires_in": ACCESS_TOKEN_SECONDS,
                    "refresh_token": refresh,
                    "x_refresh_token_expires_in": REFRESH_TOKEN_SECONDS,
                    "access_token": access,
                }
            )

    # == accounting API =====================================================================

    async def _query(self, request: Request) -> Response:
        text = request.query_params.get("query")
        if request.method == "POST":
            text = (await request.body()).decode("utf-8", "replace")
        with self._lock:
            denied = self._gate(request)
            if denied is not None:
                return denied
            try:
                query = parse(text or "")
            except QueryError as exc:
                return self._fault(request, "4000", "Error parsing query", f"QueryParserError: {exc}")
            if query.entity not in ("Customer", "Invoice"):
                return self._fault(request, "4001", "Invalid query", f"Unsupported entity {query.entity}")
            where = list(query.where)
            if query.entity == "Customer" and not any(c.field == "Active" for c in where):
                where.append(Condition("Active", "=", True))  # QuickBooks hides inactive customers
            rows = self.data.select(query.entity, where, query.order_by, query.descending)
            if query.count:
                return self._respond(
                    request, 200, {"QueryResponse": {"totalCount": len(rows)}, "time": self._now_text()}
                )
            page = rows[query.start - 1 : query.start - 1 + query.max_results]
            result: dict[str, Any] = {}
            if page:
                result = {query.entity: page, "startPosition": query.start, "maxResults": len(page)}
            return self._respond(request, 200, {"QueryResponse": result, "time": self._now_text()})

    async def _cdc(self, request: Request) -> Response:
        with self._lock:
            denied = self._gate(request)
            if denied is not None:
                return denied
            entities = [e for e in request.query_params.get("entities", "").split(",") if e]
            raw = request.query_params.get("changedSince", "")
            try:
                since = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                return self._fault(
                    request,
                    "2020",
                    "Required param missing, need to supply the required value for the API",
                    "changedSince must be an ISO 8601 date-time",
                )
            if since.tzinfo is None or not entities:
                return self._fault(
                    request,
                    "2020",
                    "Required param missing, need to supply the required value for the API",
                    "entities and an ISO 8601 changedSince with offset are required",
                )
            if since < self.clock.now() - timedelta(days=CDC_DAYS):
                return self._fault(
                    request,
                    "4000",
                    "Invalid changedSince",
                    f"changedSince must be within the last {CDC_DAYS} days",
                )
            unknown = [e for e in entities if e not in ("Customer", "Invoice")]
            if unknown:
                return self._fault(request, "4001", "Invalid query", f"Unsupported entity {unknown[0]}")
            blocks, left = [], CDC_MAX_OBJECTS
            for entity in entities:
                objects = self.data.changed_since(entity, since)[:left]
                left -= len(objects)
                blocks.append(
                    {entity: objects, "startPosition": 1, "maxResults": len(objects)} if objects else {}
                )
            return self._respond(
                request, 200, {"CDCResponse": [{"QueryResponse": blocks}], "time": self._now_text()}
            )

    async def _customer_read(self, request: Request) -> Response:
        return self._read(request, "Customer")

    async def _invoice_read(self, request: Request) -> Response:
        return self._read(request, "Invoice")

    def _read(self, request: Request, entity: str) -> Response:
        with self._lock:
            denied = self._gate(request)
            if denied is not None:
                return denied
            raw = request.path_params["id"]
            record = self.data.table(entity).get(int(raw)) if raw.isdigit() else None
            if record is None:
                return self._fault(
                    request,
                    "610",
                    "Object Not Found",
                    "Object Not Found : Something you're trying to use has been made inactive. "
                    "Check the fields with accounts, customers, items, vendors or employees.",
                )
            return self._respond(request, 200, {entity: record, "time": self._now_text()})

    async def _company_info(self, request: Request) -> Response:
        with self._lock:
            denied = self._gate(request)
            if denied is not None:
                return denied
            info = {
                "CompanyName": "Sandbox Company_US_1",
                "LegalName": "Sandbox Company_US_1",
                "Country": "US",
                "Id": "1",
                "SyncToken": "4",
                "domain": "QBO",
            }
            return self._respond(request, 200, {"CompanyInfo": info, "time": self._now_text()})

    async def _customer_write(self, request: Request) -> Response:
        raw = await request.body()
        with self._lock:
            denied = self._gate(request)
            if denied is not None:
                return denied
            # Intuit: a request repeated with the same ``requestid`` query parameter (at most
            # 50 characters) is not performed again; "the service sends the same response as
            # it did for the original request" (developer blog, "Request ID update for
            # QuickBooks Online integration", 2015-04-06).
            request_id = request.query_params.get("requestid")
            if request_id is not None and len(request_id) > 50:
                return self._fault(request, "2010", "Request has invalid or unsupported property",
                                   "requestid is longer than 50 characters")  # fmt: skip
            if request_id in self._replies:
                first = self._replies[request_id]
                return Response(first.body, status_code=first.status_code, media_type=first.media_type)
            answer = self._customer_write_once(request, raw)
            if request_id is not None:
                self._replies[request_id] = answer
            return answer

    def _customer_write_once(self, request: Request, raw: bytes) -> Response:
        try:
            body = json.loads(raw)
        except ValueError:
            return self._fault(
                request,
                "2010",
                "Request has invalid or unsupported property",
                "The request body is not valid JSON",
            )
        if not isinstance(body, dict):
            return self._fault(
                request,
                "2010",
                "Request has invalid or unsupported property",
                "The request body must be a Customer object",
            )
        refused = self._validate_customer(request, body)
        if refused is not None:
            return refused
        if body.get("Id") is None:
            return self._create_customer(request, body)
        return self._update_customer(request, body)

    def _validate_customer(self, request: Request, body: dict[str, Any]) -> Response | None:
        if "BillEmail" in body:
            return self._fault(
                request,
                "2010",
                "Request has invalid or unsupported property",
                'Property Name:Unrecognized field "BillEmail" specified is unsupported or invalid',
                "BillEmail",
            )
        email = body.get("PrimaryEmailAddr")
        if isinstance(email, dict) and email.get("Address"):
            address = str(email["Address"])
            if len(address) > MAX_ADDRESS_CHARS:
                return self._fault(
                    request,
                    "2050",
                    "String length specified does not match the supported length",
                    f"Min:0 Max:{MAX_ADDRESS_CHARS} supported. Supplied length:{len(address)}",
                    "PrimaryEmailAddr.Address",
                )
            for part in split_addresses(address):
                if "@" not in part or "." not in part.rsplit("@", 1)[1] or " " in part:
                    return self._fault(
                        request,
                        "2210",
                        "Invalid Email Address format",
                        f"Email Address does not conform to the syntax rules of RFC 822: {part}",
                        "PrimaryEmailAddr.Address",
                    )
        return None

    def _name_taken(self, name: str, own_id: int | None) -> bool:
        holder = self.data.names.get(name.strip().lower())
        return holder is not None and holder != own_id

    def _duplicate(self, request: Request) -> Response:
        return self._fault(
            request,
            "6240",
            "Duplicate Name Exists Error",
            "The name supplied already exists. : Another customer is already using this name. "
            "Please use a different name.",
        )

    def _create_customer(self, request: Request, body: dict[str, Any]) -> Response:
        name = str(body.get("DisplayName") or "").strip()
        if not name:
            return self._fault(
                request,
                "2020",
                "Required param missing, need to supply the required value for the API",
                "Required parameter DisplayName is missing in the request",
                "DisplayName",
            )
        if self._name_taken(name, None):
            return self._duplicate(request)
        record = {k: v for k, v in body.items() if k not in READ_ONLY_FIELDS}
        record.update(
            {
                "domain": "QBO",
                "sparse": False,
                "SyncToken": "0",
                "DisplayName": name,
                "FullyQualifiedName": name,
            }
        )
        record.setdefault("Active", True)
        now = self.clock.now()
        stored = self.data.insert_customer(record, now, now)
        self._queue_event("Customer", stored["Id"], "Create")
        return self._respond(request, 200, {"Customer": stored, "time": self._now_text()})

    def _update_customer(self, request: Request, body: dict[str, Any]) -> Response:
        cid = str(body.get("Id"))
        record = self.data.customers.get(int(cid)) if cid.isdigit() else None
        if record is None:
            return self._fault(
                request,
                "610",
                "Object Not Found",
                "Object Not Found : Another user has deleted this customer.",
            )
        if "SyncToken" not in body:
            return self._fault(
                request,
                "2020",
                "Required param missing, need to supply the required value for the API",
                "Required parameter SyncToken is missing in the request",
                "SyncToken",
            )
        now = self.clock.now()
        concurrent = self._before_update.pop(cid, None)
        if concurrent:
            old = record["DisplayName"]
            record.update(concurrent)
            self.data.rename(int(cid), old, record["DisplayName"])
            self.data.touched("Customer", record, now)
        if str(body["SyncToken"]) != record["SyncToken"]:
            return self._fault(
                request,
                "5010",
                "Stale Object Error",
                "Stale Object Error : You and QuickBooks User were working on this at the same "
                "time. QuickBooks User finished before you did, so your work was not saved.",
            )
        name = str(body.get("DisplayName", record["DisplayName"]) or "").strip()
        if not name:
            return self._fault(
                request,
                "2020",
                "Required param missing, need to supply the required value for the API",
                "Required parameter DisplayName is missing in the request",
                "DisplayName",
            )
        if self._name_taken(name, int(cid)):
            return self._duplicate(request)
        old_name = record["DisplayName"]
        changes = {k: v for k, v in body.items() if k not in READ_ONLY_FIELDS}
        if body.get("sparse") is True:
            record.update(changes)
        else:  # a full update replaces every writable field; what was left out is cleared
            kept = {k: record[k] for k in READ_ONLY_FIELDS if k in record}
            record.clear()
            record.update(kept)
            record.update(changes)
            record.setdefault("Active", True)
        record["DisplayName"] = name
        record["FullyQualifiedName"] = name
        self.data.rename(int(cid), old_name, name)
        self.data.touched("Customer", record, now)
        self._queue_event("Customer", cid, "Update")
        return self._respond(request, 200, {"Customer": record, "time": self._now_text()})


def build_sandbox(**options: Any) -> Sandbox:
    """``QuickBooksConnector.sandbox(**options)``: the simulator, its control and settings.

    Options: ``size`` (customers seeded), ``seed``, ``budget`` (requests a minute before
    429), ``webhook_url``, ``webhook_format`` (``cloudevents`` or ``legacy``),
    ``invoice_ratio`` (invoices per customer), ``clock``, ``realm_id``. Each call of
    ``settings(base_url)`` connects the app anew and hands out a fresh refresh token.
    """
    sim = QuickBooksSimulator(**options)

    def settings(base_url: str) -> dict[str, Any]:
        root = base_url.rstrip("/")
        return {
            "base_url": root,
            "token_url": root + TOKEN_PATH,
            "realm_id": sim.realm_id,
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
            "refresh_token": sim.issue_refresh_token(),
            "webhook_verifier_token": sim.verifier_token,
            "minor_version": 75,
        }

    return Sandbox(app=sim.app, settings=settings, control=sim, extra={"realm_id": sim.realm_id})
