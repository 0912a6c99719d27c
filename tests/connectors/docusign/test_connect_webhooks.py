"""Connect webhooks: HMAC verification (valid, rotated, forged, truncated) and JSON SIM parsing."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.docusign.connect import parse_connect_message, sign_body, verify_signature
from hub.sandbox import ServedApp
from hub.sdk import WebhookRejected


def keys(*values: str) -> list[SecretStr]:
    return [SecretStr(v) for v in values]


def test_known_signature_value() -> None:
    # base64(HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog")), a published test vector
    body = b"The quick brown fox jumps over the lazy dog"
    assert sign_body("key", body) == "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="


def test_any_header_with_any_key_is_accepted() -> None:
    body = b'{"event":"envelope-completed"}'
    headers = {
        "X-DocuSign-Signature-1": sign_body("old", body),
        "X-DocuSign-Signature-2": sign_body("new", body),
    }
    verify_signature(headers, body, keys("new"))  # the rotated-in key signs the second header
    verify_signature(headers, body, keys("unrelated", "old"))
    verify_signature({k.lower(): v for k, v in headers.items()}, body, keys("old"))  # header case


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "without X-DocuSign-Signature-N"),
        ({"X-DocuSign-Signature-1": "forged"}, "does not match"),
        ({"X-DocuSign-Signature-1": sign_body("wrong-key", b"{}")}, "does not match"),
    ],
)
def test_forged_or_missing_signatures_are_rejected(headers: dict[str, str], message: str) -> None:
    with pytest.raises(WebhookRejected, match=message) as err:
        verify_signature(headers, b"{}", keys("k1"))
    assert err.value.status == 401


def test_no_configured_key_rejects_everything() -> None:
    body = b"{}"
    with pytest.raises(WebhookRejected, match="HUB_DOCUSIGN__CONNECT_HMAC_KEYS"):
        verify_signature({"X-DocuSign-Signature-1": sign_body("", body)}, body, [])


@given(body=st.binary(min_size=1, max_size=300), cut=st.integers(min_value=1, max_value=300))
def test_a_truncated_or_altered_body_never_verifies(body: bytes, cut: int) -> None:
    headers = {"X-DocuSign-Signature-1": sign_body("k1", body)}
    verify_signature(headers, body, keys("k1"))
    truncated = body[: max(0, len(body) - cut)]
    with pytest.raises(WebhookRejected):
        verify_signature(headers, truncated, keys("k1"))
    altered = bytes([body[0] ^ 1]) + body[1:]
    with pytest.raises(WebhookRejected):
        verify_signature(headers, altered, keys("k1"))


def test_vendor_example_is_parsed_into_an_event(example: Callable[[str], Any]) -> None:
    payload = example("connect_json_sim_envelope-completed.TRIMMED.json")["payload"]
    body = json.dumps(payload).encode()
    event = parse_connect_message(body)
    assert event.type == "envelope-completed"
    assert event.connector == "docusign" and event.entity == "envelopes"
    assert event.record_id == "sample string"
    assert event.correlation == {"envelope_id": "sample string"}
    assert event.data["status"] == "completed"
    assert event.id == event.body_id(body)  # the sample has no generatedDateTime


def test_custom_fields_become_correlation_ids() -> None:
    message = {
        "event": "envelope-completed",
        "generatedDateTime": "2026-01-05T09:00:00.0000000Z",
        "retryCount": 0,
        "data": {
            "envelopeId": "env-1",
            "envelopeSummary": {
                "status": "completed",
                "customFields": {
                    "textCustomFields": [
                        {"name": "hub_run_id", "value": "run-9"},
                        {"name": "hub_step_id", "value": "send-tc"},
                    ]
                },
            },
        },
    }
    event = parse_connect_message(json.dumps(message).encode())
    assert event.correlation == {"envelope_id": "env-1", "run_id": "run-9", "step_id": "send-tc"}
    assert event.id == "env-1:envelope-completed::2026-01-05T09:00:00.0000000Z"
    # A redelivery (retryCount grows) is the same event.
    message["retryCount"] = 3
    assert parse_connect_message(json.dumps(message).encode()).id == event.id


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<?xml version='1.0'?><DocuSignEnvelopeInformation/>", "not JSON"),
        (b"[]", "no 'data' object"),
        (b'{"event": "envelope-sent", "data": {}}', "needs 'event' and 'data.envelopeId'"),
        (b'{"data": {"envelopeId": "e"}}', "needs 'event'"),
    ],
)
def test_malformed_messages_are_400(body: bytes, message: str) -> None:
    with pytest.raises(WebhookRejected, match=message) as err:
        parse_connect_message(body)
    assert err.value.status == 400


class Receiver:
    """A loopback webhook target that records what it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.got = threading.Event()

        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            self.got.set()
            return Response(status_code=200)

        self.app = Starlette(routes=[Route("/webhooks/docusign", hook, methods=["POST"])])


def test_signing_posts_a_signed_connect_message_the_connector_accepts(
    serve: Callable, make_ctx: Callable, clock: Any
) -> None:
    receiver = Receiver()
    with ServedApp(receiver.app) as target:
        sim = serve(size=3, clock=clock, webhook_url=f"{target.url}/webhooks/docusign")
        conn = sim.connector()
        action = conn.action("send_terms")
        sent = action.run(
            action.params(signer_name="Ann Lee", signer_email="ann@example.com", organization_name="Acme"),
            make_ctx(run="run-5", step="tc"),
        )
        outcome = sim.control.sign(sent["envelope_id"])
        assert outcome["connect"]["status"] == 200
    headers, body = receiver.received[-1]
    conn.verify_webhook(headers, body)
    [event] = conn.parse_webhook(headers, body)
    assert event.type == "envelope-completed"
    assert event.correlation == {"envelope_id": sent["envelope_id"], "run_id": "run-5", "step_id": "tc"}
    with pytest.raises(WebhookRejected):
        conn.verify_webhook(headers, body[:-1])


def test_sample_webhook_verifies_with_the_sandbox_settings(sim: Any) -> None:
    headers, body = sim.control.sample_webhook()
    conn = sim.connector()
    conn.verify_webhook(headers, body)
    [event] = conn.parse_webhook(headers, body)
    assert event.type.startswith("envelope-") and event.record_id in sim.control.envelopes
