"""The schema of a workflow definition file, and the checks that make mistakes visible early.

A workflow is one YAML file: its inputs, constants (``vars``), payload ``templates`` and
an ordered list of ``steps``. Each step has an ``id`` and exactly one kind key
(``action``, ``write``, ``check``, ``wait``, ``manual``, ``branch``, ``fail`` or
``foreach``) whose
value configures it, so a validation error's location is the same path as in the file
(``steps.3.wait.timeout``) and :func:`hub.yamlfile.validate_yaml` can name the line.

Expressions and templates are parsed while the file is validated, and every name they
read is checked: ``inputs.x`` must be a declared input, ``vars.x`` a declared constant,
``steps.x`` a step that comes *earlier*. The declared names travel in the pydantic
validation context: the file's own before-validator collects them, and each step's
before-validator records which step is being validated (fields validate in declaration
order, so a step's own conditions are checked before its nested steps change it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hub.errors import ConfigError
from hub.workflow.expr import ExpressionError, parse
from hub.workflow.template import template_expressions

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
    "StepKind",
    "WaitSpec",
    "WorkflowDefinition",
    "WriteSpec",
    "coerce_inputs",
    "parse_duration",
]

IDENT = r"^[a-z][a-z0-9_]{0,62}$"
_IDENT = re.compile(IDENT)
#: names every expression may read
ROOTS = ("inputs", "steps", "vars", "run")
#: the name of the current item inside a ``foreach`` step
LOOP_NAME = "item"
_DURATION = re.compile(r"^(?:(\d+)w)?\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?$")


def parse_duration(text: str) -> timedelta:
    """``"30d"``, ``"1d12h"``, ``"2w"``, ``"90s"`` as a timedelta (ValueError otherwise)."""
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not m or not any(m.groups()):
        raise ValueError(f"not a duration: {text!r} (use e.g. 30d, 12h, 1d12h, 15m, 2w)")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in m.groups())
    value = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    if value <= timedelta(0):
        raise ValueError(f"duration must be positive: {text!r}")
    return value


def _duration(value: str | None) -> str | None:
    if value is not None:
        parse_duration(value)
    return value


# -- reference checks -------------------------------------------------------------------


def _check_expression(source: str, info: ValidationInfo, extra_roots: tuple[str, ...] = ()) -> None:
    """Parse a condition and check the names it reads (ValueError says which is wrong)."""
    try:
        expr = parse(source)
    except ExpressionError as exc:
        raise ValueError(str(exc)) from None
    _check_paths(expr.references(), info, extra_roots)


def _check_template(value: Any, info: ValidationInfo, extra_roots: tuple[str, ...] = ()) -> None:
    try:
        exprs = list(template_expressions(value))
    except ExpressionError as exc:
        raise ValueError(str(exc)) from None
    for expr in exprs:
        _check_paths(expr.references(), info, extra_roots)


def _check_paths(paths: list[tuple[str, ...]], info: ValidationInfo, extra_roots: tuple[str, ...]) -> None:
    ctx = info.context if isinstance(info.context, dict) else None
    if ctx is None or "order" not in ctx:
        return
    roots = (*ROOTS, *extra_roots, *((LOOP_NAME,) if ctx.get("in_foreach") else ()))
    for path in paths:
        root = path[0]
        if root not in roots:
            raise ValueError(f"unknown name {root!r}; an expression can read {', '.join(roots)}")
        if len(path) < 2:
            continue
        name = path[1]
        if root == "inputs" and name not in ctx["inputs"]:
            raise ValueError(f"inputs.{name} is not a declared input; inputs: {_names(ctx['inputs'])}")
        if root == "vars" and name not in ctx["vars"]:
            raise ValueError(f"vars.{name} is not declared under vars; vars: {_names(ctx['vars'])}")
        if root == "steps":
            order = ctx["order"]
            current = ctx.get("current")
            if name not in order:
                raise ValueError(f"steps.{name}: there is no step {name!r}")
            if current in order and order[name] >= order[current]:
                raise ValueError(f"steps.{name}: step {name!r} does not run before {current!r}")


def _names(items: Any) -> str:
    return ", ".join(sorted(items)) or "none"


def _flatten_raw(steps: Any) -> Iterator[str]:
    """Step ids in run order from raw (not yet validated) data, for the reference checks."""
    if not isinstance(steps, list):
        return
    for step in steps:
        if not isinstance(step, dict):
            continue
        if isinstance(step.get("id"), str):
            yield step["id"]
        for kind in ("branch", "wait", "manual"):
            spec = step.get(kind)
            if isinstance(spec, dict):
                for key in ("then", "else", "on_timeout"):
                    yield from _flatten_raw(spec.get(key))


# -- inputs -----------------------------------------------------------------------------


class InputType(StrEnum):
    string = "string"
    integer = "integer"
    number = "number"
    boolean = "boolean"
    date = "date"
    email = "email"
    list = "list"


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


class InputSpec(BaseModel):
    """One value a run starts with (or a person enters when confirming a manual step)."""

    model_config = ConfigDict(extra="forbid")

    type: InputType = InputType.string
    required: bool = False
    default: Any = None
    description: str = ""
    choices: list[str] | None = Field(default=None, description="the only values accepted")

    @model_validator(mode="after")
    def _default_fits(self) -> InputSpec:
        if self.default is not None:
            self.default = self.coerce("default", self.default)
        return self

    def coerce(self, name: str, raw: Any) -> Any:
        """``raw`` (text from the command line, or a YAML value) as this input's type."""
        value = _coerce(self.type, name, raw)
        if self.choices is not None:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if str(item) not in self.choices:
                    raise ConfigError(f"input {name}: {item!r} is not one of {', '.join(self.choices)}")
        return value


