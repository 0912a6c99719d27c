"""``fail``: end the run as failed, with a reason (``fail: "text"`` or ``fail: {message: text}``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from hub.workflow.schema import Spec, check_template
from hub.workflow.steps.base import Outcome, StepHandler
from hub.workflow.template import render

if TYPE_CHECKING:
    from hub.workflow.context import RunContext
    from hub.workflow.definition import Step
    from hub.workflow.preview import Planner
    from hub.workflow.runs import StepRecord

__all__ = ["FailHandler", "FailSpec"]


class FailSpec(Spec):
    """The reason the run fails with (a template)."""

    message: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _text(cls, data: Any) -> Any:
        return {"message": data} if isinstance(data, str) else data

    @field_validator("message")
    @classmethod
    def _message(cls, value: str, info: ValidationInfo) -> str:
        check_template(value, info)
        return value


class FailHandler(StepHandler[FailSpec]):
    kind = "fail"
    spec = FailSpec

    def execute(self, ctx: RunContext, step: Step, rec: StepRecord | None) -> Outcome:
        spec = step.spec
        assert isinstance(spec, FailSpec)
        return ctx.fail(step, str(render(spec.message, ctx.names())))

    def preview(self, planner: Planner, step: Step, names: dict[str, Any]) -> dict[str, Any]:
        spec = step.spec
        assert isinstance(spec, FailSpec)
        planner.stop(step, f"the run would fail: {render(spec.message, names)}")
        return {}
