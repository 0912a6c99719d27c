"""Webhooks: the Intuit test vector, forged bodies, both payload formats, real delivery."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.simulator import QuickBooksSimulator
from hub.sandbox import ServedApp
from hub.sdk import ConnectorContext, Event, WebhookRejected

from .conftest import load_settings, spec

VECTOR = spec("webhook_signature_test_vector.json")
CLOUD = [
    {  # Intuit's sample from the CloudEvents migration notice
        "specversion": "1.0",
        "id": "88cd52aa-33b6-4351-9aa4-47572edbd068",
        "source": "intuit.dsnBgbseACLLRZNxo2dfc4evmEJdxde58xeeYcZliOU=",
        "type": "qbo.account.created.v1",
        "datacontenttype": "application/json",
        "time": "2025-09-10T21:31:25.179851517Z",
        "intuitentityid": "1234",
        "intuitaccountid": "310687",
        "data": {},
    }
]


def vector_connector(realm: str = "1269959970") -> QuickBooksConnector:
    settings = load_settings(
        {
            "realm_id": realm,
            "client_id": "c",
            "client_secret": "s",
            "refresh_token": "r",
            "webhook_verifier_token": VECTOR["verifier_token"],
        }
    )
    return QuickBooksConnector(settings, ConnectorContext())


def test_intuit_test_vector_verifies() -> None:
    body = VECTOR["raw_body"].encode("utf-8")
    assert body == json.dumps(spec("webhook_legacy_payload.json"), separators=(",", ":")).encode()
    vector_connector().verify_webhook({"Intuit-Signature": VECTOR["intuit_signature"]}, body)


@pytest.mark.parametrize(
    "forge",
    [
        lambda b, s: (b + b" ", s),  # body changed after signing
        lambda b, s: (b[:-5], s),  # truncated body
        lambda b, s: (b.replace(b'"40"', b'"41"'), s),  # an id swapped
        lambda b, s: (b, s[:-4] + "AAA="),  # forged signature
        lambda b, s: (b, ""),  # empty signature
    ],
)
def test_forged_or_truncated_webhooks_are_rejected(forge: Callable[[bytes, str], tuple[bytes, str]]) -> None:
    body, signature = forge(VECTOR["raw_body"].encode(), VECTOR["intuit_signature"])
    with pytest.raises(WebhookRejected) as err:
        vector_connector().verify_webhook({"intuit-signature": signature}, body)
    assert err.value.status == 401


def test_missing_header_or_verifier_token_is_rejected() -> None:
    with pytest.raises(WebhookRejected, match="without intuit-signature"):
        vector_connector().verify_webhook({}, VECTOR["raw_body"].encode())
    settings = load_settings({"realm_id": "1", "client_id": "c", "client_secret": "s", "refresh_token": "r"})
    bare = QuickBooksConnector(settings, ConnectorContext())
    with pytest.raises(WebhookRejected, match="HUB_QUICKBOOKS__WEBHOOK_VERIFIER_TOKEN"):
        bare.verify_webhook({"intuit-signature": VECTOR["intuit_signature"]}, VECTOR["raw_body"].encode())


def test_classic_payload_becomes_thin_events() -> None:
    events = vector_connector().parse_webhook({}, VECTOR["raw_body"].encode())
    assert [(e.type, e.entity, e.record_id) for e in events] == [
        ("vendor.updated", "Vendor", "40"),
        ("customer.created", "Customer", "43"),
    ]
    customer = events[1]
    assert customer.correlation == {"realm_id": "1269959970", "customer_id": "43"}
    assert customer.occurred_at == datetime(2016, 10, 5, 3, 7, 4, tzinfo=UTC)
    assert customer.data["format"] == "legacy" and customer.data["operation"] == "Create"
    assert len({e.id for e in events}) == 2


def test_cloudevents_payload_becomes_the_same_kind_of_events() -> None:
    events = vector_connector("310687").parse_webhook({}, json.dumps(CLOUD).encode())
    assert len(events) == 1
    event = events[0]
    assert (event.type, event.entity, event.record_id, event.id) == (
        "account.created",
        "Account",
        "1234",
        "88cd52aa-33b6-4351-9aa4-47572edbd068",
    )
    assert event.correlation == {"realm_id": "310687", "account_id": "1234"}
    assert event.data["format"] == "cloudevents"


def test_merge_cloudevent_keeps_the_deleted_id() -> None:
    merged = [
        {**CLOUD[0], "type": "qbo.customer.merged.v1", "intuitentityid": "123", "data": {"deletedid": "27"}}
    ]
    (event,) = vector_connector("310687").parse_webhook({}, json.dumps(merged).encode())
    assert event.type == "customer.merged" and event.data["deletedid"] == "27"


def test_events_of_other_companies_are_skipped() -> None:
    assert vector_connector("999").parse_webhook({}, VECTOR["raw_body"].encode()) == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"eventNotifications": [{"realmId": "1"}]}',
        b'[{"id": "x"}]',
        json.dumps([{**CLOUD[0], "type": "account.created"}]).encode(),
        b'"text"',
    ],
)
def test_malformed_webhooks_are_400(body: bytes) -> None:
    with pytest.raises(WebhookRejected) as err:
        vector_connector().parse_webhook({}, body)
    assert err.value.status == 400


@pytest.mark.parametrize("fmt", ["cloudevents", "legacy"])
def test_simulator_delivers_signed_webhooks_that_the_connector_accepts(
    fmt: str, clock: object, make_connector: Callable[..., QuickBooksConnector]
) -> None:
    received: list[Event] = []
    holder: dict[str, QuickBooksConnector] = {}

    async def receive(request: Request) -> Response:
        body = await request.body()
        connector = holder["qb"]
        try:
            connector.verify_webhook(dict(request.headers), body)
        except WebhookRejected as exc:
            return Response(str(exc), status_code=exc.status)
        received.extend(connector.parse_webhook(dict(request.headers), body))
        return Response("ok")

    with ServedApp(Starlette(routes=[Route("/webhooks/quickbooks", receive, methods=["POST"])])) as receiver:
        sandbox = QuickBooksConnector.sandbox(
            size=10, clock=clock, webhook_url=f"{receiver.url}/webhooks/quickbooks", webhook_format=fmt
        )
        sim: QuickBooksSimulator = sandbox.control
        with ServedApp(sandbox.app) as served:
            settings = load_settings(sandbox.settings(served.url))
            qb = holder["qb"] = QuickBooksConnector(settings, ConnectorContext(clock=clock))  # type: ignore[arg-type]
            created = qb.create("Customer", {"DisplayName": "Harbor Dental Group"})
            touched = sim.touch("customers", "3")
            assert sim.pending_webhooks() == 2
            assert sim.deliver_webhooks() == 200
            assert sim.deliver_webhooks() is None
            # thin events: the hub re-reads each record
            records = [qb.get(e.entity or "", e.record_id or "") for e in received]
            qb.close()
    assert [(e.type, e.record_id) for e in received] == [
        ("customer.created", created.id),
        ("customer.updated", touched),
    ]
    assert records[0]["DisplayName"] == "Harbor Dental Group"


def test_sample_webhook_verifies(sim: QuickBooksSimulator, qb: QuickBooksConnector) -> None:
    headers, body = sim.sample_webhook()
    qb.verify_webhook(headers, body)
    (event,) = qb.parse_webhook(headers, body)
    assert event.entity == "Customer" and event.correlation["realm_id"] == sim.realm_id
    with pytest.raises(WebhookRejected):
        qb.verify_webhook(headers, body.replace(b'"1"', b'"2"'))
