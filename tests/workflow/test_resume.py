"""A run killed at any step resumes without repeating a side effect."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from hub.workflow import RunStatus, StepStatus, WorkflowEngine

from .conftest import DATA, HERE, ONBOARD, fakes, make_plugins

SIDE_EFFECTS = (
    "create:Companies",
    "update:Companies",
    "create:Tickets",
    "send_terms",
    "download",
    "update:Tickets",
)


def drive(engine: Any, run_id: str) -> None:
    """Do what people and vendors do until the run completes (each only when it waits on them)."""
    for _ in range(10):
        run = engine.runs.get(run_id)
        if run.status is RunStatus.completed:
            return
        assert run.status is RunStatus.waiting, (run.status, run.error)
        if run.current_step == "appointment":
            engine.confirm(run_id, "appointment", values={"service_date": "2026-02-03"})
        elif run.current_step == "payment":
            engine.confirm(run_id, "payment")
        elif run.current_step == "signed":
            envelope_id = run.values["send_terms"]["envelope_id"]
            engine.handle_event(fakes_event(envelope_id))
    raise AssertionError("run did not complete")


def fakes_event(envelope_id: str) -> Any:
    from hub.connector import Event

    return Event(
        "fakesign", "envelope-completed", f"evt-{envelope_id}", correlation={"envelope_id": envelope_id}
    )


def counts(world: Any) -> dict[str, int]:
    return {op: world.count(op) for op in SIDE_EFFECTS}


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("op", SIDE_EFFECTS)
def test_crash_at_each_side_effect_resumes_without_repeating(
    engine: Any, world: Any, op: str, when: str
) -> None:
    world.crash(op, when)
    run_id = None
    try:
        run_id = engine.start("onboard-test", ONBOARD)
        drive(engine, run_id)
        pytest.fail("the crash did not happen")
    except fakes.Crash:
        pass
    run_id = run_id or engine.runs.recent()[0].id
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.running  # interrupted mid-step
    interrupted = engine.runs.step(run_id, run.current_step)
    assert (
        interrupted.status is StepStatus.running
        and interrupted.idempotency_key == f"{run_id}:{run.current_step}"
    )

    status = engine.resume(run_id)
    if op == "create:Tickets":
        # Tickets have no stream to read back, so the hub asks; the person looks in the PSA.
        assert status is RunStatus.failed
        tickets = list(world.table("tickets"))
        if tickets:
            engine.confirm(run_id, "ticket", values={"id": tickets[0]})
        else:
            engine.resume(run_id)
    else:
        assert status in (RunStatus.waiting, RunStatus.completed)
        assert engine.runs.step(run_id, run.current_step).attempts == 2
    drive(engine, run_id)
    assert counts(world) == dict.fromkeys(SIDE_EFFECTS, 1)


def test_tick_picks_up_an_interrupted_run(engine: Any, world: Any) -> None:
    world.crash("create:Companies", "after")
    with pytest.raises(fakes.Crash):
        engine.start("onboard-test", ONBOARD)
    (run,) = engine.runs.recent()
    assert engine.tick() == [run.id]
    assert engine.runs.get(run.id).current_step == "appointment"
    assert world.count("create:Companies") == 1


def test_interrupted_create_without_a_stream_asks_a_person(engine: Any, world: Any) -> None:
    """Tickets have no stream: the hub cannot see whether the first attempt made one."""
    world.crash("create:Tickets", "after")
    run_id = engine.start("onboard-test", ONBOARD)
    with pytest.raises(fakes.Crash):
        engine.confirm(run_id, "appointment", values={"service_date": "2026-02-03"})
    assert engine.resume(run_id) is RunStatus.failed
    run = engine.runs.get(run_id)
    assert run.error.startswith("ticket: an earlier attempt to create fakepsa Tickets was interrupted")
    assert "hub workflow confirm RUN STEP --set id=" in run.error
    assert world.count("create:Tickets") == 1
    # the person finds the ticket and confirms the step with its id: no second ticket
    (ticket_id,) = world.table("tickets")
    engine.confirm(run_id, "ticket", note="found it", values={"id": ticket_id})
    drive(engine, run_id)
    assert world.count("create:Tickets") == 1
    assert world.table("tickets")[ticket_id]["status"] == "Scheduled"


def test_unverified_create_runs_again_after_a_person_resumes(engine: Any, world: Any) -> None:
    world.crash("create:Tickets", "before")  # died before the vendor saw anything
    run_id = engine.start("onboard-test", ONBOARD)
    with pytest.raises(fakes.Crash):
        engine.confirm(run_id, "appointment", values={"service_date": "2026-02-03"})
    assert engine.resume(run_id) is RunStatus.failed  # cannot tell, so it asks
    assert engine.resume(run_id) is RunStatus.waiting  # the person looked: nothing there
    drive(engine, run_id)
    assert world.count("create:Tickets") == 1


def test_failed_step_resumes_after_the_cause_is_fixed(engine: Any, world: Any) -> None:
    run_id = engine.start("onboard-test", ONBOARD)
    data = world.load()
    company_id = engine.runs.get(run_id).values["create_company"]["id"]
    saved = data["companies"].pop(company_id)
    world.save(data)
    engine.confirm(run_id, "appointment", values={"service_date": "2026-02-03"})
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.failed and run.error.startswith("make_customer: fakepsa: no Companies")
    data = world.load()
    data["companies"][company_id] = saved
    world.save(data)
    assert engine.resume(run_id) is RunStatus.waiting
    drive(engine, run_id)
    assert counts(world) == dict.fromkeys(SIDE_EFFECTS, 1)


SCRIPT = textwrap.dedent(
    """
    import importlib.util, sys
    from pathlib import Path
    spec = importlib.util.spec_from_file_location("workflow_fakes", {fakes!r})
    fakes = importlib.util.module_from_spec(spec)
    sys.modules["workflow_fakes"] = fakes
    spec.loader.exec_module(fakes)
    from hub.app import Hub
    from hub.plugins import HubPlugins
    from hub.settings import HubSettings
    from hub.workflow import WorkflowEngine
    world = fakes.World(Path({world!r}))
    fakes.FakePsa.world = fakes.FakeSign.world = world
    plugins = HubPlugins(entry_points_group=None)
    plugins.register(fakes.FakePlugin([Path({data!r})]), "fakes")
    settings = HubSettings(state_url={url!r}, documents_root=Path({docs!r}), mappings_dir=Path({maps!r}))
    engine = WorkflowEngine(Hub(settings, plugins=plugins))
    run_id = engine.start("onboard-test", {inputs!r})
    engine.confirm(run_id, "appointment", values={{"service_date": "2026-02-03"}})
    print("not killed")
    """
)


@pytest.mark.slow
def test_killed_process_resumes_in_another(tmp_path: Path, settings: Any, world: Any, clock: Any) -> None:
    """SIGKILL right after DocuSign-like send: the other process's retry finds the envelope by key."""
    from hub.app import Hub

    op = "send_terms"
    world.crash(op, "after", how="kill")
    script = SCRIPT.format(
        fakes=str(HERE / "fakes.py"),
        world=str(world.path),
        data=str(DATA),
        url=settings.state_url,
        docs=str(settings.documents_root),
        maps=str(settings.mappings_dir),
        inputs=ONBOARD,
    )
    env = {**os.environ, "HUB_DISABLE_PLUGINS": ""}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert world.count(op) == 1

    hub = Hub(settings, plugins=make_plugins(), clock=clock)
    try:
        engine = WorkflowEngine(hub)
        (run,) = engine.runs.recent()
        assert run.status is RunStatus.running and run.current_step == "send_terms"
        # the dead process's lock is taken over; the step is retried with the same key
        assert engine.resume(run.id) is RunStatus.waiting
        drive(engine, run.id)
        assert counts(world) == dict.fromkeys(SIDE_EFFECTS, 1)
    finally:
        hub.close()
