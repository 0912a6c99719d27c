"""QuickBooks webhooks: the ``intuit-signature`` check and both payload formats.

Intuit signs the raw body: ``intuit-signature`` is base64(HMAC-SHA256(verifier token,
body)). Payloads come in the classic ``eventNotifications`` shape or, since Intuit's
2025 migration, as a JSON array of CloudEvents 1.0 (``type`` like
``qbo.customer.updated.v1``, ``intuitentityid``, ``intuitaccountid``). Both only say
*which* object changed; the hub re-reads the object (``Connector.get(event.entity,
event.record_id)``) before acting on it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from hub.sdk import Event, WebhookRejected, get_logger, parse_timestamp

log = get_logger("hub.connectors.quickbooks")

SIGNATURE_HEADER = "intuit-signature"

#: the entities Intuit's webhooks cover, to restore their spelling from CloudEvents types
ENTITIES = {
    name.lower(): name
    for name in (
        "Account Bill BillPayment Budget Class CreditMemo Currency Customer Department Deposit Employee "
        "Estimate Invoice Item JournalCode JournalEntry Payment PaymentMethod Preferences Purchase "
        "PurchaseOrder RefundReceipt SalesReceipt TaxAgency Term TimeActivity Transfer Vendor VendorCredit"
    ).split()
}
#: classic operation -> the verb CloudEvents types use
VERBS = {
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "merge": "merged",
    "void": "voided",
    "emailed": "emailed",
}


def sign(body: bytes, verifier_token: str) -> str:
    digest = hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def verify(headers: Mapping[str, str], body: bytes, verifier_token: str) -> None:
    provided = header(headers, SIGNATURE_HEADER)
    if not provided:
        raise WebhookRejected(f"quickbooks webhook without {SIGNATURE_HEADER} header", status=401)
    expected = sign(body, verifier_token)
    if not hmac.compare_digest(expected.encode("ascii"), provided.strip().encode("utf-8", "replace")):
        raise WebhookRejected(f"quickbooks webhook {SIGNATURE_HEADER} does not match the body", status=401)


def parse(body: bytes, realm_id: str) -> list[Event]:
    """Events of this realm from either payload format; WebhookRejected(400) if malformed."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected("quickbooks webhook body is not JSON", status=400) from None
    if isinstance(payload, list):
        events = [_cloud_event(item) for item in payload]
    elif isinstance(payload, dict) and isinstance(payload.get("eventNotifications"), list):
        events = [e for n in payload["eventNotifications"] for e in _notification(n)]
    else:
        raise WebhookRejected(
            "quickbooks webhook is neither a CloudEvents array nor an eventNotifications object", status=400
        )
    mine = [e for e in events if e.correlation.get("realm_id") == realm_id]
    if len(mine) != len(events):
        others = sorted({e.correlation.get("realm_id", "?") for e in events} - {realm_id})
        log.warning("quickbooks.webhook_other_realm", realms=others, skipped=len(events) - len(mine))
    return mine


def _event(
    fmt: str,
    event_id: str,
    realm: str,
    entity: str,
    verb: str,
    record_id: str,
    when: Any,
    extra: dict[str, Any],
) -> Event:
    name = ENTITIES.get(entity.lower(), entity[:1].upper() + entity[1:])
    try:
        occurred = parse_timestamp(when)
    except ValueError:
        raise WebhookRejected(f"quickbooks webhook has a bad timestamp: {when!r}", status=400) from None
    return Event(
        connector="quickbooks",
        type=f"{name.lower()}.{verb}",
        id=event_id,
        entity=name,
        record_id=record_id,
        occurred_at=occurred,
        data={"realm_id": realm, "format": fmt, **extra},
        correlation={"realm_id": realm, f"{name.lower()}_id": record_id},
    )


def _require(item: Any, *keys: str) -> dict[str, Any]:
    if not isinstance(item, dict) or any(
        not isinstance(item.get(k), str | int) or item.get(k) == "" for k in keys
    ):
        raise WebhookRejected(f"quickbooks webhook item lacks {', '.join(keys)}", status=400)
    return item


def _cloud_event(item: Any) -> Event:
    item = _require(item, "id", "type", "intuitentityid", "intuitaccountid")
    parts = str(item["type"]).split(".")
    if len(parts) < 3 or parts[0] != "qbo":
        raise WebhookRejected(f"quickbooks webhook has an unknown event type {item['type']!r}", status=400)
    data = item.get("data") if isinstance(item.get("data"), dict) else {}
    return _event(
        "cloudevents",
        str(item["id"]),
        str(item["intuitaccountid"]),
        parts[1],
        parts[2],
        str(item["intuitentityid"]),
        item.get("time"),
        {"type": item["type"], **data},
    )


def _notification(notification: Any) -> list[Event]:
    notification = _require(notification, "realmId")
    realm = str(notification["realmId"])
    entities = (notification.get("dataChangeEvent") or {}).get("entities")
    if not isinstance(entities, list):
        raise WebhookRejected("quickbooks webhook notification lacks dataChangeEvent.entities", status=400)
    events = []
    for entity in entities:
        entity = _require(entity, "name", "id", "operation")
        operation = str(entity["operation"])
        verb = VERBS.get(operation.lower(), operation.lower())
        event_id = f"{realm}:{entity['name']}:{entity['id']}:{operation}:{entity.get('lastUpdated', '')}"
        extra = {"operation": operation}
        if entity.get("deletedId"):
            extra["deletedid"] = str(entity["deletedId"])
        events.append(
            _event(
                "legacy",
                event_id,
                realm,
                str(entity["name"]),
                verb,
                str(entity["id"]),
                entity.get("lastUpdated"),
                extra,
            )
        )
    return events
