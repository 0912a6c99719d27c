"""``workflow``: run another workflow's steps as part of this run (a sub-workflow).

```yaml
  - id: all_customers
    workflow:
      name: onboard-all-customers
      with: {company_id: "{{ inputs.company_id }}", primary_contact_id: "{{ steps.contact.id }}"}
```

The library resolves ``name`` when the file is loaded, and the sub-workflow's
definition travels in the run's stored definition, so a run keeps the steps it started
with. Its steps run in a scope of their own: their keys are ``<step id>.<their id>``
(``hub workflow confirm RUN all_customers.primary_contact``), they read their own
``inputs`` (``with``, checked against the sub-workflow's inputs), ``vars``,
``templates`` and steps. When they are all done, the step's outputs are theirs, by
step id (``steps.all_customers.account.record.companyName``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationInfo, field_validator

from hub.errors import ConfigError
from hub.workflow.runs import StepStatus
from hub.workflow.schema import Spec, check_template, coerce_inputs
from hub.workflow.steps.base import Child, Outcome, StepHandler
from hub.workflow.template import render
from hub.workflow.writes import json_safe

if TYPE_CHECKING:
    from hub.workflow.context import RunContext
    from hub.workflow.definition import Step, WorkflowDefinition
    from hub.workflow.preview import Planner
    from hub.workflow.runs import StepRecord

__all__ = ["WorkflowHandler", "WorkflowSpec"]


class WorkflowSpec(Spec):
    """Another workflow (by name) run with ``with`` as its inputs."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,99}$")
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    definition: WorkflowDefinition | None = Field(
        default=None, description="filled in by the library when the file is loaded"
    )

    @field_validator("with_")
    @classmethod
    def _templates(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        check_template(value, info)
        return value

    @field_validator("definition")
    @classmethod
    def _not_in_files(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and isinstance(info.context, dict) and "file" in info.context:
            raise ValueError("definition is filled in from the workflow named by name; do not write it")
        return value

    def resolved(self) -> WorkflowDefinition:
        if self.definition is None:
            raise ConfigError(f"sub-workflow {self.name!r} was not loaded through the workflow library")
        return self.definition


class WorkflowHandler(StepHandler[WorkflowSpec]):
    kind = "workflow"
    spec = WorkflowSpec

    def children(self, spec: WorkflowSpec) -> list[Child]:
        if spec.definition is None:
            return []
        return [Child("workflow", spec.definition.steps, None, own=False, scoped=True)]

    def execute(self, ctx: RunContext, step: Step, rec: StepRecord | None) -> Outcome:
        spec = step.spec
        assert isinstance(spec, WorkflowSpec)
        definition = spec.resolved()
        stored = rec.result if rec is not None and isinstance(rec.result, dict) else {}
        inputs = stored.get("inputs")
        if inputs is None:
            try:
                inputs = coerce_inputs(definition.inputs, prune_nulls(render(spec.with_, ctx.names())))
            except ConfigError as exc:
                return ctx.fail(step, f"workflow {spec.name}: {exc}")
            ctx.mark_running(step, rec, f"{ctx.run.id}:{ctx.key(step)}", result=json_safe({"inputs": inputs}))
        inner = ctx.scoped(f"{ctx.key(step)}.", inputs=inputs, definition=definition, outer=False)
        outcome = inner.walk(definition.steps)
        if outcome is not Outcome.proceed:
            return outcome
        return ctx.finish(step, StepStatus.done, inner.step_outputs(), f"workflow {spec.name} done")

    def preview(self, planner: Planner, step: Step, names: dict[str, Any]) -> dict[str, Any]:
        spec = step.spec
        assert isinstance(spec, WorkflowSpec)
        return planner.workflow(step, spec, names)


def prune_nulls(values: Any) -> dict[str, Any]:
    """The given inputs without those that render to nothing (the sub-workflow's default applies)."""
    if not isinstance(values, dict):
        raise ConfigError("with must give a mapping of inputs")
    return {k: v for k, v in values.items() if v is not None and v != "" and v != []}
