"""``wait`` (for a vendor event) and ``manual`` (a person confirms): steps that block a run.

A wait is stored as a small document on its step row (``waiting_on``), complete in
itself, so that an event, a poll, a person or a timeout can end it without the
definition (:mod:`hub.workflow.waits`). Both kinds take a ``timeout`` with
``on_timeout`` steps, and reminders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from hub.errors import ConfigError
from hub.workflow import waits
from hub.workflow.runs import StepStatus
from hub.workflow.schema import (
    IDENT,
    InputSpec,
    Spec,
    Waiting,
    check_expression,
    check_names,
    check_template,
    parse_duration,
)
from hub.workflow.steps.base import Child, ConnectorClasses, Outcome, StepHandler, connector_class
from hub.workflow.template import render

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from hub.workflow.context import RunContext
    from hub.workflow.definition import Step
    from hub.workflow.preview import Planner
    from hub.workflow.runs import StepRecord

__all__ = ["ManualHandler", "ManualSpec", "PollSpec", "WaitHandler", "WaitSpec", "WaitingHandler"]


class PollSpec(Spec):
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
        check_expression(value, info, extra_roots=("record",))
        return value

    @model_validator(mode="after")
    def _one_source(self) -> PollSpec:
        if (self.stream is None) == (self.get is None):
            raise ValueError("a poll reads either a stream (with field) or a record by id (get)")
        if self.stream is not None and not self.field:
            raise ValueError("a stream poll needs field: the vendor field holding the correlation value")
        return self


class WaitSpec(Waiting):
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
        check_template(value, info)
        return value

    @property
    def events(self) -> list[str]:
        return [self.event] if isinstance(self.event, str) else list(self.event)


class ManualSpec(Waiting):
    """A person does something outside the hub and confirms it (``hub workflow confirm``).

    ``fields`` are the values the person enters (a form in the console); ``prefill``
    gives some of them a starting value from what the systems already say (a template
    per field), which the person keeps or changes.
    """

    instructions: str = Field(min_length=1)
    fields: dict[str, InputSpec] = Field(default_factory=dict, description="values the person enters")
    prefill: dict[str, Any] = Field(default_factory=dict, description="field -> its starting value (a template)")
    on_timeout: list[Step] | None = None

    @field_validator("instructions")
    @classmethod
    def _instructions(cls, value: str, info: ValidationInfo) -> str:
        check_template(value, info)
        return value

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: dict[str, InputSpec]) -> dict[str, InputSpec]:
        check_names(value, "field")
        return value

    @field_validator("prefill")
    @classmethod
    def _prefill(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        check_template(value, info)
        return value

    @model_validator(mode="after")
    def _prefill_fields(self) -> ManualSpec:
        unknown = sorted(set(self.prefill) - set(self.fields))
        if unknown:
            raise ValueError(f"prefill names {unknown[0]!r}, which is not under fields")
        return self


def deadlines(spec: Waiting, now: datetime) -> dict[str, Any]:
    return {
        "deadline_at": now + parse_duration(spec.timeout) if spec.timeout else None,
        "remind_at": now + parse_duration(spec.remind_every) if spec.remind_every else None,
    }


class WaitingHandler(StepHandler[Any]):
    """What ``wait`` and ``manual`` share: ``on_timeout`` steps run when the wait times out."""

    nested = ("on_timeout",)

    def children(self, spec: Any) -> list[Child]:
        return [Child("on_timeout", spec.on_timeout, ("on_timeout",))] if spec.on_timeout else []

    def chosen(self, spec: Any, rec: StepRecord) -> list[Step]:
        return list(spec.on_timeout or []) if rec.status is StepStatus.timed_out else []


class WaitHandler(WaitingHandler):
    kind = "wait"
    spec = WaitSpec

    def execute(self, ctx: RunContext, step: Step, rec: StepRecord | None) -> Outcome:
        spec = step.spec
        assert isinstance(spec, WaitSpec)
        names = ctx.names()
        value = render(spec.value, names)
        if value is None or value == "":
            return ctx.fail(step, f"the value to wait for ({spec.value}) is empty")
        waiting_on = {
            "type": "event",
            "connector": spec.connector,
            "events": spec.events,
            "key": spec.key,
            "value": str(value),
            "poll": spec.poll.model_dump(exclude_none=True) if spec.poll else None,
            "timeout": spec.timeout,
            "remind_every": spec.remind_every,
            "reminder": str(render(spec.reminder, names) or ""),
        }
        ctx.wait(step, waiting_on, deadlines(spec, ctx.now()))
        early = waits.stored_event(ctx.hub.store, waiting_on, ctx.run.record.created_at)
        key = ctx.key(step)
        if early is not None:
            detail = f"{early.connector} {early.type} {early.id} (received before the wait)"
            ctx.engine.end_wait(ctx.run.record, key, waits.event_outputs(early), detail)
            ctx.refresh(key)
            return Outcome.proceed
        ctx.block(key)
        return Outcome.blocked

    def lint(self, spec: WaitSpec, classes: ConnectorClasses) -> Iterator[tuple[str, str]]:
        cls, err = connector_class(classes, spec.connector)
        if cls is None:
            yield "connector", err
            return
        streams = sorted(s.name for s in cls.stream_classes)
        if spec.poll and spec.poll.stream and spec.poll.stream not in streams:
            known = ", ".join(streams) or "none"
            yield "poll.stream", f"{cls.name} has no stream {spec.poll.stream!r}; streams: {known}"

    def preview(self, planner: Planner, step: Step, names: dict[str, Any]) -> dict[str, Any]:
        spec = step.spec
        assert isinstance(spec, WaitSpec)
        return planner.wait(step, spec, names)

    def summary(self, spec: WaitSpec, result: dict[str, Any]) -> str:
        return f"{result.get('type')} received" if result.get("source") == "event" else ""


class ManualHandler(WaitingHandler):
    kind = "manual"
    spec = ManualSpec

    def execute(self, ctx: RunContext, step: Step, rec: StepRecord | None) -> Outcome:
        spec = step.spec
        assert isinstance(spec, ManualSpec)
        names = ctx.names()
        fields = {k: v.model_dump(mode="json", exclude_none=True) for k, v in spec.fields.items()}
        for name, value in prefilled(spec, names).items():
            fields[name]["default"] = value
        waiting_on = {
            "type": "manual",
            "instructions": str(render(spec.instructions, names)),
            "fields": fields,
            "timeout": spec.timeout,
            "remind_every": spec.remind_every,
            "reminder": str(render(spec.reminder, names) or ""),
        }
        ctx.wait(step, waiting_on, deadlines(spec, ctx.now()))
        ctx.block(ctx.key(step))
        return Outcome.blocked

    def preview(self, planner: Planner, step: Step, names: dict[str, Any]) -> dict[str, Any]:
        spec = step.spec
        assert isinstance(spec, ManualSpec)
        return planner.manual(step, spec, names, prefilled(spec, names))


def prefilled(spec: ManualSpec, names: dict[str, Any]) -> dict[str, Any]:
    """The starting values that fit their fields (a value the systems hold that does not fit is left out)."""
    values: dict[str, Any] = {}
    for name, template in spec.prefill.items():
        raw = render(template, names)
        if raw is None or raw == "" or raw == []:
            continue
        try:
            values[name] = spec.fields[name].coerce(name, raw)
        except ConfigError:
            continue
    return values
