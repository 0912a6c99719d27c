"""One run being advanced: its rows and values, the scope a step runs in, and how steps record.

A :class:`RunContext` is what a step handler sees. It walks steps (:meth:`walk`), reads
the names expressions may use (:meth:`names`), and records every change of a step in
one transaction with the run's values and an audit row (:meth:`finish`, :meth:`fail`,
:meth:`wait`, :meth:`mark_running`).

Scopes: a sub-workflow and each item of a ``foreach`` with ``steps`` run their steps
under a key prefix (``team.account_team``, ``billing[12].ask``), so one step of the
file has one row per use. Inside a scope ``steps.x`` reads the scope's own steps; an
item scope also sees the steps around it, a sub-workflow sees only its own (and its
own inputs, vars and templates).
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from hub.connector import ActionContext
from hub.errors import HubError
from hub.workflow.expr import ExpressionError, parse
from hub.workflow.kinds import handler
from hub.workflow.runs import RunRecord, RunStatus, StepRecord, StepStatus
from hub.workflow.steps.base import Outcome, first_line
from hub.workflow.waits import describe
from hub.workflow.writes import OutcomeUnknown, json_safe

if TYPE_CHECKING:
    from hub.workflow.definition import Step, WorkflowDefinition
    from hub.workflow.engine import WorkflowEngine

__all__ = ["RunContext", "RunState", "Scope", "person", "summary"]


@dataclass
class RunState:
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


@dataclass(frozen=True)
class Scope:
    """Where steps run: their key prefix and the names they read besides the run's."""

    prefix: str = ""
    inputs: Mapping[str, Any] | None = None
    vars: Mapping[str, Any] | None = None
    templates: Mapping[str, dict[str, Any]] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: whether the steps around the scope stay readable (an item: yes; a sub-workflow: no)
    outer: bool = True
    parent: Scope | None = None

    def step_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``steps`` as expressions in this scope read it."""
        base = self.parent.step_values(values) if self.parent is not None and self.outer else {}
        mine = {
            key[len(self.prefix) :]: value
            for key, value in values.items()
            if key.startswith(self.prefix) and not any(c in key[len(self.prefix) :] for c in ".[")
        }
        return {**base, **mine}


class RunContext:
    """A run of one engine, seen from one scope."""

    def __init__(self, engine: WorkflowEngine, run: RunState, scope: Scope | None = None) -> None:
        self.engine = engine
        self.run = run
        self.scope = scope or Scope(
            inputs=run.record.inputs, vars=run.definition.vars, templates=run.definition.templates
        )

    @property
    def hub(self) -> Any:
        return self.engine.hub

    def now(self) -> datetime:
        return self.engine.now()

    # -- scopes and names ---------------------------------------------------------------

    def scoped(
        self,
        prefix: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        definition: WorkflowDefinition | None = None,
        extra: Mapping[str, Any] | None = None,
        outer: bool = True,
    ) -> RunContext:
        """A context whose steps are keyed under ``prefix`` (a sub-workflow, a foreach item)."""
        s = self.scope
        scope = Scope(
            prefix=prefix,
            inputs=inputs if inputs is not None else s.inputs,
            vars=definition.vars if definition is not None else s.vars,
            templates=definition.templates if definition is not None else s.templates,
            extra={**(s.extra if outer else {}), **(extra or {})},
            outer=outer,
            parent=s,
        )
        return RunContext(self.engine, self.run, scope)

    def key(self, step: Step) -> str:
        """The step's row key in this scope."""
        return f"{self.scope.prefix}{step.id}"

    def names(self, **extra: Any) -> dict[str, Any]:
        """What expressions and templates may read."""
        record = self.run.record
        return {
            "inputs": dict(self.scope.inputs or {}),
            "steps": self.scope.step_values(self.run.values),
            "vars": dict(self.scope.vars or {}),
            "run": {
                "id": record.id,
                "workflow": record.workflow,
                "started_at": record.created_at.isoformat(),
                "timezone": self.hub.settings.timezone,
            },
            **self.scope.extra,
            **extra,
        }

    @property
    def templates(self) -> Mapping[str, dict[str, Any]]:
        return self.scope.templates or {}

    def step_outputs(self) -> dict[str, Any]:
        """The outputs of this scope's own finished steps, by step id."""
        return replace(self.scope, outer=False).step_values(self.run.values)

    # -- walking --------------------------------------------------------------------------

    def walk(self, steps: list[Step]) -> Outcome:
        """Run ``steps`` in order until one waits, fails or the run is cancelled."""
        for step in steps:
            key = self.key(step)
            rec = self.run.steps.get(key)
            status = rec.status if rec else None
            if status is StepStatus.waiting:
                self.block(key)
                return Outcome.blocked
            if status is StepStatus.cancelled:
                return Outcome.stopped
            if status is None or status in (StepStatus.running, StepStatus.failed):
                if self.engine.runs.get(self.run.id).status is RunStatus.cancelled:
                    return Outcome.stopped
                outcome = self._execute(step, rec)
                if outcome is not Outcome.proceed:
                    return outcome
                rec = self.run.steps[key]
            assert rec is not None  # the step was reached: it has a row
            nested = handler(step.kind).chosen(step.spec, rec)
            if nested:
                outcome = self.walk(nested)
                if outcome is not Outcome.proceed:
                    return outcome
        return Outcome.proceed

    def _execute(self, step: Step, rec: StepRecord | None) -> Outcome:
        try:
            if step.when is not None and not parse(step.when).test(self.names()):
                return self.finish(step, StepStatus.skipped, {"skipped": True}, f"skipped: {step.when} is false")
            return handler(step.kind).execute(self, step, rec)
        except ExpressionError as exc:
            return self.fail(step, f"expression error: {exc}")

    def block(self, key: str) -> None:
        """Note that the walk stopped at ``key`` (the first waiting step is the run's current one)."""
        if self.run.blocking is None:
            self.run.blocking = key

    # -- side effects ---------------------------------------------------------------------

    def action_context(self, connector: str, step_key: str) -> ActionContext:
        return ActionContext(
            run_id=self.run.id,
            step_id=step_key,
            documents_root=self.hub.settings.documents_root,
            state=self.hub.store.kv(f"connector:{connector}"),
        )

    def mark_running(self, step: Step, rec: StepRecord | None, key: str, **extra: Any) -> datetime:
        """Record, before any side effect, that the step runs under ``key`` (one more attempt);
        returns when the step first started."""
        now = self.now()
        started_at = rec.started_at if rec is not None and rec.started_at else now
        with self.hub.store.transaction() as conn:
            self.engine.runs.save_step(
                conn,
                self.run.id,
                self.key(step),
                status=StepStatus.running.value,
                attempts=(rec.attempts if rec else 0) + 1,
                idempotency_key=key,
                started_at=started_at,
                finished_at=None,
                error=None,
                **extra,
            )
            self.engine.runs.update(conn, self.run.id, now, status=RunStatus.running.value, current_step=self.key(step))
        self.refresh(self.key(step))
        return started_at

    def side_effect(
        self,
        step: Step,
        rec: StepRecord | None,
        effect: Callable[[ActionContext, bool, datetime], tuple[dict[str, Any], tuple[str, str, str]]],
        connector: str,
    ) -> Outcome:
        """Run one side effect under the step's idempotency key and record it.

        ``effect(action_context, retry, started_at)`` returns the outputs and the audit
        (system, entity, operation). A failure fails the step; anything that is not an
        Exception (a kill) leaves it ``running``, so it runs again with the same key.
        """
        key = self.key(step)
        ctx = self.action_context(connector, key)
        retry = rec is not None and rec.attempts > 0
        started_at = self.mark_running(step, rec, ctx.idempotency_key)
        self.notify(key, StepStatus.running.value, "retrying" if retry else "")
        try:
            outputs, (system, entity, operation) = effect(ctx, retry, started_at)
        except OutcomeUnknown as exc:
            return self.fail(step, str(exc), result={"unverified": True})
        except HubError as exc:
            return self.fail(step, str(exc))
        except ExpressionError as exc:
            return self.fail(step, f"expression error: {exc}")
        except Exception as exc:  # a connector bug fails this run, not the process
            self.engine.log.exception("workflow step raised", run_id=self.run.id, step=key)
            return self.fail(step, f"internal error: {type(exc).__name__}: {first_line(exc)}")
        record_id = outputs.get("id")
        return self.finish(
            step,
            StepStatus.done,
            outputs,
            summary(outputs),
            audit=(system, entity, operation, None if record_id is None else str(record_id)),
        )

    # -- recording ------------------------------------------------------------------------

    def refresh(self, key: str) -> None:
        rec = self.engine.runs.step(self.run.id, key)
        if rec is not None:
            self.run.steps[key] = rec
            if rec.status.finished:  # the outputs stored with the run's values, skipped ones too
                self.run.values[key] = rec.result

    def save(self, step: Step, **values: Any) -> None:
        """Change the step's row (its progress) in a transaction of its own."""
        with self.hub.store.transaction() as conn:
            self.engine.runs.save_step(conn, self.run.id, self.key(step), **values)
        self.refresh(self.key(step))

    def finish(
        self,
        step: Step,
        status: StepStatus,
        outputs: dict[str, Any],
        detail: str,
        audit: tuple[str, str, str, str | None] | None = None,
    ) -> Outcome:
        key = self.key(step)
        now = self.now()
        outputs = json_safe(outputs)
        with self.hub.store.transaction() as conn:
            self.engine.runs.save_step(
                conn,
                self.run.id,
                key,
                status=status.value,
                result=outputs,
                finished_at=now,
                error=None,
                **({} if self.run.steps.get(key) else {"started_at": now}),
            )
            self.engine.runs.store_output(conn, self.run.id, key, outputs, now)
            if audit is not None:
                system, entity, operation, record_id = audit
            else:
                system, entity, operation, record_id = "workflow", self.run.record.workflow, f"step.{status.value}", key
            self.audit(conn, operation, system=system, entity=entity, record_id=record_id,
                       after={"step": key, "outputs": outputs})  # fmt: skip
        self.refresh(key)
        self.engine.log.info("workflow step finished", run_id=self.run.id, step=key, status=status.value, detail=detail)
        self.notify(key, status.value, detail)
        return Outcome.proceed

    def fail(self, step: Step, reason: str, result: dict[str, Any] | None = None) -> Outcome:
        key = self.key(step)
        now = self.now()
        with self.hub.store.transaction() as conn:
            self.engine.runs.save_step(
                conn,
                self.run.id,
                key,
                status=StepStatus.failed.value,
                error=reason,
                result=result,
                finished_at=now,
                **({} if self.run.steps.get(key) else {"started_at": now}),
            )
            self.engine.runs.update(
                conn, self.run.id, now, status=RunStatus.failed.value, error=f"{key}: {reason}", current_step=key
            )
            self.audit(conn, "step.failed", entity=self.run.record.workflow, record_id=key,
                       after={"step": key, "error": reason})  # fmt: skip
        self.refresh(key)
        self.engine.log.warning("workflow step failed", run_id=self.run.id, step=key, reason=reason)
        self.notify(key, StepStatus.failed.value, reason)
        return Outcome.failed

    def wait(self, step: Step, waiting_on: dict[str, Any], deadlines: dict[str, Any]) -> None:
        """The step now waits on ``waiting_on`` (an event, a person), with its deadlines."""
        key = self.key(step)
        now = self.now()
        with self.hub.store.transaction() as conn:
            self.engine.runs.save_step(
                conn,
                self.run.id,
                key,
                status=StepStatus.waiting.value,
                attempts=1,
                waiting_on=json_safe(waiting_on),
                started_at=now,
                finished_at=None,
                error=None,
                **deadlines,
            )
            self.engine.runs.update(conn, self.run.id, now, status=RunStatus.waiting.value, current_step=key)
            self.audit(conn, "step.waiting", entity=self.run.record.workflow, record_id=key,
                       after={"step": key, "waiting_on": json_safe(waiting_on)})  # fmt: skip
        self.refresh(key)
        self.engine.log.info("workflow step waiting", run_id=self.run.id, step=key, on=describe(waiting_on))
        self.notify(key, StepStatus.waiting.value, describe(waiting_on))

    def audit(
        self,
        conn: Connection,
        operation: str,
        *,
        system: str = "workflow",
        entity: str = "run",
        record_id: str | None = None,
        after: Any = None,
    ) -> None:
        self.engine.audit(conn, self.run.id, self.run.actor, operation, system=system, entity=entity,
                          record_id=record_id, after=after)  # fmt: skip

    def notify(self, key: str, status: str, detail: str) -> None:
        self.engine.notify(self.run.id, key, status, detail)


def person() -> str:
    """The person at the terminal, for the audit log (``user:NAME``)."""
    try:
        return f"user:{getpass.getuser()}"
    except (KeyError, OSError):
        return "user:unknown"


def summary(outputs: Mapping[str, Any]) -> str:
    """One line about a side effect's outputs."""
    if outputs.get("recovered"):
        return f"id {outputs.get('id')} (found the record of an interrupted attempt)"
    if outputs.get("id") is not None:
        return f"id {outputs['id']}"
    return ", ".join(f"{k}={v}" for k, v in list(outputs.items())[:3] if not isinstance(v, dict | list))

