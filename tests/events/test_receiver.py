"""The receiver over real HTTP on loopback, with signed payloads from shared/vendor-specs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from hub import metrics
from hub.connector import Event
from hub.events.receiver import create_app
from hub.events.runtime import Runtime
from hub.hookspecs import hookimpl
from hub.sandbox import ServedApp, serve_app
from tests.events.fakes import AT_SAMPLE, QB_VECTOR, autotask_signature, quickbooks_signature

QB_BODY = QB_VECTOR["raw_body"].encode()
QB_HEADERS = {QB_VECTOR["header_name"]: QB_VECTOR["intuit_signature"], "content-type": "application/json"}


def rejected(connector: str, reason: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value(
            "hub_webhook_rejected_total", {"connector": connector, "reason": reason}
        )
        or 0.0
    )


def events_count(connector: str, outcome: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value(
            "hub_webhook_events_total", {"connector": connector, "outcome": outcome}
        )
        or 0.0
    )


@pytest.fixture
def woken() -> list[list[int]]:
    return []


@pytest.fixture
def served(runtime: Runtime, woken: list[list[int]]) -> Iterator[ServedApp]:
    app = create_app(runtime.hub, runtime.events, on_stored=woken.append)
    server = serve_app(app)
    yield server
    server.stop()


@pytest.fixture
def client(served: ServedApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=10, headers={"content-type": "application/json"}) as c:
        yield c


def test_quickbooks_test_vector_is_stored_and_answered_before_processing(client, runtime, woken):
    before = events_count("quickbooks", "received")
    r = client.post("/webhooks/quickbooks", content=QB_BODY, headers=QB_HEADERS)
    assert r.status_code == 200
    assert r.json() == {"stored": 2, "duplicates": 0}
    stored = runtime.events.recent()
    assert {(e.entity, e.record_id, e.status) for e in stored} == {
        ("Vendor", "40", "pending"),
        ("Customer", "43", "pending"),
    }
    assert woken == [sorted(e.id for e in stored)]
    assert events_count("quickbooks", "received") == before + 2
    # the raw signed body is kept once per delivery
    bodies = [runtime.events.body(e.id) for e in stored]
    assert sorted(b for b in bodies if b) == [QB_BODY]


def test_autotask_signed_ticket_event(client, runtime):
    body = json.dumps(AT_SAMPLE["payload"]).encode()
    r = client.post(
        "/webhooks/autotask", content=body, headers={"X-Hook-Signature": autotask_signature(body)}
    )
    assert r.status_code == 200, r.text
    (event,) = runtime.events.recent()
    assert (event.type, event.entity, event.record_id) == ("ticket.update", "Ticket", "12345")
    assert event.correlation == {"ticket_id": "12345"}
    assert event.data["title"] == "Printer offline"


def test_replayed_delivery_changes_nothing(client, runtime, woken):
    assert client.post("/webhooks/quickbooks", content=QB_BODY, headers=QB_HEADERS).status_code == 200
    first = [(e.id, e.status, e.attempts) for e in runtime.events.recent()]
    dup_before = events_count("quickbooks", "duplicate")
    r = client.post("/webhooks/quickbooks", content=QB_BODY, headers=QB_HEADERS)
    assert r.status_code == 200
    assert r.json() == {"stored": 0, "duplicates": 2}
    assert [(e.id, e.status, e.attempts) for e in runtime.events.recent()] == first
    assert len(woken) == 1
    assert events_count("quickbooks", "duplicate") == dup_before + 2


@pytest.mark.parametrize(
    "headers",
    [
        {},  # unsigned
        {"intuit-signature": "6q+xGyMirJupwKTh2/WBl2NcdxzxqdIbk3sneKTxLWM="[:-2] + "A="},  # forged
    ],
    ids=["unsigned", "forged"],
)
def test_unsigned_or_forged_is_refused_and_not_stored(client, runtime, headers):
    before = rejected("quickbooks", "unauthorized")
    r = client.post("/webhooks/quickbooks", content=QB_BODY, headers=headers)
    assert r.status_code == 401
    assert runtime.events.recent() == []
    assert rejected("quickbooks", "unauthorized") == before + 1


def test_signature_over_other_bytes_is_forged(client, runtime):
    # Same JSON, re-serialised: the signature covers the raw bytes, not the meaning.
    reformatted = json.dumps(json.loads(QB_BODY), indent=1).encode()
    r = client.post("/webhooks/quickbooks", content=reformatted, headers=QB_HEADERS)
    assert r.status_code == 401
    assert runtime.events.recent() == []


def test_oversized_body_is_refused_from_content_length(client, runtime):
    before = rejected("quickbooks", "too_large")
    big = b"{" + b" " * 5000 + b"}"
    r = client.post("/webhooks/quickbooks", content=big, headers={"intuit-signature": "x"})
    assert r.status_code == 413
    assert runtime.events.recent() == []
    assert rejected("quickbooks", "too_large") == before + 1


def test_oversized_chunked_body_is_refused_while_streaming(client, runtime):
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(64):  # 64 KiB offered against a 4 KiB limit, no Content-Length
            sent.append(1)
            yield b"x" * 1024

    r = client.post("/webhooks/quickbooks", content=chunks(), headers={"intuit-signature": "x"})
    assert r.status_code == 413
    assert runtime.events.recent() == []


def test_signed_but_malformed_body_is_400(client, runtime):
    body = b'{"eventNotifications": "nope"}'
    headers = {"intuit-signature": quickbooks_signature(body)}
    before = rejected("quickbooks", "malformed")
    r = client.post("/webhooks/quickbooks", content=body, headers=headers)
    assert r.status_code == 400
    assert runtime.events.recent() == []
    assert rejected("quickbooks", "malformed") == before + 1


@pytest.mark.parametrize("name", ["nosuch", "itglue"])
def test_unknown_connector_or_one_without_webhooks_is_404(client, runtime, name):
    before = rejected("unknown", "unknown_connector")
    r = client.post(f"/webhooks/{name}", content=b"{}")
    assert r.status_code == 404
    assert rejected("unknown", "unknown_connector") == before + 1


def test_get_on_webhook_route_is_not_allowed(client):
    assert client.get("/webhooks/quickbooks").status_code == 405


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_metrics_exposes_the_contract_series(client, runtime):
    from hub.state import tables as t

    client.post("/webhooks/quickbooks", content=QB_BODY, headers=QB_HEADERS)
    client.post("/webhooks/quickbooks", content=QB_BODY, headers={})
    store = runtime.hub.store
    with store.transaction() as conn:
        store.dead_letter(
            conn,
            job="rmm-alerts",
            system="autotask",
            kind="ticket",
            record_id="9",
            operation="create",
            record={},
            error="422",
        )
        now = runtime.hub.clock.now()
        conn.execute(
            t.workflow_runs.insert().values(
                id="run-1",
                workflow="onboarding",
                status="waiting",
                inputs={},
                values={},
                created_at=now,
                updated_at=now,
            )
        )
    metrics.API_CALLS.labels(connector="autotask").inc()
    metrics.RATE_LIMITED.labels(connector="autotask").inc()
    text = client.get("/metrics").text
    assert "# TYPE hub_webhook_events_total counter" in text
    assert 'hub_webhook_events_total{connector="quickbooks",outcome="received"}' in text
    assert 'hub_webhook_rejected_total{connector="quickbooks",reason="unauthorized"}' in text
    assert 'hub_api_calls_total{connector="autotask"}' in text
    assert 'hub_api_rate_limited_total{connector="autotask"}' in text
    assert "hub_dead_letters 1.0" in text
    assert "hub_workflow_runs_waiting 1.0" in text
    assert 'hub_events_backlog{status="pending"} 2.0' in text
    for name in ("hub_sync_runs", "hub_webhook_deactivations", "hub_schedule_runs"):
        assert f"# HELP {name}_total" in text


class Observer:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    @hookimpl
    def hub_event_received(self, event: Event) -> None:
        self.seen.append((event.connector, event.id))
        if event.record_id == "43":
            raise RuntimeError("an observer bug must not cost the vendor a retry")


def test_plugins_observe_each_new_event_once(client, runtime):
    observer = Observer()
    runtime.hub.plugins.register(observer, "observer")
    for _ in range(2):  # the replay is not observed again
        assert client.post("/webhooks/quickbooks", content=QB_BODY, headers=QB_HEADERS).status_code == 200
    assert len(observer.seen) == 2 and {c for c, _ in observer.seen} == {"quickbooks"}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "", "application/xml"])
def test_a_signed_body_that_is_not_json_is_415(client, runtime, content_type):
    body = json.dumps(AT_SAMPLE["payload"]).encode()
    headers = {"X-Hook-Signature": autotask_signature(body), "content-type": content_type}
    before = rejected("autotask", "not_json")
    r = client.post("/webhooks/autotask", content=body, headers=headers)
    assert r.status_code == 415
    assert runtime.events.recent() == []
    assert rejected("autotask", "not_json") == before + 1


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/cloudevents+json"])
def test_json_types_with_parameters_or_a_structured_suffix_are_taken(client, runtime, content_type):
    body = json.dumps(AT_SAMPLE["payload"]).encode()
    r = client.post("/webhooks/autotask", content=body,
                    headers={"X-Hook-Signature": autotask_signature(body), "content-type": content_type})  # fmt: skip
    assert r.status_code == 200


@pytest.mark.parametrize("depth", [65, 500, 2000])
def test_a_signed_body_nested_too_deep_is_400_not_a_crash(client, runtime, depth):
    body = b"[" * depth + b"]" * depth
    assert len(body) <= runtime.hub.settings.webhook_max_bytes, "the test body must fit the size limit"
    r = client.post("/webhooks/autotask", content=body, headers={"X-Hook-Signature": autotask_signature(body)})
    assert r.status_code == 400 and "nested deeper than 64" in r.json()["error"]
    assert len(r.text) < 200 and runtime.events.recent() == []


def test_a_body_that_trickles_in_is_dropped(runtime, woken, monkeypatch):
    """A client sending a byte at a time is refused once the body deadline passes."""
    import socket
    import time

    runtime.hub.settings.webhook_body_seconds = 0.5
    server = serve_app(create_app(runtime.hub, runtime.events, on_stored=woken.append))
    try:
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(b"POST /webhooks/autotask HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
                         b"X-Hook-Signature: sha1=AAAA\r\ncontent-length: 100\r\n\r\n")  # fmt: skip
            answer = b""
            for _ in range(30):  # a byte every 0.1 s: 3 s for the whole body, far past the deadline
                try:
                    sock.sendall(b" ")
                except OSError:
                    break
                time.sleep(0.1)
                sock.setblocking(False)
                try:
                    answer += sock.recv(4096)
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
                if answer:
                    break
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    finally:
        server.stop()
