"""DocuSign Connect: verifying HMAC signatures and parsing JSON (SIM) messages.

Connect signs the raw body with every active HMAC key of the configuration and sends
one header per key, ``X-DocuSign-Signature-1`` .. ``-N``: each is the base64 of
HMAC-SHA256(key, body). Keys rotate, so a message is genuine when *any* header matches
*any* configured key; every comparison is constant-time. The key is used as the text
DocuSign shows (not base64-decoded).

Only the JSON "SIM" (send information messages) format is parsed: ``event`` names
what happened (``envelope-completed``, ``recipient-delivered`` ...), ``data`` carries
the envelope id and, when the configuration includes them, the envelope summary with
its custom fields, where :mod:`send_terms <connectors.docusign.connector>` put the
workflow run and step.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import SecretStr

from hub.sdk import Event, WebhookRejected, parse_timestamp

__all__ = [
    "RUN_FIELD",
    "STEP_FIELD",
    "custom_field_values",
    "parse_connect_message",
    "sign_body",
    "verify_signature",
]

SIGNATURE_PREFIX = "x-docusign-signature-"
RUN_FIELD = "hub_run_id"
STEP_FIELD = "hub_step_id"
ORGANIZATION_FIELD = "hub_organization"


def sign_body(key: str, body: bytes) -> str:
    """The ``X-DocuSign-Signature-N`` value for ``body`` under ``key``."""
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def verify_signature(headers: Mapping[str, str], body: bytes, keys: Iterable[SecretStr]) -> None:
    """Accept ``body`` if any signature header matches any key; else raise WebhookRejected(401)."""
    secrets = [k.get_secret_value() for k in keys if k.get_secret_value()]
    if not secrets:
        raise WebhookRejected(
            "docusign: no Connect HMAC key configured (HUB_DOCUSIGN__CONNECT_HMAC_KEYS)", 401
        )
    signatures = [
        value.strip().encode("ascii", "replace")
        for name, value in headers.items()
        if name.lower().startswith(SIGNATURE_PREFIX)
    ]
    if not signatures:
        raise WebhookRejected("docusign: Connect message without X-DocuSign-Signature-N header", 401)
    expected = [sign_body(key, body).encode("ascii") for key in secrets]
    matched = False
    for signature in signatures:
        for candidate in expected:
            # no early exit: every pair is compared, so timing says nothing about which matched
            matched |= hmac.compare_digest(signature, candidate)
    if not matched:
        raise WebhookRejected("docusign: Connect HMAC signature does not match any configured key", 401)


def custom_field_values(envelope: Mapping[str, Any]) -> dict[str, str]:
    """Text custom fields of an envelope (or envelope summary) by name."""
    fields = envelope.get("customFields") or {}
    items = fields.get("textCustomFields") if isinstance(fields, dict) else None
    return {
        str(item["name"]): str(item.get("value") or "")
        for item in items or []
        if isinstance(item, dict) and item.get("name")
    }


def parse_connect_message(body: bytes) -> Event:
    """One Connect JSON (SIM) message as an Event; WebhookRejected(400) if it is not one."""
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebhookRejected(
            "docusign: Connect message is not JSON; set the Connect configuration's format to JSON (SIM)", 400
        ) from None
    if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
        raise WebhookRejected("docusign: Connect message has no 'data' object", 400)
    event_type = message.get("event")
    data: dict[str, Any] = message["data"]
    raw_summary = data.get("envelopeSummary")
    summary: dict[str, Any] = raw_summary if isinstance(raw_summary, dict) else {}
    envelope_id = data.get("envelopeId") or summary.get("envelopeId")
    if (
        not isinstance(event_type, str)
        or not event_type
        or not isinstance(envelope_id, str)
        or not envelope_id
    ):
        raise WebhookRejected("docusign: Connect message needs 'event' and 'data.envelopeId'", 400)
    fields = custom_field_values(summary)
    correlation = {"envelope_id": envelope_id}
    if fields.get(RUN_FIELD):
        correlation["run_id"] = fields[RUN_FIELD]
    if fields.get(STEP_FIELD):
        correlation["step_id"] = fields[STEP_FIELD]
    generated = message.get("generatedDateTime") or ""
    recipient = data.get("recipientId") or ""
    # Connect redelivers the same message (retryCount grows): id it by what it reports.
    if generated:
        event_id = f"{envelope_id}:{event_type}:{recipient}:{generated}"
    else:
        event_id = Event.body_id(body)
    try:
        occurred = parse_timestamp(generated or summary.get("statusChangedDateTime"))
    except ValueError:
        occurred = None
    return Event(
        connector="docusign",
        type=event_type,
        id=event_id,
        entity="envelopes",
        record_id=envelope_id,
        occurred_at=occurred,
        data={
            "status": summary.get("status"),
            "recipient_id": recipient or None,
            "custom_fields": fields,
            "envelope": summary,
        },
        correlation=correlation,
    )
