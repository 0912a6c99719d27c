"""The schema of a workflow definition file, built from the registry of step kinds.

A workflow is one YAML file: its inputs, constants (``vars``), payload ``templates`` and
an ordered list of ``steps``. Each step has an ``id`` and exactly one kind key whose
value configures it; the kinds and their schemas come from :data:`hub.workflow.kinds.HANDLERS`,
so an unknown kind is an error when the file is loaded. A validation error's location
is the same path as in the file (``steps.3.wait.timeout``), so :func:`check` can name
its line, and every error is reported, each with the id of its step.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError, ValidationInfo, create_model, field_validator, model_validator

from hub.errors import ConfigError
from hub.workflow.kinds import HANDLERS, handler
from hub.workflow.schema import (
    IDENT,
    InputSpec,
    InputType,
    Spec,
    check_expression,
    check_names,
    check_template,
    coerce_inputs,
    parse_duration,
)
from hub.workflow.steps.action import ActionSpec
from hub.workflow.steps.base import Child
from hub.workflow.steps.branch import BranchSpec
from hub.workflow.steps.check import CheckSpec
from hub.workflow.steps.foreach import ForeachSpec
from hub.workflow.steps.wait import ManualSpec, PollSpec, WaitSpec
from hub.workflow.steps.workflow import WorkflowSpec
from hub.workflow.steps.write import RecoverSpec, WriteSpec
from hub.yamlfile import LocatedError

# The file's schema: the step kinds' specs are this module's public names too, as they were
# before each kind's handler owned its own.
__all__ = [
    "ActionSpec",
    "BranchSpec",
    "CheckSpec",
    "ForeachSpec",
    "InputSpec",
    "InputType",
    "ManualSpec",
    "PollSpec",
    "RecoverSpec",
    "Step",
    "StepBase",
    "WaitSpec",
    "WorkflowDefinition",
    "WorkflowSpec",
    "WriteSpec",
    "coerce_inputs",
    "parse_duration",
]

#: the keys of a step that are not its kind
_COMMON = ("id", "title", "when")
_SEGMENT = re.compile(r"([a-z][a-z0-9_]*)(?:\[([^\]]*)\])?(?:\.|$)")


def _flatten_raw(steps: Any) -> Iterator[str]:
    """Step ids in run order from raw (not yet validated) data, for the reference checks."""
    if not isinstance(steps, list):
        return
    for step in steps:
        if not isinstance(step, dict):
            continue
        if isinstance(step.get("id"), str):
            yield step["id"]
        for kind, h in HANDLERS.items():
            spec = step.get(kind)
            if isinstance(spec, dict):
                for key in h.nested:
                    yield from _flatten_raw(spec.get(key))


def _loop_ids(steps: Any, inside: bool = False) -> Iterator[str]:
    """Ids of the foreach steps and of the steps nested in them (where ``item`` may be read)."""
    if not isinstance(steps, list):
        return
    for step in steps:
        if not isinstance(step, dict):
            continue
        looping = inside or isinstance(step.get("foreach"), dict)
        if looping and isinstance(step.get("id"), str):
            yield step["id"]
        for kind, h in HANDLERS.items():
            spec = step.get(kind)
            if isinstance(spec, dict):
                for key in h.nested:
                    yield from _loop_ids(spec.get(key), inside or kind == "foreach")


class StepBase(Spec):
    """One step: an ``id``, optional ``title`` and ``when``, and exactly one kind key."""

    id: str = Field(pattern=IDENT)
    title: str | None = None
    when: str | None = Field(default=None, description="run only if this condition holds")

    @model_validator(mode="before")
    @classmethod
    def _enter(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        unknown = [k for k in data if k not in _COMMON and k not in HANDLERS]
        if unknown:
            raise LocatedError((unknown[0],), f"unknown step kind {unknown[0]!r}; kinds: {', '.join(HANDLERS)}")
        ctx = info.context
        if isinstance(ctx, dict):
            step_id = data.get("id")
            ctx["current"] = step_id
            seen = ctx.setdefault("seen", set())
            if step_id in seen:
                raise ValueError(f"step id {step_id!r} is used twice; step ids must be unique")
            seen.add(step_id)
        return data

    @field_validator("when")
    @classmethod
    def _when(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            check_expression(value, info)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> StepBase:
        kinds = [k for k in HANDLERS if getattr(self, k, None) is not None]
        if len(kinds) != 1:
            got = ", ".join(kinds) if kinds else "none"
            raise ValueError(f"a step needs exactly one of {', '.join(HANDLERS)} (got {got})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in HANDLERS if getattr(self, k, None) is not None)

    @property
    def spec(self) -> Spec:
        """The value of the step's kind key."""
        value: Spec = getattr(self, self.kind)
        return value

    @property
    def label(self) -> str:
        return self.title or self.id.replace("_", " ")

    def children(self) -> list[Child]:
        """The step lists nested in this step (its kind's handler says which)."""
        return handler(self.kind).children(self.spec)


if TYPE_CHECKING:
    Step = StepBase
else:
    Step = create_model(
        "Step",
        __base__=StepBase,
        __module__=__name__,
        **{kind: (h.spec | None, None) for kind, h in HANDLERS.items()},
    )


