"""Webhook callouts: signatures on raw bytes, parsing into events, simulator deliveries."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.autotask import AutotaskSettings
from connectors.autotask.webhooks import sign
from hub.sdk import WebhookRejected

from .conftest import example, make_connector, make_settings


def _signed(payload: dict, key: bytes = b"hook-key") -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    return {"X-Hook-Signature": sign(key, body), "Content-Type": "application/json"}, body


def test_valid_signature_is_accepted_and_parsed_into_a_ticket_event():
    connector = make_connector(make_settings())
    headers, body = _signed(example("webhook_ticket_update.SYNTHETIC.json"))

    connector.verify_webhook(headers, body)
    [event] = connector.parse_webhook(headers, body)

    assert event.type == "ticket.updated"
    assert event.id == "3f1c2a9e-0000-4000-8000-000000000001:42"
    assert (event.entity, event.record_id) == ("Tickets", "12345")
    assert event.correlation == {
        "webhook_guid": "3f1c2a9e-0000-4000-8000-000000000001",
        "ticket_id": "12345",
        "company_id": "174",
    }
    assert event.data["fields"]["status"] == 5 and event.data["person_id"] == 29682885
    assert event.occurred_at.isoformat() == "2025-01-15T14:03:22+00:00"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b + b" "),  # body changed after signing
        lambda h, b: (h, b.replace(b": ", b":")),  # re-serialized body
        lambda h, b: ({"X-Hook-Signature": h["X-Hook-Signature"][:-6]}, b),  # truncated signature
        lambda h, b: ({"X-Hook-Signature": sign(b"other-key", b)}, b),  # wrong key
        lambda h, b: ({}, b),  # no signature
        lambda h, b: ({"X-Hook-Signature": h["X-Hook-Signature"].removeprefix("sha1=")}, b),
    ],
)
def test_forged_or_altered_callouts_are_rejected(tamper):
    connector = make_connector(make_settings())
    headers, body = tamper(*_signed(example("webhook_ticket_update.SYNTHETIC.json")))
    with pytest.raises(WebhookRejected) as caught:
        connector.verify_webhook(headers, body)
    assert caught.value.status == 401


def test_without_a_webhook_secret_every_callout_is_rejected():
    connector = make_connector(make_settings(webhook_secret=None))
    headers, body = _signed(example("webhook_ticket_update.SYNTHETIC.json"))
    with pytest.raises(WebhookRejected, match="HUB_AUTOTASK__WEBHOOK_SECRET"):
        connector.verify_webhook(headers, body)


@pytest.mark.parametrize(
    ("entity_type", "fields", "event_type", "correlation"),
    [
        ("Company", {}, "company.created", {"company_id": "9"}),
        ("Contact", {"companyID": 174}, "contact.created", {"contact_id": "9", "company_id": "174"}),
        (
            "ConfigurationItem",
            {"companyID": 174},
            "configuration_item.created",
            {"configuration_item_id": "9", "company_id": "174"},
        ),
        ("TicketNote", {"ticketID": 100}, "ticket_note.created", {"ticket_id": "100"}),
        (
            "Ticket",
            {"contactID": 7, "companyID": 1},
            "ticket.created",
            {"ticket_id": "9", "contact_id": "7", "company_id": "1"},
        ),
    ],
)
def test_every_webhook_entity_becomes_an_event(entity_type, fields, event_type, correlation):
    payload = {
        "Action": "Create",
        "Guid": "g",
        "EntityType": entity_type,
        "Id": 9,
        "Fields": fields,
        "EventTime": "2026-01-05T09:00:00.000Z",
        "SequenceNumber": 1,
        "PersonID": 4,
    }
    [event] = make_connector(make_settings()).parse_webhook({}, json.dumps(payload).encode())
    assert event.type == event_type
    assert event.correlation == {"webhook_guid": "g", **correlation}


def test_deactivation_notice_is_an_event():
    body = json.dumps({"Action": "Deactivated", "Guid": "g-1", "EventTime": "2026-01-05T09:00:00Z"}).encode()
    [event] = make_connector(make_settings()).parse_webhook({}, body)
    assert event.type == "webhook.deactivated" and event.correlation == {"webhook_guid": "g-1"}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"Guid": "g"}',
        b'{"Action": "Update", "Guid": "g", "EntityType": "Invoice", "Id": 1, "SequenceNumber": 1}',
        b'{"Action": "Update", "Guid": "g", "EntityType": "Ticket", "Id": "x", "SequenceNumber": 1}',
        b'{"Action": "Update", "Guid": "g", "EntityType": "Ticket", "Id": 1, "SequenceNumber": 1, '
        b'"Fields": []}',
        b'{"Action": "Update", "Guid": "g", "EntityType": "Ticket", "Id": 1, "SequenceNumber": 1, '
        b'"EventTime": "soon"}',
    ],
)
def test_malformed_payloads_are_400(body):
    with pytest.raises(WebhookRejected) as caught:
        make_connector(make_settings()).parse_webhook({}, body)
    assert caught.value.status == 400


@given(st.binary(max_size=300))
def test_parsing_arbitrary_bytes_never_fails_any_other_way(body):
    try:
        make_connector(make_settings()).parse_webhook({}, body)
    except WebhookRejected as exc:
        assert exc.status == 400


@given(
    st.dictionaries(
        st.sampled_from(["Action", "Guid", "EntityType", "Id", "Fields", "EventTime", "SequenceNumber"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=12), st.just("Ticket"), st.just("Update")),
    )
)
def test_parsing_arbitrary_payload_shapes_never_fails_any_other_way(payload):
    try:
        make_connector(make_settings()).parse_webhook({}, json.dumps(payload).encode())
    except WebhookRejected as exc:
        assert exc.status == 400


class _Receiver:
    """A loopback HTTP server standing in for `hub serve` (records raw bodies and headers)."""

    def __init__(self, status: int = 200) -> None:
        received = self.received = []
        answer = status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(answer)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/autotask"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_simulator_fires_signed_callouts_on_change(sandbox_factory):
    receiver = _Receiver()
    try:
        sandbox, url = sandbox_factory(webhook_url=receiver.url)
        connector = make_connector(AutotaskSettings(**sandbox.settings(url)))
        connector.update("Tickets", "7000", {"status": 13})
        connector.create(
            "TicketNotes", {"ticketID": 7000, "title": "t", "description": "d", "noteType": 1, "publish": 1}
        )
        connector.create(
            "Contracts",
            {
                "companyID": 174,
                "contractName": "c",
                "contractType": 1,
                "startDate": "2026-01-01",
                "endDate": "2026-12-31",
                "status": 1,
            },
        )
        sandbox.control.flush_webhooks()
        events = []
        for headers, body in receiver.received:
            connector.verify_webhook(headers, body)
            events += connector.parse_webhook(headers, body)
        assert [e.type for e in events] == [
            "ticket.updated",
            "ticket_note.created",
        ]  # contracts have no webhooks
        assert events[0].data["fields"]["status"] == 13
        assert events[1].correlation["ticket_id"] == "7000"
        assert len({e.id for e in events}) == 2
        headers, body = sandbox.control.sample_webhook()
        connector.verify_webhook(headers, body)
        assert connector.parse_webhook(headers, body)[0].type == "ticket.updated"
    finally:
        receiver.close()


def test_simulator_deactivates_the_webhook_after_25_failed_deliveries(sandbox_factory):
    receiver = _Receiver(status=500)
    try:
        sandbox, url = sandbox_factory(webhook_url=receiver.url)
        for n in range(25):
            sandbox.control.touch("Companies", str(174 + n % 12))
        sandbox.control.flush_webhooks()
        sandbox.control.touch("Companies")
        sandbox.control.flush_webhooks()
        headers, body = receiver.received[-1]
        connector = make_connector(AutotaskSettings(**sandbox.settings(url)))
        assert len(receiver.received) == 26
        assert connector.parse_webhook(headers, body)[0].type == "webhook.deactivated"
    finally:
        receiver.close()
