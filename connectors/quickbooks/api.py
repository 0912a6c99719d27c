"""The QuickBooks Online accounting API: one realm, JSON, ``minorversion`` on every call.

QuickBooks reports refusals as a ``Fault`` body (``Fault.Error[].code``), in a 400 and
sometimes inside an HTTP 200; the 401 body spells the same thing in lower case
(``fault.error[].message``). Every answer goes through :func:`raise_for_fault`, which
turns a fault into the hub's typed error by its code: 5010 (stale SyncToken) is a
:class:`StaleObjectError`, 610 (object not found) a ``NotFoundError``, a throttle fault
a ``RateLimitedError`` (retried like a 429), and anything else a ``VendorError`` that
carries Intuit's own message and detail.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from connectors.quickbooks.oauth import TokenManager
from connectors.quickbooks.query import timestamp
from hub.sdk import (
    AuthenticationError,
    ConflictError,
    ErrorPolicy,
    HttpClient,
    HttpError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
    VendorError,
    message_from,
)

#: Intuit: "the RequestID uniquely identifies the HTTP request ... If the service receives another
#: request with the same RequestID, instead of performing the operation again or returning an
#: error, the service sends the same response as it did for the original request"; a query
#: parameter of at most 50 characters, unique per company (Intuit developer blog, "Request ID
#: update for QuickBooks Online integration", 2015-04-06).
REQUEST_ID = "requestid"


def request_id(realm_id: str, entity: str, payload: dict[str, Any], key: str | None) -> str:
    """A 36-character id that is the same for the same write and differs for any other."""
    content = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"quickbooks:{realm_id}:{entity}:{key or ''}:{content}"))


class StaleObjectError(ConflictError):
    """Fault 5010: the SyncToken sent is not the record's current one."""


#: Fault code -> error type; codes not listed are a VendorError
FAULT_TYPES: dict[str, type[HttpError]] = {
    "5010": StaleObjectError,
    "610": NotFoundError,
    "3200": AuthenticationError,
    "3100": PermissionDeniedError,
    "3001": RateLimitedError,
    "10000": TransientError,
}


@dataclass(frozen=True)
class Fault:
    """The first error of a QuickBooks Fault body."""

    type: str
    code: str
    message: str
    detail: str
    element: str


def _ci(data: Any, key: str) -> Any:
    """``data[key]`` matching the key's case loosely (Fault/fault, Error/error)."""
    if not isinstance(data, dict):
        return None
    if key in data:
        return data[key]
    lowered = key.lower()
    return next((v for k, v in data.items() if k.lower() == lowered), None)


def parse_fault(body: Any) -> Fault | None:
    fault = _ci(body, "Fault")
    if not isinstance(fault, dict):
        return None
    errors = _ci(fault, "Error")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = str(_ci(first, "code") or "").lstrip("0") or "0"
    return Fault(
        type=str(_ci(fault, "type") or "Fault"),
        code=code,
        message=str(_ci(first, "Message") or "").strip(),
        detail=str(_ci(first, "Detail") or "").strip(),
        element=str(_ci(first, "element") or "").strip(),
    )


#: Intuit's own words for a failed answer (its Fault's first error), used in every error the user sees
fault_message = message_from(
    "{Fault.Error[0].Message}: {Fault.Error[0].Detail} (code {Fault.Error[0].code}, "
    "element {Fault.Error[0].element})",
    "{Fault.Error[0].Message}: {Fault.Error[0].Detail} (code {Fault.Error[0].code})",
    "{Fault.Error[0].Message|Fault.Error[0].Detail} (code {Fault.Error[0].code})",
    "{Fault.Error[0].Message|Fault.Error[0].Detail}",
)


class FaultPolicy(ErrorPolicy):
    """Status policy of the QuickBooks API: a 400 is judged by its Fault code, not its status.

    A 400 may be a stale SyncToken (a conflict the connector resolves), a missing object
    or a validation refusal; :func:`raise_for_fault` tells them apart from the body.
    Every write carries a ``requestid``, with which QuickBooks answers a repeated request
    with the first one's response instead of applying it again: so a write whose answer
    was lost is safe to send again (see :meth:`QuickBooksApi.write`).
    """

    def action(self, status: int) -> Any:
        return super().action(200 if status == 400 else status)


