"""The workflow engine: runs an MSP procedure step by step, durably.

A run is advanced by walking its definition (the copy stored when it started) from
the top: finished steps are passed over, the first unfinished one is executed, and the
walk stops at a step that waits for an event or a person, at a failure, or at the end.
Nothing about the walk lives in memory between calls, so any process can continue any
run: after a crash, ``resume`` (or the next ``tick``) simply walks it again.

Side effects are made idempotent per step. Before an ``action`` or ``write`` runs, its
step row is committed as ``running`` with the idempotency key ``<run id>:<step id>``;
after it succeeded, its outputs, the run's values and an audit row are committed
together. A step found ``running`` was interrupted: it runs again with the same key, and
the connector's action finds its earlier side effect by that key (a write finds its
record, see :mod:`hub.workflow.writes`). A finished step is never run again.

Waits end through :meth:`WorkflowEngine.handle_event` (webhooks), :meth:`poll` (vendors
or set-ups without webhooks), :meth:`confirm` (a person), or :meth:`tick` (timeouts).
They are durable and uncapped: a signature may take weeks.
"""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import Connection

from hub.connector import ActionContext, Event, parse_timestamp
from hub.errors import ConfigError, HubError
from hub.logging import get_logger
from hub.mapping import get_path
from hub.state.store import JobLocked
from hub.workflow import waits
from hub.workflow.definition import (
    LOOP_NAME,
    ActionSpec,
    ManualSpec,
    Step,
    StepKind,
    WaitSpec,
    WorkflowDefinition,
    coerce_inputs,
    parse_duration,
)
from hub.workflow.expr import ExpressionError, parse
from hub.workflow.library import WorkflowLibrary
from hub.workflow.lint import require_runnable
from hub.workflow.runs import RunRecord, RunStatus, RunStore, StepRecord, StepStatus
from hub.workflow.template import render
from hub.workflow.writes import OutcomeUnknown, WriteRunner, json_safe

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["StepListener", "WorkflowEngine"]

#: called as each step changes: (run id, step id, new status, one-line detail)
StepListener = Callable[[str, str, str, str], None]


class _Outcome(Enum):
    proceed = "proceed"  # the steps walked so far are finished
    blocked = "blocked"  # a step waits for an event or a person
    failed = "failed"
    stopped = "stopped"  # the run was cancelled while it was being advanced


@dataclass
class _Run:
    """One run being advanced: its row, its definition, its step rows and values."""

    record: RunRecord
    definition: WorkflowDefinition
    steps: dict[str, StepRecord]
    values: dict[str, Any] = field(default_factory=dict)
    blocking: str | None = None

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def actor(self) -> str:
        return f"workflow:{self.record.workflow}"

    def names(self, **extra: Any) -> dict[str, Any]:
        """What expressions and templates may read."""
        return {
            "inputs": self.record.inputs,
            "steps": self.values,
            "vars": self.definition.vars,
            "run": {
                "id": self.record.id,
                "workflow": self.record.workflow,
                "started_at": self.record.created_at.isoformat(),
            },
            **extra,
        }


