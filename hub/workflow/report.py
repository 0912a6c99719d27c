"""A run as a checklist: what is done, what it waits on, what failed and why, what is next.

Built from the run's stored definition and its step rows, so it also shows the steps
not reached yet, and the ones a branch did not take.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from hub.workflow.definition import Step, WorkflowDefinition
from hub.workflow.runs import RunRecord, RunStatus, StepRecord, StepStatus
from hub.workflow.waits import describe

__all__ = ["ChecklistItem", "checklist", "run_summary", "run_view"]


@dataclass
class ChecklistItem:
    id: str
    title: str
    kind: str
    depth: int
    #: done, skipped, not_taken, waiting, running, failed, timed_out, cancelled, next, pending
    state: str
    detail: str
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    deadline_at: str | None = None
    outputs: Any = None
    waiting_on: dict[str, Any] | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _detail(step: Step, rec: StepRecord) -> str:
    status = rec.status
    if status is StepStatus.waiting:
        since = f" since {rec.started_at:%Y-%m-%d %H:%M} UTC" if rec.started_at else ""
        until = f", times out {rec.deadline_at:%Y-%m-%d %H:%M} UTC" if rec.deadline_at else ""
        return f"waiting for {describe(rec.waiting_on)}{since}{until}"
    if status in (StepStatus.failed, StepStatus.cancelled):
        return rec.error or status.value
    result = rec.result if isinstance(rec.result, dict) else {}
    if status is StepStatus.skipped:
        return f"skipped: {step.when} is false" if step.when else "skipped"
    if status is StepStatus.timed_out:
        return str(result.get("reason", "timed out"))
    if status is StepStatus.running:
        return f"in progress (attempt {rec.attempts})"
    if result.get("confirmed"):
        who = result.get("confirmed_by") or "a person"
        return f"confirmed by {who}" + (f": {rec.note}" if rec.note else "")
    if step.branch is not None:
        return f"took {result.get('taken')}"
    if step.check is not None:
        return "passed" if result.get("passed") else f"not passed: {result.get('reason')}"
    if "id" in result:
        return f"id {result['id']}"
    if result.get("source") == "event":
        return f"{result.get('type')} received"
    return ""


def checklist(
    definition: WorkflowDefinition, run: RunRecord, steps: dict[str, StepRecord]
) -> list[ChecklistItem]:
    """Every step of the definition, in run order, with its state."""
    items: list[ChecklistItem] = []

    def visit(todo: list[Step], depth: int, reachable: bool, contingent: bool) -> None:
        for step in todo:
            rec = steps.get(step.id)
            if rec is not None:
                state, detail = rec.status.value, _detail(step, rec)
            elif not reachable:
                state, detail = "not_taken", "not taken"
            else:
                state, detail = "pending", "if it times out" if contingent else ""
            items.append(
                ChecklistItem(
                    id=step.id,
                    title=step.label,
                    kind=step.kind.value,
                    depth=depth,
                    state=state,
                    detail=detail,
                    attempts=rec.attempts if rec else 0,
                    started_at=_iso(rec.started_at) if rec else None,
                    finished_at=_iso(rec.finished_at) if rec else None,
                    deadline_at=_iso(rec.deadline_at) if rec else None,
                    outputs=rec.result if rec else None,
                    waiting_on=rec.waiting_on if rec and rec.status is StepStatus.waiting else None,
                )
            )
            finished = rec is not None and rec.status.finished
            for label, children in step.children():
                if not reachable or (rec is not None and rec.status is StepStatus.skipped):
                    visit(children, depth + 1, False, contingent)
                elif label == "on_timeout":
                    if finished:
                        visit(
                            children, depth + 1, rec is not None and rec.status is StepStatus.timed_out, False
                        )
                    else:
                        visit(children, depth + 1, True, True)
                elif finished and rec is not None:
                    visit(children, depth + 1, (rec.result or {}).get("taken") == label, contingent)
                else:
                    visit(children, depth + 1, True, contingent)

    visit(definition.steps, 0, True, False)
    if run.status in (RunStatus.running, RunStatus.waiting, RunStatus.failed):
        for item in items:
            if item.state == "pending" and not item.detail:
                item.state = "next"
                break
    return items


def run_summary(run: RunRecord) -> dict[str, Any]:
    """One run as ``hub workflow list --json`` shows it."""
    return {
        "id": run.id,
        "workflow": run.workflow,
        "status": run.status.value,
        "current_step": run.current_step,
        "error": run.error,
        "created_at": _iso(run.created_at),
        "updated_at": _iso(run.updated_at),
    }


def run_view(definition: WorkflowDefinition, run: RunRecord, steps: dict[str, StepRecord]) -> dict[str, Any]:
    """One run as ``hub workflow status --json`` shows it."""
    items = checklist(definition, run, steps)
    nxt = next((i.id for i in items if i.state == "next"), None)
    return {
        **run_summary(run),
        "title": definition.title or definition.name,
        "inputs": run.inputs,
        "next": nxt,
        "steps": [asdict(i) for i in items],
    }