def raise_for_fault(client: HttpClient, response: httpx.Response) -> None:
    """Raise the typed error for a Fault (also inside an HTTP 200) or a body that is not JSON."""
    try:
        body = response.json()
    except ValueError:
        kind = "XML" if response.text.lstrip().startswith("<") else "not JSON"
        raise client.error(
            response, f"QuickBooks answered HTTP {response.status_code} with a body that is {kind}"
        ) from None
    fault = parse_fault(body)
    if fault is not None:
        cls = FAULT_TYPES.get(fault.code, VendorError)
        err = client.error(response, f"QuickBooks {fault.type} {fault.code}", cls)
        err.fault_code = fault.code  # type: ignore[attr-defined]
        raise err
    if response.status_code >= 400:
        raise client.error(response, f"request refused (HTTP {response.status_code})")
    if not isinstance(body, dict):
        raise client.error(response, "QuickBooks answered with JSON that is not an object")


class QuickBooksApi:
    """Calls to ``{base_url}/v3/company/{realm}/...`` with the auth, headers and parameters needed."""

    def __init__(
        self,
        make_client: Callable[..., HttpClient],
        base_url: str,
        realm_id: str,
        minor_version: int,
        tokens: TokenManager,
        auth: httpx.Auth,
        auth_hint: str,
    ) -> None:
        self.realm_id = realm_id
        self.minor_version = minor_version
        self.tokens = tokens
        self.prefix = f"/v3/company/{realm_id}"
        self.client: HttpClient = make_client(
            base_url,
            budget_key=f"quickbooks:realm:{realm_id}",
            headers={"Accept": "application/json"},
            auth=auth,
            policy=FaultPolicy(auth_hint=auth_hint, replay_param=REQUEST_ID),
            vendor_message=fault_message,
            inspect=lambda response: raise_for_fault(self.client, response),
        )

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> dict[str, Any]:
        # Make sure a token is ready outside the API client's retry loop, so a failing
        # token endpoint is retried by its own client only.
        self.tokens.access_token()
        merged = {**(params or {}), "minorversion": str(self.minor_version)}
        response = self.client.request(method, f"{self.prefix}/{path}", params=merged, json=json)
        body: dict[str, Any] = response.json()
        return body

    def query(self, statement: str) -> dict[str, Any]:
        """The ``QueryResponse`` of a query-language statement."""
        body = self.request("GET", "query", params={"query": statement})
        result = body.get("QueryResponse")
        return result if isinstance(result, dict) else {}

    def cdc(self, entities: list[str], since: datetime) -> dict[str, list[dict[str, Any]]]:
        """Change data capture: every object of ``entities`` changed at or after ``since``."""
        body = self.request(
            "GET", "cdc", params={"entities": ",".join(entities), "changedSince": timestamp(since)}
        )
        found: dict[str, list[dict[str, Any]]] = {name: [] for name in entities}
        for block in body.get("CDCResponse") or []:
            for response in (block or {}).get("QueryResponse") or []:
                for name in entities:
                    found[name].extend(r for r in (response or {}).get(name) or [] if isinstance(r, dict))
        return found

    def read(self, entity: str, record_id: str) -> dict[str, Any]:
        if not str(record_id).isdigit():
            raise NotFoundError(
                f"quickbooks: {entity} ids are numeric, got {record_id!r}", connector="quickbooks"
            )
        body = self.request("GET", f"{entity.lower()}/{record_id}")
        return _entity(body, entity)

    def write(self, entity: str, payload: dict[str, Any], *, key: str | None = None) -> dict[str, Any]:
        """Create (no Id) or update (Id + SyncToken) one object; returns it as stored.

        The ``requestid`` is derived from the write's idempotency ``key`` and its content
        (an update's content holds its SyncToken): the same write sent again, by the
        retry loop or by the next run, carries the same id and QuickBooks replays its
        first answer, while any other write gets another id.
        """
        once = {REQUEST_ID: request_id(self.realm_id, entity, payload, key)}
        body = self.request("POST", entity.lower(), params=once, json=payload)
        return _entity(body, entity)

    def company_info(self) -> dict[str, Any]:
        body = self.request("GET", f"companyinfo/{self.realm_id}")
        return _entity(body, "CompanyInfo")


def _entity(body: dict[str, Any], entity: str) -> dict[str, Any]:
    record = body.get(entity)
    if not isinstance(record, dict):
        raise VendorError(f"quickbooks: answer has no {entity} object", connector="quickbooks")
    return record