def _coerce(kind: InputType, name: str, raw: Any) -> Any:
    text = raw.strip() if isinstance(raw, str) else raw
    try:
        if kind is InputType.string:
            if isinstance(text, dict | list):
                raise ValueError("must be text")
            return str(text)
        if kind is InputType.integer:
            if isinstance(text, bool) or (isinstance(text, float) and not text.is_integer()):
                raise ValueError("must be a whole number")
            return int(text)
        if kind is InputType.number:
            if isinstance(text, bool):
                raise ValueError("must be a number")
            return float(text)
        if kind is InputType.boolean:
            if isinstance(text, bool):
                return text
            word = str(text).lower()
            if word in _TRUE | _FALSE:
                return word in _TRUE
            raise ValueError("must be true or false")
        if kind is InputType.date:
            return (text if isinstance(text, date) else date.fromisoformat(str(text))).isoformat()
        if kind is InputType.email:
            if not isinstance(text, str) or not _EMAIL.match(text):
                raise ValueError("must be an e-mail address")
            return text
        if isinstance(text, list):
            return [str(v).strip() for v in text]
        return [part.strip() for part in str(text).split(",") if part.strip()]
    except (TypeError, ValueError) as exc:
        reason = str(exc) if str(exc).startswith("must") else f"must be a {kind.value}"
        if kind is InputType.date:
            reason = "must be a date (YYYY-MM-DD)"
        raise ConfigError(f"input {name}: {raw!r} {reason}") from None


def coerce_inputs(specs: dict[str, InputSpec], given: dict[str, Any], what: str = "input") -> dict[str, Any]:
    """Validate ``given`` against ``specs``: unknown, missing or ill-typed values raise ConfigError."""
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise ConfigError(f"unknown {what} {unknown[0]!r}; {what}s: {_names(specs)}")
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in given and given[name] is not None and given[name] != "":
            values[name] = spec.coerce(name, given[name])
        elif spec.required:
            raise ConfigError(f"missing required {what} {name!r} (--set {name}=...)")
        else:
            values[name] = spec.default
    return values


# -- step kinds -------------------------------------------------------------------------


