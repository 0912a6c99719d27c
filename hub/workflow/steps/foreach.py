"""``foreach``: for each item of a list, one side effect (``action``/``write``) or some ``steps``.

``items`` is evaluated once and stored with the step, so a resumed run goes over the
same items; ``key`` (a template over ``item``, default its position) names each item.

With one ``action`` or ``write``, each item is its own side effect with its own
idempotency key ``<run id>:<step key>[<item key>]``, committed before the next item
begins; the step row's result holds the progress (the items, the outputs of the
finished ones, the item under way), so a run killed in the middle retries only the
item that was under way and never repeats a finished one.

With ``steps``, each item runs the steps as a scope of its own (``billing[12].ask``):
its steps have rows, waits and outputs like any other. An item whose steps wait (a
form for a person) does not hold up the next items; the foreach is finished when every
item is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from hub.connector import parse_timestamp
from hub.errors import HubError
from hub.workflow.expr import ExpressionError, parse
from hub.workflow.runs import StepStatus
from hub.workflow.schema import LOOP_NAME, Spec, check_expression, check_template
from hub.workflow.steps.action import ActionHandler, ActionSpec, run_action
from hub.workflow.steps.base import Child, ConnectorClasses, Outcome, StepHandler, first_line
from hub.workflow.steps.write import READS, WriteHandler, WriteSpec, write_once
from hub.workflow.template import render
from hub.workflow.writes import OutcomeUnknown, json_safe

if TYPE_CHECKING:
    from hub.workflow.context import RunContext
    from hub.workflow.definition import Step
    from hub.workflow.preview import Planner
    from hub.workflow.runs import StepRecord

__all__ = ["ForeachHandler", "ForeachSpec"]


class ForeachSpec(Spec):
    """One side effect, or a few steps, per item of a list (see the module's docstring)."""

    items: Any = Field(description="a template giving the list to go over")
    key: str | None = Field(default=None, description="a template naming each item (default: its position)")
    when: str | None = Field(default=None, description="only the items for which this condition holds")
    action: ActionSpec | None = None
    write: WriteSpec | None = None
    steps: list[Step] | None = None

    @field_validator("items", "key")
    @classmethod
    def _templates(cls, value: Any, info: ValidationInfo) -> Any:
        check_template(value, info)
        return value

    @field_validator("when")
    @classmethod
    def _condition(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            check_expression(value, info)
        return value

    @model_validator(mode="after")
    def _one_effect(self) -> ForeachSpec:
        given = [k for k in ("action", "write", "steps") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a foreach step needs exactly one of action, write or steps")
        if self.write is not None and self.write.op in READS:
            raise ValueError(f"foreach runs side effects; a write with op {self.write.op} has none")
        if self.steps is not None and not self.steps:
            raise ValueError("steps needs at least one step")
        return self


class ForeachHandler(StepHandler[ForeachSpec]):
    kind = "foreach"
    spec = ForeachSpec
    nested = ("steps",)

    def children(self, spec: ForeachSpec) -> list[Child]:
        return [Child("steps", spec.steps, ("steps",), scoped=True)] if spec.steps else []

    def execute(self, ctx: RunContext, step: Step, rec: StepRecord | None) -> Outcome:
        spec = step.spec
        assert isinstance(spec, ForeachSpec)
        names = ctx.names()
        progress = dict(rec.result) if rec is not None and isinstance(rec.result, dict) else {}
        if "items" not in progress:
            items = render(spec.items, names)
            if not isinstance(items, list):
                return ctx.fail(step, f"foreach: items is {type(items).__name__}, not a list")
            keys = [str(render(spec.key, {**names, LOOP_NAME: i}) if spec.key else n) for n, i in enumerate(items)]
            if len(set(keys)) != len(keys):
                return ctx.fail(step, "foreach: two items have the same key")
            progress = {"items": json_safe(items), "keys": keys, "done": {}, "current": None}
        if rec is None or rec.status is not StepStatus.running or spec.steps is None:
            ctx.mark_running(step, rec, f"{ctx.run.id}:{ctx.key(step)}", result=progress)
        blocked = False
        for item, key in zip(progress["items"], progress["keys"], strict=True):
            if key in progress["done"]:
                continue
            try:
                left_out = spec.when is not None and not parse(spec.when).test({**names, LOOP_NAME: item})
            except ExpressionError as exc:
                return ctx.fail(step, f"item {key}: expression error: {exc}", result=json_safe(progress))
            if left_out:
                progress["done"][key] = {"skipped": True}
                ctx.save(step, result=json_safe(progress))
                continue
            if spec.steps is not None:
                outcome = self._item_steps(ctx, step, spec.steps, progress, item, key)
            else:
                outcome = self._item_effect(ctx, step, spec, progress, item, key, names)
            if outcome is Outcome.blocked:
                blocked = True
            elif outcome is not Outcome.proceed:
                return outcome
        if blocked:
            return Outcome.blocked
        results = [{"key": k, **progress["done"][k]} for k in progress["keys"]]
        count = sum(1 for r in results if not r.get("skipped"))
        outputs = {"count": count, "skipped": len(results) - count, "results": results}
        return ctx.finish(step, StepStatus.done, outputs, f"{count} item(s), {len(results) - count} left out")

    @staticmethod
    def _item_steps(
        ctx: RunContext, step: Step, steps: list[Step], progress: dict[str, Any], item: Any, key: str
    ) -> Outcome:
        inner = ctx.scoped(f"{ctx.key(step)}[{key}].", extra={LOOP_NAME: item})
        outcome = inner.walk(steps)
        if outcome is Outcome.proceed:
            progress["done"][key] = {"steps": inner.step_outputs()}
            ctx.save(step, result=json_safe(progress))
        return outcome

    @staticmethod
    def _item_effect(
        ctx: RunContext,
        step: Step,
        spec: ForeachSpec,
        progress: dict[str, Any],
        item: Any,
        key: str,
        names: dict[str, Any],
    ) -> Outcome:
        current = progress.get("current") or {}
        interrupted = current.get("key") == key
        retry = interrupted and not current.get("unverified")
        started_at = (parse_timestamp(current.get("started_at")) if interrupted else None) or ctx.now()
        progress["current"] = {"key": key, "started_at": started_at.isoformat()}
        ctx.save(step, result=json_safe(progress))
        item_names = {**names, LOOP_NAME: item}
        item_key = f"{ctx.key(step)}[{key}]"
        target = spec.action or spec.write
        assert target is not None
        actx = ctx.action_context(target.connector, item_key)
        try:
            if spec.action is not None:
                outputs = run_action(ctx.hub, spec.action, item_names, actx)
                audit = (spec.action.connector, spec.action.name, "action")
            else:
                assert spec.write is not None
                runner = ctx.engine.write_runner(ctx.run.actor)
                outputs, operation = write_once(ctx.hub, runner, spec.write, item_names, ctx.templates,
                                                retry=retry, started_at=started_at,
                                                key=actx.idempotency_key)  # fmt: skip
                audit = (spec.write.connector, spec.write.entity, operation)
        except ExpressionError as exc:
            return ctx.fail(step, f"item {key}: expression error: {exc}", result=json_safe(progress))
        except OutcomeUnknown as exc:
            progress["current"] = {**progress["current"], "unverified": True}
            return ctx.fail(step, f"item {key}: {exc}", result=json_safe(progress))
        except HubError as exc:
            return ctx.fail(step, f"item {key}: {exc}", result=json_safe(progress))
        except Exception as exc:  # a connector bug fails this run, not the process
            ctx.engine.log.exception("workflow step raised", run_id=ctx.run.id, step=item_key)
            return ctx.fail(step, f"item {key}: internal error: {type(exc).__name__}: {first_line(exc)}",
                            result=json_safe(progress))  # fmt: skip
        progress["done"][key] = json_safe(outputs)
        progress["current"] = None
        system, entity, operation = audit
        record_id = outputs.get("id")
        with ctx.hub.store.transaction() as conn:
            ctx.engine.runs.save_step(conn, ctx.run.id, ctx.key(step), result=json_safe(progress))
            ctx.audit(conn, operation, system=system, entity=entity,
                      record_id=None if record_id is None else str(record_id),
                      after={"step": item_key, "outputs": progress["done"][key]})  # fmt: skip
        ctx.refresh(ctx.key(step))
        ctx.notify(ctx.key(step), "item", f"{key}: {outputs.get('id', '')}".rstrip(": "))
        return Outcome.proceed

    def lint(self, spec: ForeachSpec, classes: ConnectorClasses) -> Iterator[tuple[str, str]]:
        if spec.action is not None:
            for where, what in ActionHandler().lint(spec.action, classes):
                yield f"action.{where}", what
        if spec.write is not None:
            for where, what in WriteHandler().lint(spec.write, classes):
                yield f"write.{where}", what

    def preview(self, planner: Planner, step: Step, names: dict[str, Any]) -> dict[str, Any]:
        spec = step.spec
        assert isinstance(spec, ForeachSpec)
        return planner.foreach(step, spec, names)

    def summary(self, spec: ForeachSpec, result: dict[str, Any]) -> str:
        return f"{result.get('count', 0)} item(s), {result.get('skipped', 0)} left out"
