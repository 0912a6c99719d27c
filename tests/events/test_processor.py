"""Processing stored events: workflows resumed, syncs coalesced, failures retried with backoff."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from hub import metrics
from hub.connector import Event
from hub.events.processor import DEACTIVATED
from hub.events.routing import jobs_for_event, streams_for_event
from hub.events.store import LEASE
from tests.events.fakes import AT_SAMPLE, QB_VECTOR, FakeAutotask, FakeJob, FakeQuickBooks


def ticket_event(n: int, ticket: str = "12345") -> Event:
    return Event(
        "autotask", "ticket.update", f"guid:{n}", "Ticket", ticket, correlation={"ticket_id": ticket}
    )


def store(runtime, *events: Event, connector: str = "autotask", body: bytes = b"{}") -> list[int]:
    return runtime.events.record(connector, list(events), body).stored


def test_event_resumes_the_waiting_run_and_syncs_the_jobs_it_touches(runtime, workflow, sync):
    workflow.waits["run-7"] = {"ticket_id": "12345"}
    (row,) = store(runtime, ticket_event(1))
    result = runtime.processor.drain()
    assert result.processed == 1
    assert result.resumed_runs == ["run-7"]
    assert sync.jobs() == ["rmm-alerts"]  # reads (autotask, tickets); psa-to-docs does not
    assert runtime.events.get(row).status == "done"
    assert workflow.waits == {}


def test_quickbooks_entities_route_by_stream_entity_convention(runtime, sync):
    body = QB_VECTOR["raw_body"].encode()
    events = FakeQuickBooks.parse_webhook(runtime.hub.connector("quickbooks"), {}, body)
    runtime.events.record("quickbooks", events, body)
    runtime.processor.drain()
    # Customer -> stream customers (Stream.entity) -> accounting-recipients; Vendor -> no stream
    assert sync.jobs() == ["accounting-recipients"]


def test_a_burst_of_events_is_one_sync_per_job(runtime, sync):
    store(runtime, *(ticket_event(n, str(100 + n)) for n in range(5)))
    result = runtime.processor.drain()
    assert result.processed == 5
    assert sync.jobs() == ["rmm-alerts"]


def test_processing_failure_is_kept_and_retried_with_backoff(runtime, sync, clock):
    sync.fail["rmm-alerts"] = 2
    (row,) = store(runtime, ticket_event(1))
    failed_before = (
        metrics.REGISTRY.get_sample_value(
            "hub_webhook_events_total", {"connector": "autotask", "outcome": "failed"}
        )
        or 0.0
    )

    assert runtime.processor.drain().failed == 1
    event = runtime.events.get(row)
    assert (event.status, event.attempts) == ("failed", 1)
    assert "autotask answered 503" in event.error
    assert event.next_attempt_at == clock.now() + timedelta(seconds=30)

    assert runtime.processor.drain().processed == 0  # not due yet: nothing happens
    clock.advance(30)
    assert runtime.processor.drain().failed == 1
    event = runtime.events.get(row)
    assert event.attempts == 2
    assert event.next_attempt_at == clock.now() + timedelta(seconds=60)  # doubled

    clock.advance(60)
    assert runtime.processor.drain().processed == 1
    event = runtime.events.get(row)
    assert (event.status, event.attempts, event.error) == ("done", 3, None)
    assert sync.jobs() == ["rmm-alerts"] * 3
    assert (
        metrics.REGISTRY.get_sample_value(
            "hub_webhook_events_total", {"connector": "autotask", "outcome": "failed"}
        )
        == failed_before + 2
    )


def test_workflow_failure_fails_only_that_event(runtime, workflow, sync):
    workflow.fail_times = 1
    first, second = store(runtime, ticket_event(1, "1"), ticket_event(2, "2"))
    result = runtime.processor.drain()
    assert (result.processed, result.failed) == (1, 1)
    assert runtime.events.get(first).status == "failed"
    assert "workflow store unavailable" in runtime.events.get(first).error
    assert runtime.events.get(second).status == "done"


def test_out_of_attempts_is_dead_then_revived_by_retry(hub, runtime, sync, clock):
    runtime.processor.max_attempts = 2
    sync.fail["rmm-alerts"] = 2
    (row,) = store(runtime, ticket_event(1))
    runtime.processor.drain()
    clock.advance(3600)
    runtime.processor.drain()
    assert runtime.events.get(row).status == "dead"
    clock.advance(86400)
    assert runtime.processor.drain().processed == 0  # dead events wait for a person

    assert runtime.events.retry() == [row]  # what `hub events retry` does
    assert runtime.processor.drain().processed == 1
    assert runtime.events.get(row).status == "done"


def test_busy_sync_job_defers_without_spending_an_attempt(runtime, sync, clock):
    sync.locked["rmm-alerts"] = 1
    (row,) = store(runtime, ticket_event(1))
    result = runtime.processor.drain()
    assert result.deferred == 1
    event = runtime.events.get(row)
    assert (event.status, event.attempts) == ("pending", 0)
    clock.advance(30)
    assert runtime.processor.drain().processed == 1


def test_deactivation_notice_is_reported(runtime, workflow, sync, caplog):
    before = (
        metrics.REGISTRY.get_sample_value("hub_webhook_deactivations_total", {"connector": "autotask"}) or 0
    )
    body = json.dumps(
        {"Deactivated": True, "Guid": AT_SAMPLE["payload"]["Guid"], "EntityType": "Ticket"}
    ).encode()
    events = FakeAutotask.parse_webhook(runtime.hub.connector("autotask"), {}, body)
    runtime.events.record("autotask", events, body)
    assert runtime.processor.drain().processed == 1
    assert (
        metrics.REGISTRY.get_sample_value("hub_webhook_deactivations_total", {"connector": "autotask"})
        == before + 1
    )
    (listed,) = runtime.events.recent(type=DEACTIVATED)
    assert listed.connector == "autotask" and listed.status == "done"
    assert workflow.seen == [] and sync.calls == []


def test_a_crashed_workers_event_is_claimed_again_after_its_lease(runtime, clock):
    (row,) = store(runtime, ticket_event(1))
    assert runtime.events.claim(row) is not None  # a worker took it and died
    assert runtime.events.claim(row) is None
    assert runtime.events.due() == []
    clock.advance(LEASE.total_seconds())
    assert runtime.events.due() == [row]
    assert runtime.processor.drain().processed == 1


def test_events_without_id_are_deduplicated_by_body_hash(runtime):
    body = b'{"hello": 1}'
    event = Event("autotask", "ticket.update", "", "Ticket", "1")
    assert len(runtime.events.record("autotask", [event], body).stored) == 1
    intake = runtime.events.record("autotask", [event], body)
    assert (intake.stored, intake.duplicates) == ([], 1)
    assert runtime.events.recent()[0].event_id == Event.body_id(body)


def test_routing_rules():
    jobs = {
        "a": FakeJob("a", [("autotask", "tickets")]),
        "b": FakeJob("b", [("autotask", "contacts")]),
        "c": FakeJob("c", [("ncentral", "tickets")]),
    }
    table = {"autotask": {"TicketNote": ["tickets"]}}
    by_name = Event("autotask", "x", "1", entity="tickets")
    by_entity = Event("autotask", "x", "1", entity="TICKETS")
    by_table = Event("autotask", "x", "1", entity="ticketnote")
    assert jobs_for_event(by_name, jobs, FakeAutotask, {}) == ["a"]
    assert jobs_for_event(by_entity, jobs, FakeAutotask, {}) == ["a"]
    assert jobs_for_event(by_table, jobs, FakeAutotask, table) == ["a"]
    assert jobs_for_event(Event("autotask", "x", "1"), jobs, FakeAutotask, table) == []
    assert streams_for_event(Event("autotask", "x", "1", entity="Ticket"), FakeAutotask, {}) == set()
    assert streams_for_event(by_name, None, {}) == set()


@pytest.mark.parametrize("engine", ["workflow", "sync"])
def test_without_an_engine_events_are_still_processed(hub, engine):
    from hub.events.runtime import Runtime
    from tests.events.fakes import FakeSync, FakeWorkflow

    sync = FakeSync()
    runtime = Runtime(
        hub,
        workflow=None if engine == "workflow" else FakeWorkflow(),
        sync=None if engine == "sync" else sync,
        lifecycle=None,
    )
    store(runtime, ticket_event(1))
    assert runtime.processor.drain().processed == 1
    assert sync.jobs() == ([] if engine == "sync" else ["rmm-alerts"])
