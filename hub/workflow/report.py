"""A run as a checklist: what is done, what it waits on, what failed and why, what is next.

Built from the run's stored definition and its step rows, so it also shows the steps
not reached yet, and the ones a branch did not take.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from hub.workflow.definition import Step, WorkflowDefinition
from hub.workflow.kinds import handler
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
    told = handler(step.kind).summary(step.spec, result)
    if told:
        return told
    return f"id {result['id']}" if "id" in result else ""


def checklist(
    definition: WorkflowDefinition, run: RunRecord, steps: dict[str, StepRecord]
) -> list[ChecklistItem]:
    """Every step of the definition, in run order, with its state.

    A sub-workflow's steps follow its step (keys ``sub.x``), and a foreach with steps
    shows them once per item (``loop[key].x``) as soon as its items are known.
    """
    items: list[ChecklistItem] = []

    def visit(todo: list[Step], depth: int, reachable: bool, contingent: bool, prefix: str) -> None:
        for step in todo:
            key = f"{prefix}{step.id}"
            rec = steps.get(key)
            if rec is not None:
                state, detail = rec.status.value, _detail(step, rec)
            elif not reachable:
                state, detail = "not_taken", "not taken"
            else:
                state, detail = "pending", "if it times out" if contingent else ""
            items.append(
                ChecklistItem(
                    id=key,
                    title=step.label,
                    kind=step.kind,
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
            skipped = rec is not None and rec.status is StepStatus.skipped
            for child in step.children():
                nested = depth + 1
                if not reachable or skipped:
                    visit(child.steps, nested, False, contingent, f"{key}." if child.scoped else prefix)
                elif child.label == "on_timeout":
                    timed_out = rec is not None and rec.status is StepStatus.timed_out
                    visit(child.steps, nested, timed_out if finished else True, not finished, prefix)
                elif child.scoped and child.own:
                    progress = rec.result if rec is not None and isinstance(rec.result, dict) else {}
                    done = progress.get("done") or {}
                    for item in progress.get("keys") or []:
                        if not (done.get(item) or {}).get("skipped"):
                            visit(child.steps, nested, True, contingent, f"{key}[{item}].")
                elif child.scoped:
                    visit(child.steps, nested, True, contingent, f"{key}.")
                elif finished and rec is not None:
                    visit(child.steps, nested, (rec.result or {}).get("taken") == child.label, contingent, prefix)
                else:
                    visit(child.steps, nested, True, contingent, prefix)

    visit(definition.steps, 0, True, False, "")
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
