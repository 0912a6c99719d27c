"""``check``: a condition that must hold, else the run stops (or goes on, noting why)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from hub.workflow.expr import parse
from hub.workflow.runs import StepStatus
from hub.workflow.schema import Spec, check_expression, check_template
from hub.workflow.steps.base import Outcome, StepHandler
from hub.workflow.template import render

if TYPE_CHECKING:
    from hub.workflow.context import RunContext
    from hub.workflow.definition import Step
    from hub.workflow.preview import Planner
    from hub.workflow.runs import StepRecord

__all__ = ["CheckHandler", "CheckSpec"]


class CheckSpec(Spec):
    """A condition that must hold; otherwise the run fails with ``message`` (or goes on)."""

    that: str = Field(description="condition")
    message: str = Field(default="", description="why the check failed (a template)")
    on_fail: Literal["fail", "continue"] = "fail"

    @field_validator("that")
    @classmethod
    def _condition(cls, value: str, info: ValidationInfo) -> str:
        check_expression(value, info)
        return value

    @field_validator("message")
    @classmethod
    def _message(cls, value: str, info: ValidationInfo) -> str:
        check_template(value, info)
        return value


class CheckHandler(StepHandler[CheckSpec]):
    kind = "check"
    spec = CheckSpec

    def execute(self, ctx: RunContext, step: Step, rec: StepRecord | None) -> Outcome:
        spec = step.spec
        assert isinstance(spec, CheckSpec)
        names = ctx.names()
        if parse(spec.that).test(names):
            return ctx.finish(step, StepStatus.done, {"passed": True}, "passed")
        reason = str(render(spec.message, names) or "") or f"check failed: {spec.that}"
        if spec.on_fail == "fail":
            return ctx.fail(step, reason)
        return ctx.finish(step, StepStatus.done, {"passed": False, "reason": reason}, f"not passed: {reason}")

    def preview(self, planner: Planner, step: Step, names: dict[str, Any]) -> dict[str, Any]:
        spec = step.spec
        assert isinstance(spec, CheckSpec)
        return planner.check(step, spec, names)

    def summary(self, spec: CheckSpec, result: dict[str, Any]) -> str:
        return "passed" if result.get("passed") else f"not passed: {result.get('reason')}"
