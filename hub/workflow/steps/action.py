"""``action``: run a connector action (send the terms, save the signed PDF, set a team, ...).

The action gets the step's idempotency key (``<run id>:<step key>``) in its
:class:`~hub.connector.ActionContext` and must use it to find what an earlier,
interrupted attempt did instead of doing it again. Its returned mapping is the step's
outputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from hub.connector import ActionContext
from hub.errors import ConfigError
from hub.workflow.schema import IDENT, Spec, check_template
from hub.workflow.steps.base import ConnectorClasses, Outcome, StepHandler, connector_class
from hub.workflow.template import render
from hub.workflow.writes import json_safe

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.workflow.context import RunContext
    from hub.workflow.definition import Step
    from hub.workflow.preview import Planner
    from hub.workflow.runs import StepRecord

__all__ = ["ActionHandler", "ActionSpec", "run_action"]


class ActionSpec(Spec):
    """Run a connector action (``Hub.connector(c).action(name)``) with rendered parameters."""

    connector: str = Field(pattern=IDENT)
    name: str = Field(min_length=1)
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")

    @field_validator("with_")
    @classmethod
    def _templates(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        check_template(value, info)
        return value


def run_action(hub: Hub, spec: ActionSpec, names: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Validate the rendered parameters with the action's model and run it."""
    action = hub.connector(spec.connector).action(spec.name)
    params = action_params(hub, spec, names)
    result = action.run(params, ctx)
    if not isinstance(result, dict):
        raise ConfigError(f"{spec.connector}.{spec.name} returned {type(result).__name__}, not a mapping")
    return dict(json_safe(result))


def action_params(hub: Hub, spec: ActionSpec, names: dict[str, Any]) -> Any:
    """The action's parameter model from the rendered ``with`` (ConfigError naming a bad one)."""
    action = hub.connector(spec.connector).action(spec.name)
    raw = render(spec.with_, names)
    try:
        return action.params.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        raise ConfigError(f"{spec.connector}.{spec.name}: with.{where}: {err.get('msg')}") from None


class ActionHandler(StepHandler[ActionSpec]):
    kind = "action"
    spec = ActionSpec

    def execute(self, ctx: RunContext, step: Step, rec: StepRecord | None) -> Outcome:
        spec = step.spec
        assert isinstance(spec, ActionSpec)
        names = ctx.names()

        def effect(actx: ActionContext, _retry: bool, _started: Any) -> tuple[dict[str, Any], tuple[str, str, str]]:
            return run_action(ctx.hub, spec, names, actx), (spec.connector, spec.name, "action")

        return ctx.side_effect(step, rec, effect, spec.connector)

    def lint(self, spec: ActionSpec, classes: ConnectorClasses) -> Iterator[tuple[str, str]]:
        cls, err = connector_class(classes, spec.connector)
        if cls is None:
            yield "connector", err
            return
        if spec.name not in cls.action_specs:
            known = ", ".join(sorted(cls.action_specs)) or "none"
            yield "name", f"{cls.name} has no action {spec.name!r}; actions: {known}"
            return
        params = cls.action_specs[spec.name][1]
        unknown = sorted(set(spec.with_) - set(params.model_fields))
        if unknown and params.model_config.get("extra") == "forbid":
            yield "with", f"{cls.name}.{spec.name} takes no parameter {unknown[0]!r}"

    def preview(self, planner: Planner, step: Step, names: dict[str, Any]) -> dict[str, Any]:
        spec = step.spec
        assert isinstance(spec, ActionSpec)
        return planner.action(step, spec, names)