class WorkflowDefinition(Spec):
    """A whole workflow file."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,99}$")
    title: str = ""
    description: str = ""
    version: int = 1
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    vars: dict[str, Any] = Field(default_factory=dict, description="constants, e.g. service-area postal codes")
    templates: dict[str, dict[str, Any]] = Field(default_factory=dict, description="named payloads")
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _collect_names(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(info.context, dict) and isinstance(data, dict):
            inputs, variables, templates = data.get("inputs"), data.get("vars"), data.get("templates")
            ids = list(_flatten_raw(data.get("steps")))
            info.context.update(
                inputs=set(inputs) if isinstance(inputs, dict) else set(),
                vars=set(variables) if isinstance(variables, dict) else set(),
                templates=set(templates) if isinstance(templates, dict) else set(),
                seen=set(),
                order={sid: i for i, sid in reversed(list(enumerate(ids)))},
                loop_ids=set(_loop_ids(data.get("steps"))),
                current=None,
            )
        return data

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, value: dict[str, InputSpec]) -> dict[str, InputSpec]:
        check_names(value, "input")
        return value

    @field_validator("templates")
    @classmethod
    def _template_values(cls, value: dict[str, dict[str, Any]], info: ValidationInfo) -> dict[str, Any]:
        check_template(value, info)
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> WorkflowDefinition:
        # Checked again here for definitions validated without a context.
        seen: set[str] = set()
        for step, _depth in self.walk():
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice; step ids must be unique")
            seen.add(step.id)
        return self

    def walk(self) -> Iterator[tuple[Step, int]]:
        """Every step of this file in run order, with its nesting depth (a sub-workflow's are its own)."""

        def visit(steps: list[Step], depth: int) -> Iterator[tuple[Step, int]]:
            for step in steps:
                yield step, depth
                for child in step.children():
                    if child.own:
                        yield from visit(child.steps, depth + 1)

        yield from visit(self.steps, 0)

    def step(self, step_id: str) -> Step:
        """The step ``step_id`` of this file."""
        for step, _depth in self.walk():
            if step.id == step_id:
                return step
        raise ConfigError(f"workflow {self.name} has no step {step_id!r}")

    def locate(self, key: str) -> Step:
        """The step a run's step key names: ``x``, ``loop[12].x``, ``sub.x`` (a sub-workflow's step)."""
        segments = _SEGMENT.findall(key) if key else []
        if not segments or "".join(f"{i}[{k}]." if k else f"{i}." for i, k in segments).rstrip(".") != key:
            raise ConfigError(f"workflow {self.name} has no step {key!r}")
        definition: WorkflowDefinition = self
        for step_id, _item in segments[:-1]:
            outer = definition.step(step_id)
            sub = next((c for c in outer.children() if not c.own), None)
            if sub is not None:
                spec = outer.spec
                definition = spec.resolved()  # type: ignore[attr-defined]
        try:
            return definition.step(segments[-1][0])
        except ConfigError:
            raise ConfigError(f"workflow {self.name} has no step {key!r}") from None

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> WorkflowDefinition:
        """A definition stored with a run (so a run finishes with the steps it started with)."""
        return cls.model_validate(data)

    def snapshot(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def check(cls, path: Path) -> tuple[WorkflowDefinition | None, list[str]]:
        """Validate ``path``: the definition (None if invalid) and every problem, one line each.

        A line is ``file:line: where (step id): what``.
        """
        from hub.yamlfile import load_yaml_lines, problems

        data, lines = load_yaml_lines(path)
        try:
            definition = cls.model_validate(data, context={"file": str(path)})
        except ValidationError as exc:
            found = []
            for problem in problems(exc, lines):
                line = f":{problem.line}" if problem.line else ""
                step = step_at(data, problem.loc)
                where = f"{problem.where} (step {step})" if step else problem.where
                found.append(f"{path}{line}: {where}: {problem.message}")
            return None, found
        if definition.name != path.stem:
            name_line = lines.get(("name",))
            where = f":{name_line}" if name_line else ""
            return None, [f"{path}{where}: name: {definition.name!r} must match the file name ({path.stem}.yaml)"]
        return definition, []

    @classmethod
    def load(cls, path: Path) -> WorkflowDefinition:
        """Validate ``path``; ConfigError with its first problem (``file:line: where: what``)."""
        definition, found = cls.check(path)
        if definition is None:
            more = f" (and {len(found) - 1} more; see hub workflow validate)" if len(found) > 1 else ""
            raise ConfigError(f"{found[0]}{more}")
        return definition


def step_at(data: Any, loc: tuple[Any, ...]) -> str | None:
    """The id of the innermost step at key path ``loc`` of the raw file data."""
    node, found = data, None
    for part in loc:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                found = node["id"]
        else:
            break
    return found


def _rebuild() -> None:
    """Resolve the forward references of the kinds whose specs nest steps or definitions."""
    namespace = {"Step": Step, "WorkflowDefinition": WorkflowDefinition}
    for h in HANDLERS.values():
        h.spec.model_rebuild(_types_namespace=namespace)
    Step.model_rebuild(_types_namespace=namespace)
    WorkflowDefinition.model_rebuild(_types_namespace=namespace)


_rebuild()