class StepKind(StrEnum):
    action = "action"
    write = "write"
    check = "check"
    wait = "wait"
    manual = "manual"
    branch = "branch"
    fail = "fail"
    foreach = "foreach"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ActionSpec(_Spec):
    """Run a connector action (``Hub.connector(c).action(name)``) with rendered parameters."""

    connector: str = Field(pattern=IDENT)
    name: str = Field(min_length=1)
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")

    @field_validator("with_")
    @classmethod
    def _templates(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        _check_template(value, info)
        return value


class RecoverSpec(_Spec):
    """How a retried create finds the record its interrupted first attempt may have made."""

    stream: str | None = Field(default=None, description="stream to read (default: the one of the entity)")
    match: list[str] = Field(default_factory=list, description="vendor fields that identify the record")


class WriteSpec(_Spec):
    """A generic write: ``create``, ``update``, ``deactivate`` or ``get`` of one vendor entity.

    ``payload`` is sent as the vendor's own fields; ``record`` holds core fields that the
    connector's mapping turns into the vendor payload (picklists by label, references by
    id). ``template`` names an entry of the file's ``templates`` merged under either.
    """

    connector: str = Field(pattern=IDENT)
    entity: str = Field(min_length=1)
    op: Literal["create", "update", "deactivate", "get", "list"]
    id: Any = Field(default=None, description="the vendor id (update, deactivate, get)")
    where: dict[str, Any] | None = Field(
        default=None, description="list: vendor fields the records must equal (a template per value)"
    )
    template: str | None = None
    payload: dict[str, Any] | None = None
    record: dict[str, Any] | None = None
    recover: RecoverSpec | None = None

    @field_validator("id", "template", "payload", "record", "where")
    @classmethod
    def _templates(cls, value: Any, info: ValidationInfo) -> Any:
        _check_template(value, info)
        ctx = info.context
        if (
            info.field_name == "template"
            and isinstance(value, str)
            and "{{" not in value
            and isinstance(ctx, dict)
        ):
            if "templates" in ctx and value not in ctx["templates"]:
                raise ValueError(f"{value!r} is not under templates; templates: {_names(ctx['templates'])}")
        return value

    @model_validator(mode="after")
    def _shape(self) -> WriteSpec:
        if self.payload is not None and self.record is not None:
            raise ValueError("give either payload (vendor fields) or record (core fields), not both")
        if self.op in ("update", "deactivate", "get") and self.id in (None, ""):
            raise ValueError(f"{self.op} needs the id of the record")
        if (
            self.op in ("create", "update")
            and self.payload is None
            and self.record is None
            and not self.template
        ):
            raise ValueError(f"{self.op} needs a payload, a record or a template")
        if self.op in ("deactivate", "get", "list") and (self.payload or self.record or self.template):
            raise ValueError(f"{self.op} takes no payload, record or template")
        if self.op == "list" and self.id not in (None, ""):
            raise ValueError("list takes no id; it selects records by where")
        if self.where is not None and self.op != "list":
            raise ValueError("where applies to list only")
        if self.recover is not None and self.op != "create":
            raise ValueError("recover applies to create only (other writes are safe to repeat)")
        return self


class ForeachSpec(_Spec):
    """One side effect per item of a list: ``action`` or ``write`` run once for each ``item``.

    ``items`` is a template that must give a list (``"{{ steps.devices.records }}"``); it
    is evaluated once and stored, so a resumed run goes over the same items. ``key``
    (a template over ``item``, default its position) names each item in its idempotency
    key ``<run id>:<step id>[<key>]``, so a retried item finds what its interrupted
    attempt did and a finished item never runs again. ``when`` (a condition over
    ``item``) leaves out the items for which it is false.
    """

    items: Any = Field(description="a template giving the list to go over")
    key: str | None = Field(default=None, description="a template naming each item (default: its position)")
    when: str | None = Field(default=None, description="only the items for which this condition holds")
    action: ActionSpec | None = None
    write: WriteSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _enter(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(info.context, dict):
            info.context["in_foreach"] = True
        return data

    @field_validator("items", "key")
    @classmethod
    def _templates(cls, value: Any, info: ValidationInfo) -> Any:
        _check_template(value, info)
        return value

    @field_validator("when")
    @classmethod
    def _condition(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            _check_expression(value, info)
        return value

    @model_validator(mode="after")
    def _one_effect(self, info: ValidationInfo) -> ForeachSpec:
        if isinstance(info.context, dict):
            info.context["in_foreach"] = False
        if (self.action is None) == (self.write is None):
            raise ValueError("a foreach step needs exactly one of action or write")
        if self.write is not None and self.write.op in ("get", "list"):
            raise ValueError(f"foreach runs side effects; a write with op {self.write.op} has none")
        return self


class CheckSpec(_Spec):
    """A condition that must hold; otherwise the run fails with ``message`` (or goes on)."""

    that: str = Field(description="condition")
    message: str = Field(default="", description="why the check failed (a template)")
    on_fail: Literal["fail", "continue"] = "fail"

    @field_validator("that")
    @classmethod
    def _condition(cls, value: str, info: ValidationInfo) -> str:
        _check_expression(value, info)
        return value

    @field_validator("message")
    @classmethod
    def _message(cls, value: str, info: ValidationInfo) -> str:
        _check_template(value, info)
        return value


class PollSpec(_Spec):
    """How ``hub workflow poll`` finds the awaited change where no webhook arrives.

    ``stream``: read the connector's stream for records changed since the wait began
    and take the one whose ``field`` equals the wait's value (one read serves every
    run waiting on that stream). ``get``: read the record of ``entity`` whose id is the
    wait's value. Either way ``until`` (a condition over ``record``) says when it is done.
    """

    stream: str | None = None
    field: str | None = Field(default=None, description="vendor field holding the correlation value")
    get: str | None = Field(default=None, description="entity to read by id")
    until: str

    @field_validator("until")
    @classmethod
    def _condition(cls, value: str, info: ValidationInfo) -> str:
        _check_expression(value, info, extra_roots=("record",))
        return value

    @model_validator(mode="after")
    def _one_source(self) -> PollSpec:
        if (self.stream is None) == (self.get is None):
            raise ValueError("a poll reads either a stream (with field) or a record by id (get)")
        if self.stream is not None and not self.field:
            raise ValueError("a stream poll needs field: the vendor field holding the correlation value")
        return self


class _Waiting(_Spec):
    """What waits share: a timeout, reminders, and the steps to run on timeout."""

    timeout: str | None = Field(default=None, description="give up after this long (none: wait forever)")
    remind_every: str | None = Field(default=None, description="log and audit a reminder this often")
    reminder: str = Field(default="", description="reminder text (a template)")

    _durations = field_validator("timeout", "remind_every")(_duration)

    @field_validator("reminder")
    @classmethod
    def _reminder(cls, value: str, info: ValidationInfo) -> str:
        _check_template(value, info)
        return value


class WaitSpec(_Waiting):
    """Wait for a connector event whose correlation ``key`` equals ``value``."""

    connector: str = Field(pattern=IDENT)
    event: str | list[str] = Field(description="event type(s) that end the wait")
    key: str = Field(min_length=1, description="correlation key of the event, or record_id")
    value: Any = Field(description="the value to wait for (a template)")
    poll: PollSpec | None = None
    # last, so that its nested steps are validated after this step's own templates
    on_timeout: list[Step] | None = None

    @field_validator("value")
    @classmethod
    def _value(cls, value: Any, info: ValidationInfo) -> Any:
        _check_template(value, info)
        return value

    @property
    def events(self) -> list[str]:
        return [self.event] if isinstance(self.event, str) else list(self.event)


class ManualSpec(_Waiting):
    """A person does something outside the hub and confirms it (``hub workflow confirm``)."""

    instructions: str = Field(min_length=1)
    fields: dict[str, InputSpec] = Field(default_factory=dict, description="values the person enters")
    on_timeout: list[Step] | None = None

    @field_validator("instructions")
    @classmethod
    def _instructions(cls, value: str, info: ValidationInfo) -> str:
        _check_template(value, info)
        return value

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: dict[str, InputSpec]) -> dict[str, InputSpec]:
        for name in value:
            if not _IDENT.match(name):
                raise ValueError(f"field name {name!r} must be lower_snake_case")
        return value


class BranchSpec(_Spec):
    """If/else: run ``then`` when the condition holds, ``else`` otherwise."""

    if_: str = Field(alias="if")
    then: list[Step] = Field(default_factory=list)
    else_: list[Step] = Field(default_factory=list, alias="else")

    @field_validator("if_")
    @classmethod
    def _condition(cls, value: str, info: ValidationInfo) -> str:
        _check_expression(value, info)
        return value


_KINDS = tuple(k.value for k in StepKind)


class Step(_Spec):
    """One step: an ``id``, optional ``title`` and ``when``, and exactly one kind key."""

    id: str = Field(pattern=IDENT)
    title: str | None = None
    when: str | None = Field(default=None, description="run only if this condition holds")
    action: ActionSpec | None = None
    write: WriteSpec | None = None
    check: CheckSpec | None = None
    wait: WaitSpec | None = None
    manual: ManualSpec | None = None
    branch: BranchSpec | None = None
    fail: str | None = Field(default=None, description="end the run as failed with this reason")
    foreach: ForeachSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _enter(cls, data: Any, info: ValidationInfo) -> Any:
        ctx = info.context
        if isinstance(ctx, dict) and isinstance(data, dict):
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
            _check_expression(value, info)
        return value

    @field_validator("fail")
    @classmethod
    def _fail(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            _check_template(value, info)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        kinds = [k for k in _KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            got = ", ".join(kinds) if kinds else "none"
            raise ValueError(f"a step needs exactly one of {', '.join(_KINDS)} (got {got})")
        return self

    @property
    def kind(self) -> StepKind:
        return next(StepKind(k) for k in _KINDS if getattr(self, k) is not None)

    @property
    def label(self) -> str:
        return self.title or self.id.replace("_", " ")

    def children(self) -> list[tuple[str, list[Step]]]:
        """Nested step lists: ``then``/``else`` of a branch, ``on_timeout`` of a wait."""
        if self.branch is not None:
            return [("then", self.branch.then), ("else", self.branch.else_)]
        waiting = self.wait or self.manual
        if waiting is not None and waiting.on_timeout:
            return [("on_timeout", waiting.on_timeout)]
        return []


class WorkflowDefinition(_Spec):
    """A whole workflow file."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,99}$")
    title: str = ""
    description: str = ""
    version: int = 1
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    vars: dict[str, Any] = Field(
        default_factory=dict, description="constants, e.g. service-area postal codes"
    )
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
                current=None,
            )
        return data

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, value: dict[str, InputSpec]) -> dict[str, InputSpec]:
        for name in value:
            if not _IDENT.match(name):
                raise ValueError(f"input name {name!r} must be lower_snake_case")
        return value

    @field_validator("templates")
    @classmethod
    def _template_values(cls, value: dict[str, dict[str, Any]], info: ValidationInfo) -> dict[str, Any]:
        _check_template(value, info)
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
        """Every step in run order with its nesting depth."""

        def visit(steps: list[Step], depth: int) -> Iterator[tuple[Step, int]]:
            for step in steps:
                yield step, depth
                for _label, children in step.children():
                    yield from visit(children, depth + 1)

        yield from visit(self.steps, 0)

    def step(self, step_id: str) -> Step:
        for step, _depth in self.walk():
            if step.id == step_id:
                return step
        raise ConfigError(f"workflow {self.name} has no step {step_id!r}")

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> WorkflowDefinition:
        """A definition stored with a run (so a run finishes with the steps it started with)."""
        return cls.model_validate(data, context={})

    def snapshot(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def load(cls, path: Path) -> WorkflowDefinition:
        """Validate ``path``; ConfigError ``file:line: where: what``; its name must be the file's."""
        from hub.yamlfile import load_yaml_lines, validate_yaml

        definition = validate_yaml(cls, path, context={})
        if definition.name != path.stem:
            _data, lines = load_yaml_lines(path)
            line = lines.get(("name",))
            where = f":{line}" if line else ""
            raise ConfigError(
                f"{path}{where}: name: {definition.name!r} must match the file name ({path.stem}.yaml)"
            )
        return definition


for _model in (WaitSpec, ManualSpec, BranchSpec, Step, WorkflowDefinition):
    _model.model_rebuild()
