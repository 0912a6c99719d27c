"""``write``: create, update, deactivate, read or list records of one vendor entity.

The write itself (mapping core fields to the vendor payload, the hooks, recovering an
interrupted create) is :class:`hub.workflow.writes.WriteRunner`; this module is the
step's schema, its checks and how a run and a preview call it.

Nothing is written that nobody gave: a field whose value renders empty (``null`` or
``""``) is left out of a create or an update, so a run never blanks a value someone
set, unless the step names the field under ``clear``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from hub.connector import ActionContext, Connector, parse_timestamp
from hub.errors import ConfigError, HubError
from hub.workflow.schema import IDENT, Spec, check_template, names
from hub.workflow.steps.base import ConnectorClasses, Outcome, StepHandler, connector_class
from hub.workflow.template import render

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.workflow.context import RunContext
    from hub.workflow.definition import Step
    from hub.workflow.preview import Planner
    from hub.workflow.runs import StepRecord
    from hub.workflow.writes import WriteRunner

__all__ = ["RecoverSpec", "WriteHandler", "WriteSpec", "holds", "prune_empty", "write_once"]

#: operations that change nothing at the vendor
READS = ("get", "list", "find")


class RecoverSpec(Spec):
    """How a retried create finds the record its interrupted first attempt may have made."""

    stream: str | None = Field(default=None, description="stream to read (default: the one of the entity)")
    match: list[str] = Field(default_factory=list, description="vendor fields that identify the record")


class WriteSpec(Spec):
    """A generic write: ``create``, ``update``, ``deactivate``, ``get``, ``list`` or ``find``.

    ``payload`` is sent as the vendor's own fields; ``record`` holds core fields that the
    connector's mapping turns into the vendor payload (picklists by label, references by
    id). ``template`` names an entry of the file's ``templates`` merged under either.
    ``list`` reads the entity's stream and keeps the records whose vendor fields equal
    ``where``; ``find`` asks the vendor for them (``Connector.find``).
    """

    connector: str = Field(pattern=IDENT)
    entity: str = Field(min_length=1)
    op: Literal["create", "update", "deactivate", "get", "list", "find"]
    id: Any = Field(default=None, description="the vendor id (update, deactivate, get)")
    where: dict[str, Any] | None = Field(
        default=None, description="list, find: vendor fields the records must equal (a template per value)"
    )
    template: str | None = None
    payload: dict[str, Any] | None = None
    record: dict[str, Any] | None = None
    clear: list[str] = Field(
        default_factory=list, description="fields written even when empty (the step clears them)"
    )
    recover: RecoverSpec | None = None

    @field_validator("id", "template", "payload", "record", "where")
    @classmethod
    def _templates(cls, value: Any, info: ValidationInfo) -> Any:
        check_template(value, info)
        ctx = info.context
        if (
            info.field_name == "template"
            and isinstance(value, str)
            and "{{" not in value
            and isinstance(ctx, dict)
        ):
            if "templates" in ctx and value not in ctx["templates"]:
                raise ValueError(f"{value!r} is not under templates; templates: {names(ctx['templates'])}")
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
        if self.op in ("deactivate", *READS) and (self.payload or self.record or self.template):
            raise ValueError(f"{self.op} takes no payload, record or template")
        if self.op in ("list", "find") and self.id not in (None, ""):
            raise ValueError(f"{self.op} takes no id; it selects records by where")
        if self.where is not None and self.op not in ("list", "find"):
            raise ValueError("where applies to list and find only")
        if self.op == "find" and not self.where:
            raise ValueError("find needs where: the vendor fields to look the records up by")
        if self.recover is not None and self.op != "create":
            raise ValueError("recover applies to create only (other writes are safe to repeat)")
        if self.clear and self.op not in ("create", "update"):
            raise ValueError("clear applies to create and update only")
        return self


def prune_empty(value: Mapping[str, Any], keep: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """``value`` without the fields that are ``null`` or ``""`` (nested mappings too), except ``keep``.

    ``keep`` names top-level fields (or dotted nested ones) a step clears on purpose. A
    nested mapping left with nothing in it is left out as well.
    """
    out: dict[str, Any] = {}
    for key, item in value.items():
        inner = [k.partition(".")[2] for k in keep if k.startswith(f"{key}.")]
        if isinstance(item, Mapping):
            pruned = prune_empty(item, inner) if key not in keep else dict(item)
            if pruned or key in keep:
                out[key] = pruned
        elif item is None or item == "":
            if key in keep:
                out[key] = item
        else:
            out[key] = item
    return out


def holds(current: Any, want: Any) -> bool:
    """Whether the vendor value ``current`` already is ``want`` (lists of named items by name)."""
    if isinstance(want, dict):
        return isinstance(current, dict) and all(holds(current.get(k), v) for k, v in want.items())
    if isinstance(want, list) and all(isinstance(i, dict) and "name" in i for i in want):
        named = {str(i.get("name")): i for i in current or [] if isinstance(i, dict)}
        return all(holds(named.get(str(i["name"])), i) for i in want)
    if current is None or want is None:
        return current is want
    if str(current).strip() == str(want).strip():
        return True
    # the same instant written one way and answered another (``...Z`` and ``....000Z``)
    instants = [parse_timestamp(v) if isinstance(v, str) and "T" in v else None for v in (current, want)]
    return None not in instants and instants[0] == instants[1]


def write_once(
    hub: Hub,
    runner: WriteRunner,
    spec: WriteSpec,
    names: Mapping[str, Any],
    templates: Mapping[str, dict[str, Any]],
    *,
    retry: bool,
    started_at: datetime,
    key: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Run one write; an update the record already holds, or a deactivation of an inactive
    record, is not sent. Returns the outputs and the operation for the audit log
    (``unchanged`` when nothing was sent).

    So a workflow run again on the same inputs changes nothing at the vendor: a repeated
    update finds its values in place (creates are guarded by a find step before them).
    """
    if spec.op == "deactivate" and _inactive(hub, spec, str(render(spec.id, names))):
        return {"id": str(render(spec.id, names)), "record": None, "unchanged": True}, "unchanged"
    if spec.op == "update":
        record_id = str(render(spec.id, names))
        _record, payload = runner.payload(spec, names, templates)
        try:
            current = hub.connector(spec.connector).get(spec.entity, record_id)
        except ConfigError:  # the connector cannot read single records: send the update
            current = None
        if current is not None and holds(current, payload):
            return {"id": record_id, "record": current, "payload": payload, "unchanged": True}, "unchanged"
    return runner.run(spec, names, templates, retry=retry, started_at=started_at, key=key), spec.op


