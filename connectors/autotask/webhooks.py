"""Autotask webhook callouts: signature check and parsing into hub events.

Autotask signs every callout with ``X-Hook-Signature: sha1=<base64 HMAC-SHA1>`` keyed
with the webhook's ``SecretKey`` over the raw request body. The check runs on the
bytes as received: re-serializing the JSON (key order, spacing, escapes) would change
them. The payload is ``{Action, Guid, EntityType, Id, Fields, EventTime,
SequenceNumber, PersonID}``; webhooks exist for companies, contacts, configuration
items, tickets and ticket notes only.

``Guid`` identifies the *webhook* that fired (integrations route callouts by it), and
``SequenceNumber`` counts that webhook's callouts, so the pair is the stable id of one
event: a redelivery of the same callout carries the same pair and is deduplicated.

When Autotask deactivates a webhook (25 failed deliveries in a row, or its owner
resource was deactivated) it calls the webhook's ``DeactivationUrl`` with
``Action: "Deactivated"``; that notice becomes a ``webhook.deactivated`` event so the
hub can fall back to polling and tell a person, instead of going silently deaf.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from hub.sdk import Event, WebhookRejected, parse_timestamp

from .entities import ENTITIES

__all__ = ["DEACTIVATED", "parse_callout", "sign", "verify_signature"]

SIGNATURE_HEADER = "x-hook-signature"
DEACTIVATED = "Deactivated"
_ACTIONS = {"create": "created", "update": "updated", "delete": "deleted"}
_WEBHOOK_TYPES = {t.lower(): spec for spec in ENTITIES.values() for t in spec.webhook_types}
_EVENT_NAMES = {
    "Companies": "company",
    "Contacts": "contact",
    "Tickets": "ticket",
    "ConfigurationItems": "configuration_item",
    "TicketNotes": "ticket_note",
}


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Hook-Signature`` value Autotask sends for ``body``."""
    digest = hmac.new(secret, body, hashlib.sha1).digest()
    return "sha1=" + base64.b64encode(digest).decode("ascii")


def verify_signature(headers: Mapping[str, str], body: bytes, secret: bytes) -> None:
    """Raise :class:`WebhookRejected` unless the header signs exactly these bytes."""
    given = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
    if not given:
        raise WebhookRejected("autotask webhook: X-Hook-Signature header missing", status=401)
    if not hmac.compare_digest(given.strip().encode("utf-8"), sign(secret, body).encode("ascii")):
        raise WebhookRejected("autotask webhook: X-Hook-Signature does not match the body", status=401)


def _load(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRejected("autotask webhook: body is not JSON", status=400) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("Action"), str):
        raise WebhookRejected("autotask webhook: body has no Action", status=400)
    return payload


def _int_text(value: Any) -> str | None:
    if isinstance(value, bool) or value in (None, "", 0):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    return None


def _occurred(payload: dict[str, Any]) -> Any:
    try:
        return parse_timestamp(payload.get("EventTime"))
    except ValueError:
        raise WebhookRejected("autotask webhook: EventTime is not a timestamp", status=400) from None


def parse_callout(body: bytes) -> list[Event]:
    """One verified callout -> one event (``ticket.updated``, ``webhook.deactivated``, ...)."""
    payload = _load(body)
    action = payload["Action"]
    guid = str(payload.get("Guid") or "")
    if not guid:
        raise WebhookRejected("autotask webhook: body has no Guid", status=400)
    sequence = payload.get("SequenceNumber")
    if action == DEACTIVATED:
        return [
            Event(
                connector="autotask",
                type="webhook.deactivated",
                id=f"{guid}:deactivated:{payload.get('EventTime') or sequence}",
                entity=None,
                occurred_at=_occurred(payload),
                data=payload,
                correlation={"webhook_guid": guid},
            )
        ]
    verb = _ACTIONS.get(action.lower())
    spec = _WEBHOOK_TYPES.get(str(payload.get("EntityType") or "").lower())
    if verb is None or spec is None:
        raise WebhookRejected(
            f"autotask webhook: unsupported callout {payload.get('EntityType')!r} {action!r}", status=400
        )
    record_id = _int_text(payload.get("Id"))
    if record_id is None or not isinstance(sequence, int) or isinstance(sequence, bool):
        raise WebhookRejected("autotask webhook: Id and SequenceNumber must be integers", status=400)
    fields = payload.get("Fields")
    fields = {} if fields is None else fields
    if not isinstance(fields, dict):
        raise WebhookRejected("autotask webhook: Fields must be an object", status=400)
    correlation = {"webhook_guid": guid}
    own = {"Companies": "company_id", "Contacts": "contact_id", "Tickets": "ticket_id"}.get(spec.name)
    if own:
        correlation[own] = record_id
    for key, field_name in (
        ("company_id", "companyID"),
        ("ticket_id", "ticketID"),
        ("contact_id", "contactID"),
    ):
        value = _int_text(fields.get(field_name))
        if value and key not in correlation:
            correlation[key] = value
    if spec.name == "ConfigurationItems":
        correlation["configuration_item_id"] = record_id
    return [
        Event(
            connector="autotask",
            type=f"{_EVENT_NAMES[spec.name]}.{verb}",
            id=f"{guid}:{sequence}",
            entity=spec.name,
            record_id=record_id,
            occurred_at=_occurred(payload),
            data={"fields": fields, "person_id": payload.get("PersonID"), "sequence": sequence},
            correlation=correlation,
        )
    ]