class WorkflowEngine:
    """Starts, advances and resumes workflow runs of one :class:`hub.app.Hub`."""

    def __init__(
        self,
        hub: Hub,
        *,
        library: WorkflowLibrary | None = None,
        on_step: StepListener | None = None,
    ) -> None:
        self.hub = hub
        self.runs = RunStore(hub.store)
        self._library = library
        self.on_step = on_step
        self.log = get_logger("hub.workflow")

    @property
    def library(self) -> WorkflowLibrary:
        if self._library is None:
            self._library = WorkflowLibrary(
                self.hub.plugins.dirs("hub_workflow_dirs"), self.hub.settings.workflows_dir
            )
        return self._library

    def now(self) -> datetime:
        return self.hub.clock.now()

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
            self._audit(
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
            self._audit(conn, run_id, actor or _person(), "run.resumed", record_id=run_id)
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

        ``values`` become the step's outputs; for a manual step they are checked against
        its declared ``fields``. A failed step confirmed by hand lets its run go on.
        """
        run = self.runs.get(run_id)
        if run.status.final:
            raise ConfigError(f"run {run_id} is {run.status.value}; nothing to confirm")
        definition = WorkflowDefinition.from_snapshot(run.definition)
        step = definition.step(step_id)
        rec = self.runs.step(run_id, step_id)
        if rec is None or rec.status not in (StepStatus.waiting, StepStatus.failed):
            state = rec.status.value if rec else "not reached yet"
            raise ConfigError(f"step {step_id} is {state}; only a waiting or failed step can be confirmed")
        given = dict(values or {})
        outputs: dict[str, Any] = (
            coerce_inputs(step.manual.fields, given, what="field") if step.manual is not None else given
        )
        who = actor or _person()
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
            self._audit(
                conn,
                run_id,
                who,
                "step.confirmed",
                system="workflow",
                entity=run.workflow,
                record_id=step_id,
                after={"step": step_id, "note": note, "values": json_safe(given)},
            )
        self._notify(
            run_id, step_id, StepStatus.done.value, f"confirmed by {who}" + (f": {note}" if note else "")
        )
        return self.advance(run_id)

    def cancel(self, run_id: str, reason: str | None = None, actor: str | None = None) -> None:
        """Stop a run for good; its waiting steps stop waiting."""
        run = self.runs.get(run_id)
        if run.status.final:
            raise ConfigError(f"run {run_id} is already {run.status.value}")
        now = self.now()
        why = reason or "cancelled"
        who = actor or _person()
        with self.hub.store.transaction() as conn:
            for rec in self.runs.steps(run_id, conn).values():
                if rec.status in (StepStatus.waiting, StepStatus.running):
                    self.runs.save_step(
                        conn, run_id, rec.step_id, status=StepStatus.cancelled.value, finished_at=now
                    )
            self.runs.update(conn, run_id, now, status=RunStatus.cancelled.value, error=why)
            self._audit(conn, run_id, who, "run.cancelled", record_id=run_id, after={"reason": why})
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
            if self._end_wait(run, step.step_id, waits.event_outputs(event), detail) and run.id not in ended:
                ended.append(run.id)
        for run_id in ended:
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

    def _load(self, run_id: str) -> _Run:
        record = self.runs.get(run_id)
        steps = self.runs.steps(run_id)
        return _Run(record, self.definition(record), steps, dict(record.values))

    def _advance(self, run_id: str) -> RunStatus:
        run = self._load(run_id)
        if run.record.status not in (RunStatus.running, RunStatus.waiting):
            return run.record.status
        outcome = self._walk(run, run.definition.steps)
        now = self.now()
        if outcome is _Outcome.proceed:
            with self.hub.store.transaction() as conn:
                self.runs.update(
                    conn, run_id, now, status=RunStatus.completed.value, current_step=None, error=None
                )
                self._audit(conn, run_id, run.actor, "run.completed", record_id=run_id)
            self.log.info("workflow run completed", run_id=run_id, workflow=run.record.workflow)
            return RunStatus.completed
        if outcome is _Outcome.blocked:
            with self.hub.store.transaction() as conn:
                self.runs.update(conn, run_id, now, status=RunStatus.waiting.value, current_step=run.blocking)
            return RunStatus.waiting
        return self.runs.get(run_id).status

    def _walk(self, run: _Run, steps: list[Step]) -> _Outcome:
        for step in steps:
            rec = run.steps.get(step.id)
            status = rec.status if rec else None
            if status is StepStatus.waiting:
                run.blocking = step.id
                return _Outcome.blocked
            if status is StepStatus.cancelled:
                return _Outcome.stopped
            if status is None or status in (StepStatus.running, StepStatus.failed):
                if self.runs.get(run.id).status is RunStatus.cancelled:
                    return _Outcome.stopped
                outcome = self._execute(run, step, rec)
                if outcome is not _Outcome.proceed:
                    return outcome
            nested = self._chosen(step, run.steps[step.id])
            if nested:
                outcome = self._walk(run, nested)
                if outcome is not _Outcome.proceed:
                    return outcome
        return _Outcome.proceed

    @staticmethod
    def _chosen(step: Step, rec: StepRecord) -> list[Step]:
        """The nested steps that run after ``step``: the branch taken, or on_timeout."""
        if step.branch is not None and rec.status is StepStatus.done:
            return step.branch.then if (rec.result or {}).get("taken") == "then" else step.branch.else_
        if rec.status is StepStatus.timed_out:
            spec = step.wait or step.manual
            return list(spec.on_timeout or []) if spec else []
        return []

    def _execute(self, run: _Run, step: Step, rec: StepRecord | None) -> _Outcome:
        names = run.names()
        try:
            if step.when is not None and not parse(step.when).test(names):
                return self._finish(
                    run, step, StepStatus.skipped, {"skipped": True}, f"skipped: {step.when} is false"
                )
            kind = step.kind
            if kind in (StepKind.action, StepKind.write):
                return self._side_effect(run, step, rec, names)
            if kind is StepKind.foreach:
                return self._foreach(run, step, rec, names)
            if kind is StepKind.check:
                return self._check(run, step, names)
            if kind is StepKind.branch:
                assert step.branch is not None
                taken = "then" if parse(step.branch.if_).test(names) else "else"
                return self._finish(run, step, StepStatus.done, {"taken": taken}, f"took {taken}")
            if kind is StepKind.fail:
                return self._fail(run, step, str(render(step.fail, names)))
            if kind is StepKind.wait:
                assert step.wait is not None
                return self._begin_wait(run, step, step.wait, names)
            assert step.manual is not None
            return self._begin_manual(run, step, step.manual, names)
        except ExpressionError as exc:
            return self._fail(run, step, f"expression error: {exc}")

    def _check(self, run: _Run, step: Step, names: dict[str, Any]) -> _Outcome:
        spec = step.check
        assert spec is not None
        if parse(spec.that).test(names):
            return self._finish(run, step, StepStatus.done, {"passed": True}, "passed")
        reason = str(render(spec.message, names) or "") or f"check failed: {spec.that}"
        if spec.on_fail == "fail":
            return self._fail(run, step, reason)
        return self._finish(
            run, step, StepStatus.done, {"passed": False, "reason": reason}, f"not passed: {reason}"
        )

    # -- side effects ------------------------------------------------------------------------

    def _mark_running(
        self, run: _Run, step: Step, rec: StepRecord | None, key: str, **extra: Any
    ) -> datetime:
        """Record, before any side effect, that the step runs under ``key`` (one more attempt);
        returns when the step first started."""
        now = self.now()
        started_at = rec.started_at if rec is not None and rec.started_at else now
        with self.hub.store.transaction() as conn:
            self.runs.save_step(
                conn,
                run.id,
                step.id,
                status=StepStatus.running.value,
                attempts=(rec.attempts if rec else 0) + 1,
                idempotency_key=key,
                started_at=started_at,
                finished_at=None,
                error=None,
                **extra,
            )
            self.runs.update(conn, run.id, now, status=RunStatus.running.value, current_step=step.id)
        return started_at

    def _side_effect(self, run: _Run, step: Step, rec: StepRecord | None, names: dict[str, Any]) -> _Outcome:
        target = step.action or step.write
        assert target is not None
        connector = target.connector
        ctx = ActionContext(
            run_id=run.id,
            step_id=step.id,
            documents_root=self.hub.settings.documents_root,
            state=self.hub.store.kv(f"connector:{connector}"),
        )
        retry = rec is not None and rec.attempts > 0
        started_at = self._mark_running(run, step, rec, ctx.idempotency_key)
        self._notify(run.id, step.id, StepStatus.running.value, "retrying" if retry else "")
        try:
            if step.action is not None:
                outputs = self._run_action(step.action, names, ctx)
                audit = (step.action.connector, step.action.name, "action", outputs.get("id"))
            else:
                assert step.write is not None
                spec = step.write
                outputs = WriteRunner(self.hub, run.actor).run(
                    spec, names, run.definition.templates, retry=retry, started_at=started_at
                )
                audit = (spec.connector, spec.entity, spec.op, outputs.get("id"))
        except OutcomeUnknown as exc:
            return self._fail(run, step, str(exc), result={"unverified": True})
        except HubError as exc:
            return self._fail(run, step, str(exc))
        except Exception as exc:  # a connector bug fails this run, not the process
            self.log.exception("workflow step raised", run_id=run.id, step=step.id)
            first = (str(exc).splitlines() or [""])[0]
            return self._fail(run, step, f"internal error: {type(exc).__name__}: {first}")
        # Anything else (a kill, KeyboardInterrupt) leaves the step running: retried with its key.
        system, entity, operation, record_id = audit
        return self._finish(
            run,
            step,
            StepStatus.done,
            outputs,
            _summary(outputs),
            audit=(system, entity, operation, None if record_id is None else str(record_id)),
        )

    def _foreach(self, run: _Run, step: Step, rec: StepRecord | None, names: dict[str, Any]) -> _Outcome:
        """One side effect per item, each committed before the next begins.

        The step row's result holds the progress: the items (evaluated once), the outputs
        of the finished ones by key, and the item under way (``current``, with when it
        began). An item found under way was interrupted and runs again with the same
        idempotency key (``<run id>:<step id>[<key>]``) and the write's recovery; a
        finished item never runs again. A failed item fails the step with the progress
        kept, so ``resume`` continues where it stopped.
        """
        spec = step.foreach
        assert spec is not None
        progress = dict(rec.result) if rec is not None and isinstance(rec.result, dict) else {}
        if "items" not in progress:
            items = render(spec.items, names)
            if not isinstance(items, list):
                return self._fail(run, step, f"foreach: items is {type(items).__name__}, not a list")
            keys = [str(render(spec.key, {**names, LOOP_NAME: i}) if spec.key else n) for n, i in enumerate(items)]
            if len(set(keys)) != len(keys):
                return self._fail(run, step, "foreach: two items have the same key")
            progress = {"items": json_safe(items), "keys": keys, "done": {}, "current": None}
        self._mark_running(run, step, rec, f"{run.id}:{step.id}", result=progress)
        for item, key in zip(progress["items"], progress["keys"], strict=True):
            if key in progress["done"]:
                continue
            try:
                left_out = spec.when is not None and not parse(spec.when).test({**names, LOOP_NAME: item})
            except ExpressionError as exc:
                return self._fail(run, step, f"item {key}: expression error: {exc}", result=json_safe(progress))
            if left_out:
                progress["done"][key] = {"skipped": True}
                continue
            outcome = self._foreach_item(run, step, progress, item, key, names)
            if outcome is not _Outcome.proceed:
                return outcome
        results = [{"key": k, **progress["done"][k]} for k in progress["keys"]]
        count = sum(1 for r in results if not r.get("skipped"))
        outputs = {"count": count, "skipped": len(results) - count, "results": results}
        return self._finish(run, step, StepStatus.done, outputs, f"{count} item(s), {len(results) - count} left out")

    def _foreach_item(
        self, run: _Run, step: Step, progress: dict[str, Any], item: Any, key: str, names: dict[str, Any]
    ) -> _Outcome:
        spec = step.foreach
        assert spec is not None
        current = progress.get("current") or {}
        interrupted = current.get("key") == key
        retry = interrupted and not current.get("unverified")
        started_at = parse_timestamp(current.get("started_at")) if interrupted else None
        started_at = started_at or self.now()
        progress["current"] = {"key": key, "started_at": started_at.isoformat()}
        with self.hub.store.transaction() as conn:
            self.runs.save_step(conn, run.id, step.id, result=json_safe(progress))
        item_names = {**names, LOOP_NAME: item}
        item_step = f"{step.id}[{key}]"
        target = spec.action or spec.write
        assert target is not None
        ctx = ActionContext(
            run_id=run.id,
            step_id=item_step,
            documents_root=self.hub.settings.documents_root,
            state=self.hub.store.kv(f"connector:{target.connector}"),
        )
        try:
            if spec.action is not None:
                outputs = self._run_action(spec.action, item_names, ctx)
                audit = (spec.action.connector, spec.action.name, "action", outputs.get("id"))
            else:
                assert spec.write is not None
                outputs = WriteRunner(self.hub, run.actor).run(
                    spec.write, item_names, run.definition.templates, retry=retry, started_at=started_at
                )
                audit = (spec.write.connector, spec.write.entity, spec.write.op, outputs.get("id"))
        except ExpressionError as exc:
            return self._fail(run, step, f"item {key}: expression error: {exc}", result=json_safe(progress))
        except OutcomeUnknown as exc:
            progress["current"] = {**progress["current"], "unverified": True}
            return self._fail(run, step, f"item {key}: {exc}", result=json_safe(progress))
        except HubError as exc:
            return self._fail(run, step, f"item {key}: {exc}", result=json_safe(progress))
        except Exception as exc:  # a connector bug fails this run, not the process
            self.log.exception("workflow step raised", run_id=run.id, step=item_step)
            first = (str(exc).splitlines() or [""])[0]
            return self._fail(
                run, step, f"item {key}: internal error: {type(exc).__name__}: {first}", result=json_safe(progress)
            )
        progress["done"][key] = json_safe(outputs)
        progress["current"] = None
        system, entity, operation, record_id = audit
        with self.hub.store.transaction() as conn:
            self.runs.save_step(conn, run.id, step.id, result=json_safe(progress))
            self._audit(conn, run.id, run.actor, operation, system=system, entity=entity,
                        record_id=None if record_id is None else str(record_id),
                        after={"step": item_step, "outputs": progress["done"][key]})  # fmt: skip
        self._notify(run.id, step.id, "item", f"{key}: {_summary(outputs)}")
        return _Outcome.proceed

    def _run_action(self, spec: ActionSpec, names: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        action = self.hub.connector(spec.connector).action(spec.name)
        raw = render(spec.with_, names)
        try:
            params = action.params.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err.get("loc", ()))
            raise ConfigError(f"{spec.connector}.{spec.name}: with.{where}: {err.get('msg')}") from None
        result = action.run(params, ctx)
        if not isinstance(result, dict):
            raise ConfigError(f"{spec.connector}.{spec.name} returned {type(result).__name__}, not a mapping")
        return dict(json_safe(result))

    # -- waits -----------------------------------------------------------------------------------

    def _deadlines(self, spec: WaitSpec | ManualSpec, now: datetime) -> dict[str, Any]:
        return {
            "deadline_at": now + parse_duration(spec.timeout) if spec.timeout else None,
            "remind_at": now + parse_duration(spec.remind_every) if spec.remind_every else None,
        }

    def _begin_wait(self, run: _Run, step: Step, spec: WaitSpec, names: dict[str, Any]) -> _Outcome:
        value = render(spec.value, names)
        if value is None or value == "":
            return self._fail(run, step, f"the value to wait for ({spec.value}) is empty")
        waiting_on = {
            "type": "event",
            "connector": spec.connector,
            "events": spec.events,
            "key": spec.key,
            "value": str(value),
            "poll": spec.poll.model_dump(exclude_none=True) if spec.poll else None,
            "timeout": spec.timeout,
            "remind_every": spec.remind_every,
            "reminder": str(render(spec.reminder, names) or ""),
        }
        self._wait(run, step, waiting_on, self._deadlines(spec, self.now()))
        early = waits.stored_event(self.hub.store, waiting_on, run.record.created_at)
        if early is not None:
            detail = f"{early.connector} {early.type} {early.id} (received before the wait)"
            self._end_wait(run.record, step.id, waits.event_outputs(early), detail)
            self._refresh(run, step.id)
            return _Outcome.proceed
        run.blocking = step.id
        return _Outcome.blocked

    def _begin_manual(self, run: _Run, step: Step, spec: ManualSpec, names: dict[str, Any]) -> _Outcome:
        waiting_on = {
            "type": "manual",
            "instructions": str(render(spec.instructions, names)),
            "fields": {k: v.model_dump(mode="json", exclude_none=True) for k, v in spec.fields.items()},
            "timeout": spec.timeout,
            "remind_every": spec.remind_every,
            "reminder": str(render(spec.reminder, names) or ""),
        }
        self._wait(run, step, waiting_on, self._deadlines(spec, self.now()))
        run.blocking = step.id
        return _Outcome.blocked

    def _wait(self, run: _Run, step: Step, waiting_on: dict[str, Any], deadlines: dict[str, Any]) -> None:
        now = self.now()
        with self.hub.store.transaction() as conn:
            self.runs.save_step(
                conn,
                run.id,
                step.id,
                status=StepStatus.waiting.value,
                attempts=1,
                waiting_on=json_safe(waiting_on),
                started_at=now,
                finished_at=None,
                error=None,
                **deadlines,
            )
            self.runs.update(conn, run.id, now, status=RunStatus.waiting.value, current_step=step.id)
            self._audit(
                conn,
                run.id,
                run.actor,
                "step.waiting",
                system="workflow",
                entity=run.record.workflow,
                record_id=step.id,
                after={"step": step.id, "waiting_on": json_safe(waiting_on)},
            )
        self._refresh(run, step.id)
        self.log.info("workflow step waiting", run_id=run.id, step=step.id, on=waits.describe(waiting_on))
        self._notify(run.id, step.id, StepStatus.waiting.value, waits.describe(waiting_on))

    def _end_wait(
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
            self._audit(
                conn,
                run.id,
                f"workflow:{run.workflow}",
                f"step.{status.value}",
                system="workflow",
                entity=run.workflow,
                record_id=step_id,
                after={"step": step_id, "outputs": outputs},
            )
        self.log.info("workflow wait ended", run_id=run.id, step=step_id, how=detail)
        self._notify(run.id, step_id, status.value, detail)
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
                    if self._end_wait(run, step.step_id, waits.record_outputs(waiting_on, raw), "poll"):
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
            if self._end_wait(run, step.step_id, waits.record_outputs(waiting_on, raw), "poll"):
                return [run.id]
        return []

    def _poll_done(self, run: RunRecord, until: str, record: dict[str, Any]) -> bool:
        names = _Run(run, self.definition(run), {}, dict(run.values)).names(record=json_safe(record))
        try:
            return parse(until).test(names)
        except ExpressionError as exc:
            self.log.warning("workflow poll condition failed", run_id=run.id, error=str(exc))
            return False

    def _time_out(self, run: RunRecord, step: StepRecord, now: datetime) -> bool:
        waiting_on = step.waiting_on or {}
        reason = f"timed out after {waiting_on.get('timeout')} waiting for {waits.describe(waiting_on)}"
        definition = self.definition(run)
        spec = definition.step(step.step_id)
        waiting = spec.wait or spec.manual
        if waiting is not None and waiting.on_timeout:
            return self._end_wait(
                run, step.step_id, {"timed_out": True, "reason": reason}, reason, StepStatus.timed_out
            )
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
            self.runs.update(
                conn, run.id, now, status=RunStatus.failed.value, error=f"{step.step_id}: {reason}"
            )
            self._audit(
                conn,
                run.id,
                f"workflow:{run.workflow}",
                "step.failed",
                system="workflow",
                entity=run.workflow,
                record_id=step.step_id,
                after={"step": step.step_id, "error": reason},
            )
        self.log.warning("workflow wait timed out", run_id=run.id, step=step.step_id, reason=reason)
        self._notify(run.id, step.step_id, StepStatus.failed.value, reason)
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
            self._audit(
                conn,
                run.id,
                f"workflow:{run.workflow}",
                "reminder",
                system="workflow",
                entity=run.workflow,
                record_id=step.step_id,
                after={"step": step.step_id, "message": message, "waiting_since": _iso(step.started_at)},
            )
        self.log.warning("workflow reminder", run_id=run.id, step=step.step_id, message=message)
        self._notify(run.id, step.step_id, "reminder", message)

    # -- recording ---------------------------------------------------------------------------------

    def _refresh(self, run: _Run, step_id: str) -> None:
        rec = self.runs.step(run.id, step_id)
        if rec is not None:
            run.steps[step_id] = rec
            if rec.status in (StepStatus.done, StepStatus.timed_out):
                run.values[step_id] = rec.result

    def _finish(
        self,
        run: _Run,
        step: Step,
        status: StepStatus,
        outputs: dict[str, Any],
        detail: str,
        audit: tuple[str, str, str, str | None] | None = None,
    ) -> _Outcome:
        now = self.now()
        outputs = json_safe(outputs)
        with self.hub.store.transaction() as conn:
            self.runs.save_step(
                conn,
                run.id,
                step.id,
                status=status.value,
                result=outputs,
                finished_at=now,
                error=None,
                **({} if run.steps.get(step.id) else {"started_at": now}),
            )
            self.runs.store_output(conn, run.id, step.id, outputs, now)
            if audit is not None:
                system, entity, operation, record_id = audit
                self._audit(
                    conn,
                    run.id,
                    run.actor,
                    operation,
                    system=system,
                    entity=entity,
                    record_id=record_id,
                    after={"step": step.id, "outputs": outputs},
                )
            else:
                self._audit(
                    conn,
                    run.id,
                    run.actor,
                    f"step.{status.value}",
                    system="workflow",
                    entity=run.record.workflow,
                    record_id=step.id,
                    after={"step": step.id, "outputs": outputs},
                )
        self._refresh(run, step.id)
        self.log.info(
            "workflow step finished", run_id=run.id, step=step.id, status=status.value, detail=detail
        )
        self._notify(run.id, step.id, status.value, detail)
        return _Outcome.proceed

    def _fail(self, run: _Run, step: Step, reason: str, result: dict[str, Any] | None = None) -> _Outcome:
        now = self.now()
        with self.hub.store.transaction() as conn:
            self.runs.save_step(
                conn,
                run.id,
                step.id,
                status=StepStatus.failed.value,
                error=reason,
                result=result,
                finished_at=now,
                **({} if run.steps.get(step.id) else {"started_at": now}),
            )
            self.runs.update(
                conn,
                run.id,
                now,
                status=RunStatus.failed.value,
                error=f"{step.id}: {reason}",
                current_step=step.id,
            )
            self._audit(
                conn,
                run.id,
                run.actor,
                "step.failed",
                system="workflow",
                entity=run.record.workflow,
                record_id=step.id,
                after={"step": step.id, "error": reason},
            )
        self._refresh(run, step.id)
        self.log.warning("workflow step failed", run_id=run.id, step=step.id, reason=reason)
        self._notify(run.id, step.id, StepStatus.failed.value, reason)
        return _Outcome.failed

    def _audit(
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

    def _notify(self, run_id: str, step_id: str, status: str, detail: str) -> None:
        if self.on_step is not None:
            self.on_step(run_id, step_id, status, detail)


def _person() -> str:
    try:
        return f"user:{getpass.getuser()}"
    except (KeyError, OSError):
        return "user:unknown"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _summary(outputs: Mapping[str, Any]) -> str:
    if outputs.get("recovered"):
        return f"id {outputs.get('id')} (found the record of an interrupted attempt)"
    if outputs.get("id") is not None:
        return f"id {outputs['id']}"
    return ", ".join(f"{k}={v}" for k, v in list(outputs.items())[:3] if not isinstance(v, dict | list))
