"""``branch``: if/else. The condition is evaluated once and the side taken stored."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationInfo, field_validator

from hub.workflow.expr import parse
from hub.workflow.runs import StepStatus
from hub.workflow.schema import Spec, check_expression
from hub.workflow.steps.base import Child, Outcome, StepHandler

if TYPE_CHECKING:
    from hub.workflow.context import RunContext
    from hub.workflow.definition import Step
    from hub.workflow.preview import Planner
    from hub.workflow.runs import StepRecord

__all__ = ["BranchHandler", "BranchSpec"]


class BranchSpec(Spec):
    """If/else: run ``then`` when the condition holds, ``else`` otherwise."""

    if_: str = Field(alias="if")
    then: list[Step] = Field(default_factory=list)
    else_: list[Step] = Field(default_factory=list, alias="else")

    @field_validator("if_")
    @classmethod
    def _condition(cls, value: str, info: ValidationInfo) -> str:
        check_expression(value, info)
        return value


class BranchHandler(StepHandler[BranchSpec]):
    kind = "branch"
    spec = BranchSpec
    nested = ("then", "else")

    def children(self, spec: BranchSpec) -> list[Child]:
        return [Child("then", spec.then, ("then",)), Child("else", spec.else_, ("else",))]

    def chosen(self, spec: BranchSpec, rec: StepRecord) -> list[Step]:
        if rec.status is not StepStatus.done:
            return []
        return spec.then if (rec.result or {}).get("taken") == "then" else spec.else_

    def execute(self, ctx: RunContext, step: Step, rec: StepRecord | None) -> Outcome:
        spec = step.spec
        assert isinstance(spec, BranchSpec)
        taken = "then" if parse(spec.if_).test(ctx.names()) else "else"
        return ctx.finish(step, StepStatus.done, {"taken": taken}, f"took {taken}")

    def preview(self, planner: Planner, step: Step, names: dict[str, Any]) -> dict[str, Any]:
        spec = step.spec
        assert isinstance(spec, BranchSpec)
        return planner.branch(step, spec, names)

    def summary(self, spec: BranchSpec, result: dict[str, Any]) -> str:
        return f"took {result.get('taken')}"
