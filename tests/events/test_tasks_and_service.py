"""Celery tasks run eagerly, and `hub serve`'s service end to end: signed event -> resumed workflow."""

from __future__ import annotations

import json
import threading
from datetime import datetime

import httpx

from hub.connector import Event
from hub.events.runtime import Runtime
from hub.events.service import EventService
from hub.events.tasks import make_celery
from hub.sandbox import free_port
from tests.events.fakes import AT_SAMPLE, FakeWorkflow, autotask_signature


def eager(runtime: Runtime):
    return make_celery(lambda: runtime, "memory://", task_always_eager=True, task_eager_propagates=True)


def test_celery_tasks_run_the_same_functions(runtime, workflow, sync):
    celery = eager(runtime)
    (row,) = runtime.events.record(
        "autotask", [Event("autotask", "ticket.update", "g:1", "Ticket", "5")], b"{}"
    ).stored

    assert celery.tasks["hub.process_event"].delay(row).get() == {
        "processed": 1,
        "failed": 0,
        "deferred": 0,
        "resumed_runs": [],
        "synced": {"rmm-alerts": "ok"},
    }
    assert runtime.events.get(row).status == "done"
    assert celery.tasks["hub.process_event"].delay(row).get()["processed"] == 0  # done: nothing to do

    assert celery.tasks["hub.sync"].delay("psa-to-docs", full_refresh=True).get()["status"] == "ok"
    assert sync.calls[-1] == ("psa-to-docs", True)

    assert celery.tasks["hub.advance_workflow"].delay("run-9").get() == {"run": "run-9", "status": "waiting"}
    assert workflow.advanced == ["run-9"]
    celery.tasks["hub.workflow_tick"].delay().get()
    assert workflow.ticks == [runtime.hub.clock.now()]


def test_celery_app_is_configured_for_safe_redelivery(runtime):
    conf = eager(runtime).conf
    assert conf.task_acks_late is True
    assert conf.worker_prefetch_multiplier == 1


class SignalingWorkflow(FakeWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self.done = threading.Event()

    def handle_event(self, event: Event) -> list[str]:
        runs = super().handle_event(event)
        if runs:
            self.done.set()
        return runs


def test_serve_receives_a_signed_event_and_resumes_the_waiting_run(hub, sync):
    workflow = SignalingWorkflow()
    workflow.waits["onboarding-1"] = {"ticket_id": "12345"}
    service = EventService(Runtime(hub, workflow=workflow, sync=sync, lifecycle=None))
    port = free_port()
    server_thread = threading.Thread(
        target=service.serve, args=("127.0.0.1", port), kwargs={"log_level": "warning"}
    )
    server_thread.start()
    try:
        body = json.dumps(AT_SAMPLE["payload"]).encode()
        json_type = {"content-type": "application/json"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5, headers=json_type) as client:
            for _ in range(200):  # wait for uvicorn to bind
                try:
                    client.get("/healthz")
                    break
                except httpx.ConnectError:
                    threading.Event().wait(0.02)
            r = client.post(
                "/webhooks/autotask", content=body, headers={"X-Hook-Signature": autotask_signature(body)}
            )
            assert r.status_code == 200
            assert workflow.done.wait(10), "the worker thread did not process the stored event"
            forged = client.post(
                "/webhooks/autotask", content=body, headers={"X-Hook-Signature": "sha1=AAAA"}
            )
            assert forged.status_code == 401
    finally:
        service.shutdown()
        server_thread.join(10)
    assert workflow.waits == {}
    (event,) = service.runtime.events.recent()
    assert event.status == "done"
    assert isinstance(event.processed_at, datetime)
