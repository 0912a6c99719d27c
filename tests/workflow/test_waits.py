"""Waits ended by polling, by events stored before the wait, and by the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from hub.state import tables as t
from hub.workflow import RunStatus, StepStatus


def envelope(engine: Any, run_id: str) -> str:
    return engine.runs.get(run_id).values["send"]["envelope_id"]


def test_poll_by_stream_ends_the_wait_once(engine: Any, hub: Any, clock: Any) -> None:
    run_id = engine.start("wait-test", {})
    other = engine.start("wait-test", {"email": "b@example.com"})
    assert engine.poll() == 0  # nobody signed yet
    clock.advance(3600)
    hub.connector("fakesign").sign(envelope(engine, run_id))
    assert engine.poll() == 1
    assert engine.runs.get(run_id).status is RunStatus.completed
    assert engine.runs.get(run_id).values["by_stream"]["record"]["status"] == "completed"
    assert engine.runs.get(other).status is RunStatus.waiting
    assert engine.poll() == 0


def test_poll_by_get(engine: Any, hub: Any) -> None:
    run_id = engine.start("wait-test", {"poll": "get"})
    assert engine.runs.get(run_id).current_step == "by_get"
    assert engine.runs.step(run_id, "by_stream").status is StepStatus.skipped
    assert engine.poll() == 0
    hub.connector("fakesign").sign(envelope(engine, run_id))
    assert engine.poll() == 1
    assert engine.runs.get(run_id).status is RunStatus.completed


def test_event_stored_before_the_wait_began_is_used(engine: Any, hub: Any, world: Any) -> None:
    """The signer was faster than the engine: the receiver had stored the event already."""
    next_envelope = f"env-{world.load()['next_id'] + 1}"
    with hub.store.transaction() as conn:
        conn.execute(
            insert(t.events).values(
                connector="fakesign",
                event_id="early-1",
                type="envelope-completed",
                correlation={"envelope_id": next_envelope},
                data={},
                status="processed",
                received_at=datetime.now(UTC),
                attempts=1,
            )
        )
    run_id = engine.start("wait-test", {})
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed
    assert run.values["by_stream"]["event_id"] == "early-1"


def test_reminders_then_timeout_takes_the_on_timeout_branch(engine: Any, hub: Any, clock: Any) -> None:
    run_id = engine.start("timeout-test", {})
    assert engine.tick() == []
    clock.advance(timedelta(days=2, seconds=1).total_seconds())
    engine.tick()
    clock.advance(timedelta(days=5).total_seconds())  # two reminders missed while the hub was down
    engine.tick()
    reminders = [a for a in hub.store.audit_rows(run_id) if a["operation"] == "reminder"]
    assert len(reminders) == 2
    assert reminders[0]["after"]["message"] == f"envelope {envelope(engine, run_id)} is still unsigned"
    step = engine.runs.step(run_id, "signature")
    assert step.remind_at > clock.now()

    clock.advance(timedelta(days=7).total_seconds())
    assert engine.tick() == [run_id]
    assert engine.runs.step(run_id, "signature").status is StepStatus.timed_out
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.waiting and run.current_step == "chase"
    assert run.values["signature"]["timed_out"] is True
    engine.confirm(run_id, "chase", note="they will sign today")
    assert engine.runs.get(run_id).status is RunStatus.completed
    # a late event changes nothing
    from hub.connector import Event

    late = Event(
        "fakesign", "envelope-completed", "late", correlation={"envelope_id": envelope(engine, run_id)}
    )
    assert engine.handle_event(late) == []


def test_timeout_without_branch_fails_with_reason(engine: Any, clock: Any) -> None:
    run_id = engine.start("timeout-test", {"branch": "false"})
    assert engine.runs.get(run_id).current_step == "approval"
    clock.advance(timedelta(hours=23).total_seconds())
    assert engine.tick() == []
    clock.advance(timedelta(hours=2).total_seconds())
    engine.tick()
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.failed
    assert run.error == "approval: timed out after 1d waiting for a person to confirm: Approve"


def test_wait_is_uncapped_without_timeout(engine: Any, clock: Any) -> None:
    run_id = engine.start("wait-test", {"poll": "get"})
    clock.advance(timedelta(days=400).total_seconds())
    engine.tick()
    assert engine.runs.get(run_id).status is RunStatus.waiting


def test_tick_advances_a_run_whose_wait_ended_while_it_was_locked(engine: Any, hub: Any) -> None:
    from hub.connector import Event

    run_id = engine.start("wait-test", {})
    with hub.store.lock(f"workflow-run:{run_id}"):  # another process is advancing it
        ended = engine.handle_event(
            Event(
                "fakesign", "envelope-completed", "e1", correlation={"envelope_id": envelope(engine, run_id)}
            )
        )
        assert ended == [run_id]
        assert engine.runs.get(run_id).status is RunStatus.waiting
    assert engine.tick() == [run_id]
    assert engine.runs.get(run_id).status is RunStatus.completed
