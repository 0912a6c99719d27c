"""HTML forms generated from a workflow's declared inputs (or a manual step's fields).

Each declared value becomes one labelled control of its type: a date picker, a
choice list, a number, a time of day, a yes/no choice, an e-mail or a text box. What a person
enters is checked exactly as ``hub workflow start --set`` checks it (the input's own
``coerce``); the errors are shown beside each field instead of one line for the
first, and the values go to the engine as text, as the CLI sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.errors import ConfigError
from hub.workflow.definition import InputSpec, InputType

__all__ = ["FormField", "fields_for", "parse_specs", "validate"]

_WIDGETS = {
    InputType.date: "date",
    InputType.email: "email",
    InputType.integer: "number",
    InputType.number: "number",
    InputType.time: "time",
}


@dataclass
class FormField:
    name: str
    label: str
    #: text, email, number, date, time, select or yesno
    widget: str
    required: bool
    description: str = ""
    choices: list[str] = field(default_factory=list)
    value: str = ""
    error: str | None = None
    step: str | None = None
    #: list inputs take several values separated by commas
    hint: str = ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_specs(raw: Mapping[str, Any]) -> dict[str, InputSpec]:
    """Field specs as a waiting manual step stores them (JSON) back into :class:`InputSpec`."""
    return {name: InputSpec.model_validate(spec) for name, spec in raw.items()}


def fields_for(specs: Mapping[str, InputSpec], given: Mapping[str, str] | None = None,
               errors: Mapping[str, str] | None = None) -> list[FormField]:  # fmt: skip
    """One form field per spec, filled with what was entered (else the default)."""
    given = given or {}
    errors = errors or {}
    out: list[FormField] = []
    for name, spec in specs.items():
        if spec.choices:
            widget = "select"
        elif spec.type is InputType.boolean:
            widget = "yesno"
        else:
            widget = _WIDGETS.get(spec.type, "text")
        out.append(
            FormField(
                name=name,
                label=name.replace("_", " "),
                widget=widget,
                required=spec.required,
                description=spec.description,
                choices=list(spec.choices or []),
                value=given[name] if name in given else _text(spec.default),
                error=errors.get(name),
                step="1" if spec.type is InputType.integer else ("any" if spec.type is InputType.number else None),
                hint="several values: separate them with commas" if spec.type is InputType.list else "",
            )
        )
    return out


def validate(specs: Mapping[str, InputSpec], form: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The entered values of ``specs`` (text, empty ones left out) and an error per bad field."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, spec in specs.items():
        raw = str(form.get(name, "")).strip()
        if spec.type is InputType.boolean and raw:
            raw = {"yes": "true", "no": "false"}.get(raw, raw)
        if not raw:
            if spec.required:
                errors[name] = "required"
            continue
        try:
            spec.coerce(name, raw)
        except ConfigError as exc:
            errors[name] = str(exc).removeprefix(f"input {name}: ")
            continue
        values[name] = raw
    return values, errors
