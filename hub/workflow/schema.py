"""What every part of a workflow file shares: names, durations, inputs and reference checks.

A step kind's handler (:mod:`hub.workflow.steps`) owns the schema of its own key;
this module holds what those schemas have in common, so that a handler depends on it
and not on the file model (:mod:`hub.workflow.definition`) that is built from them.

Expressions and templates are parsed while a file is validated, and every name they
read is checked: ``inputs.x`` must be a declared input, ``vars.x`` a declared constant,
``steps.x`` a step that comes *earlier*. The declared names travel in the pydantic
validation context: the file's own before-validator collects them, and each step's
before-validator records which step is being validated (fields validate in declaration
order, so a step's own conditions are checked before its nested steps change it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from hub.errors import ConfigError
from hub.workflow.expr import ExpressionError, parse
from hub.workflow.template import template_expressions

__all__ = [
    "IDENT",
    "LOOP_NAME",
    "ROOTS",
    "InputSpec",
    "InputType",
    "Spec",
    "Waiting",
    "check_expression",
    "check_names",
    "check_template",
    "coerce_inputs",
    "names",
    "parse_duration",
]

IDENT = r"^[a-z][a-z0-9_]{0,62}$"
IDENT_RE = re.compile(IDENT)
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


def names(items: Iterable[str]) -> str:
    """Names listed for an error message (``none`` when there are none)."""
    return ", ".join(sorted(items)) or "none"


# -- reference checks -------------------------------------------------------------------


def check_expression(source: str, info: ValidationInfo, extra_roots: tuple[str, ...] = ()) -> None:
    """Parse a condition and check the names it reads (ValueError says which is wrong)."""
    try:
        expr = parse(source)
    except ExpressionError as exc:
        raise ValueError(str(exc)) from None
    _check_paths(expr.references(), info, extra_roots)


def check_template(value: Any, info: ValidationInfo, extra_roots: tuple[str, ...] = ()) -> None:
    """Parse every placeholder in ``value`` and check the names it reads."""
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
    looping = ctx.get("current") in ctx.get("loop_ids", ())
    roots = (*ROOTS, *extra_roots, *((LOOP_NAME,) if looping else ()))
    for path in paths:
        root = path[0]
        if root not in roots:
            raise ValueError(f"unknown name {root!r}; an expression can read {', '.join(roots)}")
        if len(path) < 2:
            continue
        name = path[1]
        if root == "inputs" and name not in ctx["inputs"]:
            raise ValueError(f"inputs.{name} is not a declared input; inputs: {names(ctx['inputs'])}")
        if root == "vars" and name not in ctx["vars"]:
            raise ValueError(f"vars.{name} is not declared under vars; vars: {names(ctx['vars'])}")
        if root == "steps":
            order = ctx["order"]
            current = ctx.get("current")
            if name not in order:
                raise ValueError(f"steps.{name}: there is no step {name!r}")
            if current in order and order[name] >= order[current]:
                raise ValueError(f"steps.{name}: step {name!r} does not run before {current!r}")


# -- inputs -----------------------------------------------------------------------------


class InputType(StrEnum):
    string = "string"
    integer = "integer"
    number = "number"
    boolean = "boolean"
    date = "date"
    email = "email"
    list = "list"
    time = "time"


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
        if kind is InputType.time:
            return _time_of_day(text)
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
        if kind is InputType.time:
            reason = "must be a time of day (HH:MM, 24-hour)"
        raise ConfigError(f"input {name}: {raw!r} {reason}") from None


def _time_of_day(text: Any) -> str:
    """``9:05`` or ``09:05`` -> ``09:05`` (a 24-hour time of day)."""
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", str(text))
    if not m:
        raise ValueError("not a time")
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def coerce_inputs(specs: dict[str, InputSpec], given: dict[str, Any], what: str = "input") -> dict[str, Any]:
    """Validate ``given`` against ``specs``: unknown, missing or ill-typed values raise ConfigError."""
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise ConfigError(f"unknown {what} {unknown[0]!r}; {what}s: {names(specs)}")
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in given and given[name] is not None and given[name] != "":
            values[name] = spec.coerce(name, given[name])
        elif spec.required:
            raise ConfigError(f"missing required {what} {name!r} (--set {name}=...)")
        else:
            values[name] = spec.default
    return values


def check_names(value: dict[str, Any], what: str) -> None:
    """Every key of ``value`` is lower_snake_case (ValueError naming the first that is not)."""
    for name in value:
        if not IDENT_RE.match(name):
            raise ValueError(f"{what} name {name!r} must be lower_snake_case")


# -- what step specs share ----------------------------------------------------------------


class Spec(BaseModel):
    """Base of every step kind's schema: unknown keys are errors, aliases (``with``, ``if``) allowed."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _duration(value: str | None) -> str | None:
    if value is not None:
        parse_duration(value)
    return value


class Waiting(Spec):
    """What waits share: a timeout, reminders (their ``on_timeout`` steps are each kind's own)."""

    timeout: str | None = Field(default=None, description="give up after this long (none: wait forever)")
    remind_every: str | None = Field(default=None, description="log and audit a reminder this often")
    reminder: str = Field(default="", description="reminder text (a template)")

    _durations = field_validator("timeout", "remind_every")(_duration)

    @field_validator("reminder")
    @classmethod
    def _reminder(cls, value: str, info: ValidationInfo) -> str:
        check_template(value, info)
        return value