def _inactive(hub: Hub, spec: WriteSpec, record_id: str) -> bool:
    """Whether the record is already inactive, as the connector's mapping reads its active field."""
    try:
        bound = hub.mapping(spec.connector).entity(spec.entity)
        field = bound.spec.active_field
        if field is None:
            return False
        core = bound.to_core(hub.connector(spec.connector).get(spec.entity, record_id), hub.connector(spec.connector))
    except HubError:  # unmapped, unreadable or gone: the deactivation itself says what is wrong
        return False
    return getattr(core, field, None) is False


class WriteHandler(StepHandler[WriteSpec]):
    kind = "write"
    spec = WriteSpec

    def execute(self, ctx: RunContext, step: Step, rec: StepRecord | None) -> Outcome:
        spec = step.spec
        assert isinstance(spec, WriteSpec)
        names = ctx.names()

        def effect(actx: ActionContext, retry: bool, started_at: Any) -> tuple[dict[str, Any], tuple[str, str, str]]:
            runner = ctx.engine.write_runner(ctx.run.actor)
            outputs, operation = write_once(ctx.hub, runner, spec, names, ctx.templates, retry=retry,
                                            started_at=started_at, key=actx.idempotency_key)  # fmt: skip
            return outputs, (spec.connector, spec.entity, operation)

        return ctx.side_effect(step, rec, effect, spec.connector)

    def lint(self, spec: WriteSpec, classes: ConnectorClasses) -> Iterator[tuple[str, str]]:
        cls, err = connector_class(classes, spec.connector)
        if cls is None:
            yield "connector", err
            return
        streams = {s.name: s for s in cls.stream_classes}
        if spec.op not in READS and spec.entity not in cls.writable:
            known = ", ".join(sorted(cls.writable)) or "none"
            yield "entity", f"{cls.name} cannot write {spec.entity!r}; writable: {known}"
        elif spec.recover and spec.recover.stream and spec.recover.stream not in streams:
            yield "recover.stream", f"{cls.name} has no stream {spec.recover.stream!r}"
        elif spec.op == "list" and not any(spec.entity in (s.entity, s.name) for s in cls.stream_classes):
            yield "entity", f"{cls.name} has no stream of {spec.entity!r} to list"
        elif spec.op == "find" and cls.find is Connector.find:
            yield "op", f"{cls.name} cannot look records up by field; use op: list"

    def preview(self, planner: Planner, step: Step, names: dict[str, Any]) -> dict[str, Any]:
        spec = step.spec
        assert isinstance(spec, WriteSpec)
        return planner.write(step, spec, names)

    def summary(self, spec: WriteSpec, result: dict[str, Any]) -> str:
        if spec.op in ("list", "find"):
            return f"{result.get('count', 0)} record(s)"
        return ""

