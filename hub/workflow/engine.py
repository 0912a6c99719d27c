"""The workflow engine: runs an MSP procedure step by step, durably.

A run is advanced by walking its definition (the copy stored when it started) from
the top: finished steps are passed over, the first unfinished one is executed by its
kind's handler (:mod:`hub.workflow.steps`), and the walk stops at a step that waits for
an event or a person, at a failure, or at the end. Nothing about the walk lives in
memory between calls, so any process can continue any run: after a crash, ``resume``
(or the next ``tick``) simply walks it again (:class:`hub.workflow.context.RunContext`).

Side effects are made idempotent per step. Before an ``action`` or ``write`` runs, its
step row is committed as ``running`` with the idempotency key ``<run id>:<step key>``;
after it succeeded, its outputs, the run's values and an audit row are committed
together. A step found ``running`` was interrupted: it runs again with the same key, and
the connector's action finds its earlier side effect by that key (a write finds its
record, see :mod:`hub.workflow.writes`). A finished step is never run again.

Waits end through :meth:`WorkflowEngine.handle_event` (webhooks), :meth:`poll` (vendors
or set-ups without webhooks), :meth:`confirm` (a person), or :meth:`tick` (timeouts).
They are durable and uncapped: a signature may take weeks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from hub.connector import Event
from hub.errors import ConfigError, HubError
from hub.logging import get_logger
from hub.mapping import get_path
from hub.state.store import JobLocked
from hub.workflow import waits
from hub.workflow.context import RunContext, RunState, person
from hub.workflow.definition import WorkflowDefinition, coerce_inputs
from hub.workflow.expr import ExpressionError, parse
from hub.workflow.library import WorkflowLibrary
from hub.workflow.lint import require_runnable
from hub.workflow.runs import RunRecord, RunStatus, RunStore, StepRecord, StepStatus
from hub.workflow.schema import parse_duration
from hub.workflow.steps.base import Outcome
from hub.workflow.steps.wait import ManualSpec
from hub.workflow.writes import WriteRunner, json_safe

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["StepListener", "WorkflowEngine"]

#: called as each step changes: (run id, step key, new status, one-line detail)
StepListener = Callable[[str, str, str, str], None]


class WorkflowEngine:
    """Starts, advances and resumes workflow runs of one :class:`hub.app.Hub`."""

    def __init__(
        self,
        hub: Hub,
        *,
        library: WorkflowLibrary | None = None,
        on_step: StepListener | None = None,
        advance_later: Callable[[str], None] | None = None,
    ) -> None:
        self.hub = hub
        self.runs = RunStore(hub.store)
        self._library = library
        self.on_step = on_step
        #: with Celery workers: hands a run whose wait an event ended to the workflows queue
        #: instead of advancing it in the events worker (a long step never holds up events)
        self.advance_later = advance_later
        self.log = get_logger("hub.workflow")

    @property
    def library(self) -> WorkflowLibrary:
        if self._library is None:
            settings = self.hub.settings
            self._library = WorkflowLibrary(
                self.hub.plugins.workflow_dirs(), settings.workflows_dir, settings.workflow_vars, self.hub.roles
            )
        return self._library

    def now(self) -> datetime:
        return self.hub.clock.now()

    def write_runner(self, actor: str) -> WriteRunner:
        return WriteRunner(self.hub, actor)

    # -- the public operations ----------------------------------------------------------

    def start(self, name: str, inputs: Mapping[str, Any], actor: str | None = None) -> str:
        """Validate ``inputs``, create a run of workflow ``name`` and advance it; returns its id.

        ``actor`` is who started it, for the audit log (a console user); by default the workflow.
        """
        definition = self.library.get(name)
        values = coerce_inputs(definition.inputs, dict(inputs))
        require_runnable(definition, self.hub.plugins)
        run_id = str(uuid.uuid4())
        now = self.now()
        with self.hub.store.transaction() as conn:
            self.runs.create(conn, run_id, name, values, definition.snapshot(), now)
            self.audit(
                conn, run_id, actor or f"workflow:{name}", "run.started", record_id=run_id, after={"inputs": values}
            )
        self.log.info("workflow run started", workflow=name, run_id=run_id)
        self.advance(run_id)
        return run_id

    def advance(self, run_id: str) -> RunStatus:
        """Run the run's steps until it waits, fails or ends; returns its status.

        Holds a lock per run, so the webhook receiver, ``poll`` and a person's ``resume``
        never advance one run twice at once; a run locked by another live process is
        left to it.
        """
        try:
            with self.hub.store.lock(f"workflow-run:{run_id}"):
                return self._advance(run_id)
        except JobLocked:
            self.log.info("workflow run is being advanced elsewhere", run_id=run_id)
            return self.runs.get(run_id).status

    def resume(self, run_id: str, actor: str | None = None) -> RunStatus:
        """Continue a failed or interrupted run: its failed step runs again (same idempotency key).

        ``actor`` is who resumed it, for the audit log; by default the person running the command.
        """
        run = self.runs.get(run_id)
        if run.status.final:
            raise ConfigError(f"run {run_id} is {run.status.value}; there is nothing to resume")
        now = self.now()
        with self.hub.store.transaction() as conn:
            for rec in self.runs.steps(run_id, conn).values():
                if (
                    rec.status is StepStatus.failed
                    and isinstance(rec.result, dict)
                    and rec.result.get("unverified")
                ):
                    # A person has looked and found no record: run the create from scratch.
                    self.runs.save_step(conn, run_id, rec.step_id, attempts=0, result=None)
            if run.status is RunStatus.failed:
                self.runs.update(conn, run_id, now, status=RunStatus.running.value, error=None)
            self.audit(conn, run_id, actor or person(), "run.resumed", record_id=run_id)
        return self.advance(run_id)

    def confirm(
        self,
        run_id: str,
        step_id: str,
        note: str | None = None,
        values: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> RunStatus:
        """A person says step ``step_id`` is done (a manual step, or any waiting or failed step).

        ``step_id`` is the step's key (``loop[12].ask`` inside a foreach, ``sub.x`` inside a
        sub-workflow). ``values`` become the step's outputs; for a manual step they are
        checked against its declared ``fields``, and a field left out keeps the value the
        form was prefilled with. A failed step confirmed by hand lets its run go on.
        """
        run = self.runs.get(run_id)
        if run.status.final:
            raise ConfigError(f"run {run_id} is {run.status.value}; nothing to confirm")
        step = self.definition(run).locate(step_id)
        rec = self.runs.step(run_id, step_id)
        if rec is None or rec.status not in (StepStatus.waiting, StepStatus.failed):
            state = rec.status.value if rec else "not reached yet"
            raise ConfigError(f"step {step_id} is {state}; only a waiting or failed step can be confirmed")
        given = dict(values or {})
        outputs: dict[str, Any] = given
        if isinstance(step.spec, ManualSpec):
            prefilled = {
                name: field["default"]
                for name, field in ((rec.waiting_on or {}).get("fields") or {}).items()
                if isinstance(field, dict) and field.get("default") is not None
            }
            outputs = coerce_inputs(step.spec.fields, {**prefilled, **given}, what="field")
        who = actor or person()
        outputs.update(confirmed=True, confirmed_by=who, note=note)
        now = self.now()
        with self.hub.store.transaction() as conn:
            changes = {
                "status": StepStatus.done.value,
                "result": json_safe(outputs),
                "note": note,
                "error": None,
                "finished_at": now,
                "deadline_at": None,
                "remind_at": None,
            }
            if rec.status is StepStatus.waiting:
                if not self.runs.update_if_waiting(conn, run_id, step_id, **changes):
                    raise ConfigError(f"step {step_id} is no longer waiting")
            else:
                self.runs.save_step(conn, run_id, step_id, **changes)
                self.runs.update(conn, run_id, now, status=RunStatus.running.value, error=None)
            self.runs.store_output(conn, run_id, step_id, json_safe(outputs), now)
            self.audit(conn, run_id, who, "step.confirmed", entity=run.workflow, record_id=step_id,
                       after={"step": step_id, "note": note, "values": json_safe(given)})  # fmt: skip
        self.notify(run_id, step_id, StepStatus.done.value, f"confirmed by {who}" + (f": {note}" if note else ""))
        return self.advance(run_id)

    def cancel(self, run_id: str, reason: str | None = None, actor: str | None = None) -> None:
        """Stop a run for good; its waiting steps stop waiting."""
        run = self.runs.get(run_id)
        if run.status.final:
            raise ConfigError(f"run {run_id} is already {run.status.value}")
        now = self.now()
        why = reason or "cancelled"
        who = actor or person()
        with self.hub.store.transaction() as conn:
            for rec in self.runs.steps(run_id, conn).values():
                if rec.status in (StepStatus.waiting, StepStatus.running):
                    self.runs.save_step(
                        conn, run_id, rec.step_id, status=StepStatus.cancelled.value, finished_at=now
                    )
            self.runs.update(conn, run_id, now, status=RunStatus.cancelled.value, error=why)
            self.audit(conn, run_id, who, "run.cancelled", record_id=run_id, after={"reason": why})
        self.log.info("workflow run cancelled", run_id=run_id, reason=why)

    def handle_event(self, event: Event) -> list[str]:
        """End every wait ``event`` satisfies and advance those runs; returns their ids.

        An event matches a wait by connector, type and correlation value. A replayed
        event finds no wait left to end, so it changes nothing.
        """
        ended: list[str] = []
        for run, step in self.runs.waiting_steps():
            if not waits.matches(step.waiting_on or {}, event):
                continue
            detail = f"{event.connector} {event.type} {event.id}"
            if self.end_wait(run, step.step_id, waits.event_outputs(event), detail) and run.id not in ended:
                ended.append(run.id)
        for run_id in ended:
            if self.advance_later is not None:
                self.advance_later(run_id)
            else:
                self.advance(run_id)
        return ended

    def poll(self) -> int:
        """End waits by reading the vendor where no webhook comes; returns how many ended.

        Waits that poll a stream are grouped by (connector, stream), so one read since the
        earliest of them serves them all (DocuSign penalises per-envelope polling).
        """
        by_stream: dict[tuple[str, str], list[tuple[RunRecord, StepRecord]]] = {}
        by_id: list[tuple[RunRecord, StepRecord]] = []
        for run, step in self.runs.waiting_steps():
            waiting_on = step.waiting_on or {}
            spec = waiting_on.get("poll")
            if not spec:
                continue
            if spec.get("stream"):
                by_stream.setdefault((waiting_on["connector"], spec["stream"]), []).append((run, step))
            else:
                by_id.append((run, step))
        ended: list[str] = []
        for (connector, stream), items in by_stream.items():
            ended += self._poll_stream(connector, stream, items)
        for run, step in by_id:
            ended += self._poll_get(run, step)
        for run_id in dict.fromkeys(ended):
            self.advance(run_id)
        return len(ended)

    def tick(self, now: datetime | None = None) -> list[str]:
        """Time out overdue waits, send due reminders, and pick up stranded runs.

        Stranded runs are those interrupted while running (their process died) and those
        whose wait ended while another process held the run. Returns the runs advanced.
        """
        now = now or self.now()
        timed_out: list[str] = []
        for run, step in self.runs.waiting_steps():
            if step.deadline_at is not None and step.deadline_at <= now:
                if self._time_out(run, step, now):
                    timed_out.append(run.id)
            elif step.remind_at is not None and step.remind_at <= now:
                self._remind(run, step, now)
        touched = list(dict.fromkeys(timed_out + self.runs.stranded_ids()))
        for run_id in touched:
            self.advance(run_id)
        return touched

    def definition(self, run: RunRecord) -> WorkflowDefinition:
        return WorkflowDefinition.from_snapshot(run.definition)

    # -- walking a run ---------------------------------------------------------------------

    def _advance(self, run_id: str) -> RunStatus:
        record = self.runs.get(run_id)
        if record.status not in (RunStatus.running, RunStatus.waiting):
            return record.status
        run = RunState(record, self.definition(record), self.runs.steps(run_id), dict(record.values))
        outcome = RunContext(self, run).walk(run.definition.steps)
        now = self.now()
        if outcome is Outcome.proceed:
            with self.hub.store.transaction() as conn:
                self.runs.update(
                    conn, run_id, now, status=RunStatus.completed.value, current_step=None, error=None
                )
                self.audit(conn, run_id, run.actor, "run.completed", record_id=run_id)
            self.log.info("workflow run completed", run_id=run_id, workflow=record.workflow)
            return RunStatus.completed
        if outcome is Outcome.blocked:
            with self.hub.store.transaction() as conn:
                self.runs.update(conn, run_id, now, status=RunStatus.waiting.value, current_step=run.blocking)
            return RunStatus.waiting
        return self.runs.get(run_id).status

    # -- ending waits ----------------------------------------------------------------------

    def end_wait(
        self,
        run: RunRecord,
        step_id: str,
        outputs: dict[str, Any],
        detail: str,
        status: StepStatus = StepStatus.done,
    ) -> bool:
        """Finish a waiting step with ``outputs`` unless something else already did."""
        now = self.now()
        with self.hub.store.transaction() as conn:
            ended = self.runs.update_if_waiting(
                conn,
                run.id,
                step_id,
                status=status.value,
                result=outputs,
                finished_at=now,
                deadline_at=None,
                remind_at=None,
            )
            if not ended:
                return False
            self.runs.store_output(conn, run.id, step_id, outputs, now)
            self.audit(conn, run.id, f"workflow:{run.workflow}", f"step.{status.value}", entity=run.workflow,
                       record_id=step_id, after={"step": step_id, "outputs": outputs})  # fmt: skip
        self.log.info("workflow wait ended", run_id=run.id, step=step_id, how=detail)
        self.notify(run.id, step_id, status.value, detail)
        return True

    def _poll_stream(
        self, connector: str, stream_name: str, items: list[tuple[RunRecord, StepRecord]]
    ) -> list[str]:
        since = min(step.started_at or self.now() for _run, step in items) - waits.POLL_MARGIN
        try:
            stream = self.hub.connector(connector).stream(stream_name)
            records = [raw for page in stream.read(since=since) for raw in page.records]
        except HubError as exc:
            self.log.warning("workflow poll failed", connector=connector, stream=stream_name, error=str(exc))
            return []
        ended: list[str] = []
        for run, step in items:
            waiting_on = step.waiting_on or {}
            spec = waiting_on["poll"]
            candidates = [r for r in records if str(get_path(r, spec["field"])) == waiting_on["value"]]
            for raw in reversed(candidates):  # the latest change first
                if self._poll_done(run, spec["until"], raw):
                    if self.end_wait(run, step.step_id, waits.record_outputs(waiting_on, raw), "poll"):
                        ended.append(run.id)
                    break
        return ended

    def _poll_get(self, run: RunRecord, step: StepRecord) -> list[str]:
        waiting_on = step.waiting_on or {}
        spec = waiting_on["poll"]
        try:
            raw = self.hub.connector(waiting_on["connector"]).get(spec["get"], waiting_on["value"])
        except HubError as exc:
            self.log.warning("workflow poll failed", run_id=run.id, step=step.step_id, error=str(exc))
            return []
        if self._poll_done(run, spec["until"], raw):
            if self.end_wait(run, step.step_id, waits.record_outputs(waiting_on, raw), "poll"):
                return [run.id]
        return []

    def _poll_done(self, run: RunRecord, until: str, record: dict[str, Any]) -> bool:
        state = RunState(run, self.definition(run), {}, dict(run.values))
        names = RunContext(self, state).names(record=json_safe(record))
        try:
            return parse(until).test(names)
        except ExpressionError as exc:
            self.log.warning("workflow poll condition failed", run_id=run.id, error=str(exc))
            return False

    def _time_out(self, run: RunRecord, step: StepRecord, now: datetime) -> bool:
        waiting_on = step.waiting_on or {}
        reason = f"timed out after {waiting_on.get('timeout')} waiting for {waits.describe(waiting_on)}"
        if any(child.label == "on_timeout" for child in self.definition(run).locate(step.step_id).children()):
            return self.end_wait(run, step.step_id, {"timed_out": True, "reason": reason}, reason, StepStatus.timed_out)
        with self.hub.store.transaction() as conn:
            if not self.runs.update_if_waiting(
                conn,
                run.id,
                step.step_id,
                status=StepStatus.failed.value,
                error=reason,
                finished_at=now,
                deadline_at=None,
                remind_at=None,
            ):
                return False
            self.runs.update(conn, run.id, now, status=RunStatus.failed.value, error=f"{step.step_id}: {reason}")
            self.audit(conn, run.id, f"workflow:{run.workflow}", "step.failed", entity=run.workflow,
                       record_id=step.step_id, after={"step": step.step_id, "error": reason})  # fmt: skip
        self.log.warning("workflow wait timed out", run_id=run.id, step=step.step_id, reason=reason)
        self.notify(run.id, step.step_id, StepStatus.failed.value, reason)
        return True

    def _remind(self, run: RunRecord, step: StepRecord, now: datetime) -> None:
        waiting_on = step.waiting_on or {}
        assert step.remind_at is not None
        every = parse_duration(waiting_on["remind_every"])
        next_at = step.remind_at
        while next_at <= now:  # reminders missed while the hub was down collapse into one
            next_at += every
        message = (
            waiting_on.get("reminder") or f"{run.workflow} is still waiting for {waits.describe(waiting_on)}"
        )
        with self.hub.store.transaction() as conn:
            if not self.runs.update_if_waiting(conn, run.id, step.step_id, remind_at=next_at):
                return
            since = step.started_at.isoformat() if step.started_at else None
            self.audit(conn, run.id, f"workflow:{run.workflow}", "reminder", entity=run.workflow,
                       record_id=step.step_id,
                       after={"step": step.step_id, "message": message, "waiting_since": since})  # fmt: skip
        self.log.warning("workflow reminder", run_id=run.id, step=step.step_id, message=message)
        self.notify(run.id, step.step_id, "reminder", message)

    # -- recording ---------------------------------------------------------------------------

    def audit(
        self,
        conn: Connection,
        run_id: str,
        actor: str,
        operation: str,
        *,
        system: str = "workflow",
        entity: str = "run",
        record_id: str | None = None,
        after: Any = None,
    ) -> None:
        self.hub.store.audit(
            conn,
            actor=actor,
            system=system,
            entity=entity,
            operation=operation,
            record_id=record_id,
            after=after,
            run_id=run_id,
        )

    def notify(self, run_id: str, step_id: str, status: str, detail: str) -> None:
        if self.on_step is not None:
            self.on_step(run_id, step_id, status, detail)

