"""Workflow runs and their steps in the state store (``workflow_runs``, ``workflow_steps``).

A run row holds the workflow's definition as it was when the run started, its inputs,
and the outputs of its finished steps (``values``, the names templates read). A step
row exists once the step was reached: its status, attempts, idempotency key, result,
what it waits on, and its deadline and next reminder. The engine changes both in one
transaction with the audit row that describes the change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hub.errors import ConfigError
from hub.state import tables as t
from hub.state.store import StateStore

__all__ = ["RunRecord", "RunStatus", "RunStore", "StepRecord", "StepStatus"]


class RunStatus(StrEnum):
    running = "running"  # being advanced, or interrupted while it was
    waiting = "waiting"  # blocked on an event or a person
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def final(self) -> bool:
        return self in (RunStatus.completed, RunStatus.cancelled)


class StepStatus(StrEnum):
    running = "running"  # side effect started; a retry reuses the idempotency key
    waiting = "waiting"
    done = "done"
    skipped = "skipped"
    timed_out = "timed_out"  # the wait gave up and its on_timeout steps ran instead
    failed = "failed"
    cancelled = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (StepStatus.done, StepStatus.skipped, StepStatus.timed_out)


@dataclass
class RunRecord:
    id: str
    workflow: str
    status: RunStatus
    inputs: dict[str, Any]
    values: dict[str, Any]
    current_step: str | None
    error: str | None
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> RunRecord:
        return cls(
            id=row.id,
            workflow=row.workflow,
            status=RunStatus(row.status),
            inputs=dict(row.inputs or {}),
            values=dict(row.values or {}),
            current_step=row.current_step,
            error=row.error,
            definition=dict(row.definition or {}),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@dataclass
class StepRecord:
    run_id: str
    step_id: str
    status: StepStatus
    attempts: int
    idempotency_key: str | None
    result: Any
    waiting_on: dict[str, Any] | None
    note: str | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime | None
    remind_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> StepRecord:
        return cls(
            run_id=row.run_id,
            step_id=row.step_id,
            status=StepStatus(row.status),
            attempts=row.attempts or 0,
            idempotency_key=row.idempotency_key,
            result=row.result,
            waiting_on=row.waiting_on,
            note=row.note,
            error=row.error,
            started_at=row.started_at,
            finished_at=row.finished_at,
            deadline_at=row.deadline_at,
            remind_at=row.remind_at,
        )


class RunStore:
    """Reads and writes of runs and steps; writes take the caller's transaction."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    # -- runs -------------------------------------------------------------------------

    def create(
        self,
        conn: Connection,
        run_id: str,
        workflow: str,
        inputs: dict[str, Any],
        definition: dict[str, Any],
        now: datetime,
    ) -> None:
        conn.execute(
            insert(t.workflow_runs).values(
                id=run_id,
                workflow=workflow,
                status=RunStatus.running.value,
                inputs=inputs,
                values={},
                current_step=None,
                error=None,
                definition=definition,
                created_at=now,
                updated_at=now,
            )
        )

    def get(self, run_id: str, conn: Connection | None = None) -> RunRecord:
        stmt = select(t.workflow_runs).where(t.workflow_runs.c.id == run_id)
        if conn is not None:
            row = conn.execute(stmt).first()
        else:
            with self.store.engine.connect() as c:
                row = c.execute(stmt).first()
        if row is None:
            raise ConfigError(f"no workflow run {run_id!r} (see hub workflow list)")
        return RunRecord.from_row(row)

    def resolve(self, prefix: str) -> str:
        """The full id of the run whose id is or starts with ``prefix`` (at least 4 characters)."""
        text = prefix.strip()
        if len(text) < 4:
            raise ConfigError(f"run id {prefix!r} is too short; give at least 4 characters")
        stmt = (
            select(t.workflow_runs.c.id)
            .where(t.workflow_runs.c.id.startswith(text, autoescape=True))
            .limit(2)
        )
        with self.store.engine.connect() as conn:
            ids = list(conn.execute(stmt).scalars())
        if not ids:
            raise ConfigError(f"no workflow run {prefix!r} (see hub workflow list)")
        if len(ids) > 1:
            raise ConfigError(f"run id {prefix!r} is ambiguous; give more characters")
        return str(ids[0])

    def update(self, conn: Connection, run_id: str, now: datetime, **values: Any) -> None:
        conn.execute(
            update(t.workflow_runs).where(t.workflow_runs.c.id == run_id).values(updated_at=now, **values)
        )

    def recent(
        self, status: str | None = None, workflow: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        stmt = select(t.workflow_runs).order_by(t.workflow_runs.c.created_at.desc()).limit(limit)
        if status:
            stmt = stmt.where(t.workflow_runs.c.status == status)
        if workflow:
            stmt = stmt.where(t.workflow_runs.c.workflow == workflow)
        with self.store.engine.connect() as conn:
            return [RunRecord.from_row(r) for r in conn.execute(stmt)]

    # -- steps ------------------------------------------------------------------------

    def steps(self, run_id: str, conn: Connection | None = None) -> dict[str, StepRecord]:
        stmt = select(t.workflow_steps).where(t.workflow_steps.c.run_id == run_id)
        if conn is not None:
            return {r.step_id: StepRecord.from_row(r) for r in conn.execute(stmt)}
        with self.store.engine.connect() as c:
            return {r.step_id: StepRecord.from_row(r) for r in c.execute(stmt)}

    def step(self, run_id: str, step_id: str, conn: Connection | None = None) -> StepRecord | None:
        stmt = select(t.workflow_steps).where(
            t.workflow_steps.c.run_id == run_id, t.workflow_steps.c.step_id == step_id
        )
        if conn is not None:
            row = conn.execute(stmt).first()
        else:
            with self.store.engine.connect() as c:
                row = c.execute(stmt).first()
        return StepRecord.from_row(row) if row is not None else None

    def store_output(self, conn: Connection, run_id: str, step_id: str, outputs: Any, now: datetime) -> None:
        """Add a step's outputs to the run's values, read and written in the caller's transaction."""
        values = conn.execute(
            select(t.workflow_runs.c["values"]).where(t.workflow_runs.c.id == run_id).with_for_update()
        ).scalar_one()
        merged = {**(values or {}), step_id: outputs}
        self.update(conn, run_id, now, values=merged)

    def save_step(self, conn: Connection, run_id: str, step_id: str, **values: Any) -> None:
        """Insert or update one step row."""
        where = (t.workflow_steps.c.run_id == run_id, t.workflow_steps.c.step_id == step_id)
        if not conn.execute(update(t.workflow_steps).where(*where).values(**values)).rowcount:
            conn.execute(
                insert(t.workflow_steps).values(run_id=run_id, step_id=step_id, **{"attempts": 0, **values})
            )

    def update_if_waiting(self, conn: Connection, run_id: str, step_id: str, **values: Any) -> bool:
        """Change a step only if it is still waiting (so one event, poll or person ends it once)."""
        return bool(
            conn.execute(
                update(t.workflow_steps)
                .where(
                    t.workflow_steps.c.run_id == run_id,
                    t.workflow_steps.c.step_id == step_id,
                    t.workflow_steps.c.status == StepStatus.waiting.value,
                )
                .values(**values)
            ).rowcount
        )

    def stranded_ids(self) -> list[str]:
        """Runs to pick up: interrupted while running, or waiting with nothing left to wait on."""
        r, s = t.workflow_runs, t.workflow_steps
        still_waiting = (
            select(s.c.run_id).where(s.c.run_id == r.c.id, s.c.status == StepStatus.waiting.value).exists()
        )
        stmt = (
            select(r.c.id)
            .where(
                (r.c.status == RunStatus.running.value)
                | ((r.c.status == RunStatus.waiting.value) & ~still_waiting)
            )
            .order_by(r.c.created_at)
        )
        with self.store.engine.connect() as conn:
            return [str(i) for i in conn.execute(stmt).scalars()]

    def waiting_steps(self) -> Iterator[tuple[RunRecord, StepRecord]]:
        """Every waiting step of every waiting run (the runs' status is indexed)."""
        r, s = t.workflow_runs, t.workflow_steps
        stmt = (
            select(r, *[c.label(f"step_{c.name}") for c in s.c])
            .select_from(r.join(s, s.c.run_id == r.c.id))
            .where(r.c.status == RunStatus.waiting.value, s.c.status == StepStatus.waiting.value)
            .order_by(r.c.created_at)
        )
        with self.store.engine.connect() as conn:
            rows = list(conn.execute(stmt))
        runs: dict[str, RunRecord] = {}
        for row in rows:
            run = runs.setdefault(row.id, RunRecord.from_row(row))
            step = _Prefixed(row._mapping, "step_")
            yield run, StepRecord.from_row(step)


class _Prefixed:
    """Attribute access to the ``step_``-labelled columns of a joined row."""

    def __init__(self, mapping: Any, prefix: str) -> None:
        self._mapping = mapping
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return self._mapping[self._prefix + name]
