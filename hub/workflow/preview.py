"""``hub workflow preview``: every write a run would make, in every system, before it starts.

The whole workflow is planned against live reads: ``get``, ``list`` and ``find`` steps
read the vendors as a run would; a create or an update is built exactly as a run builds
it (the mapping, picklists by label, references through the crosswalk) but not sent,
and an update is compared with the record as it is now, so a step that would change
nothing says so. Actions are listed with their parameters. What only a person or a
vendor event can tell (a manual step's answer, an envelope's signature) is assumed to
go the expected way (the form's prefilled values, the first awaited event) and marked,
and a value that depends on a record not made yet shows as ``<step.field>``.

Nothing is written to a vendor or to the state store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from hub.errors import ConfigError, HubError
from hub.workflow.definition import Step, WorkflowDefinition, coerce_inputs
from hub.workflow.expr import ExpressionError, parse
from hub.workflow.kinds import handler
from hub.workflow.schema import LOOP_NAME
from hub.workflow.steps.action import ActionSpec, action_params
from hub.workflow.steps.branch import BranchSpec
from hub.workflow.steps.check import CheckSpec
from hub.workflow.steps.foreach import ForeachSpec
from hub.workflow.steps.wait import ManualSpec, WaitSpec
from hub.workflow.steps.workflow import WorkflowSpec, prune_nulls
from hub.workflow.steps.write import READS, WriteSpec, holds
from hub.workflow.template import render
from hub.workflow.writes import WriteRunner, json_safe

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["Pending", "PlannedStep", "Planner", "preview"]


class Pending(dict[str, Any]):
    """The outputs of a step that has not run: any field reads as ``<step.field>``."""

    def __init__(self, label: str, known: Mapping[str, Any] | None = None) -> None:
        super().__init__(known or {})
        self.label = label

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key, f"<{self.label}.{key}>")


class Stop(Exception):
    """The run would stop here (a failed check, a fail step, an error)."""


@dataclass
class PlannedStep:
    """One line of the preview: a step and what it would do."""

    step: str
    kind: str
    #: write (create, update, deactivate), action, read, unchanged, wait, ask, check, skip, note, unknown, stop
    what: str
    detail: str
    system: str | None = None
    entity: str | None = None
    operation: str | None = None
    record_id: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)


class Planner:
    """Plans one workflow run against live reads (see the module's docstring).

    Steps are keyed as a run keys them (``loop[12].x``, ``sub.x``); ``prefix`` is the
    scope being planned and ``templates`` its file's templates.
    """

    def __init__(self, hub: Hub, actor: str, templates: Mapping[str, dict[str, Any]]) -> None:
        self.hub = hub
        self.runner = WriteRunner(hub, actor)
        self.templates = templates
        self.items: list[PlannedStep] = []
        self.values: dict[str, Any] = {}
        self.prefix = ""
        #: the payloads of planned creates, by the placeholder that stands for their id
        self.created: dict[str, dict[str, Any]] = {}

    # -- walking ----------------------------------------------------------------------

    def key(self, step: Step) -> str:
        return f"{self.prefix}{step.id}"

    def walk(self, steps: list[Step], names: dict[str, Any]) -> None:
        for step in steps:
            here = {**names, "steps": {**(names.get("steps") or {}), **self.scope_values(self.prefix)}}
            try:
                if step.when is not None and not parse(step.when).test(here):
                    self.add(self.key(step), step.kind, "skip", f"skipped: {step.when} is false")
                    self.values[self.key(step)] = {"skipped": True}
                    continue
                outputs = handler(step.kind).preview(self, step, here)
            except ExpressionError as exc:
                # most often a value only an earlier step's real outputs will give (a list a vendor returns)
                self.add(self.key(step), step.kind, "unknown", f"cannot be planned before the run: {exc}")
                self.values[self.key(step)] = Pending(self.key(step))
                continue
            except (ConfigError, HubError) as exc:
                self.add(self.key(step), step.kind, "stop", f"the run would stop here: {exc}")
                raise Stop from None
            self.values[self.key(step)] = outputs

    def scope_values(self, prefix: str) -> dict[str, Any]:
        """The planned outputs of the steps directly under ``prefix``, by step id."""
        return {
            k[len(prefix) :]: v
            for k, v in self.values.items()
            if k.startswith(prefix) and not any(c in k[len(prefix) :] for c in ".[")
        }

    def add(self, key: str, kind: str, what: str, detail: str, **extra: Any) -> None:
        self.items.append(PlannedStep(key, kind, what, detail, **extra))

    def stop(self, step: Step, detail: str) -> None:
        """The run would end here: record why and end the preview."""
        self.add(self.key(step), step.kind, "stop", detail)
        raise Stop

    # -- the kinds ----------------------------------------------------------------------

    def write(self, step: Step, spec: WriteSpec, names: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        key = key or self.key(step)
        where = {"system": spec.connector, "entity": spec.entity}
        if spec.op in READS:
            waits_on = _placeholders(render(spec.where if spec.op != "get" else spec.id, names))
            if spec.op == "get" and waits_on and waits_on[0] in self.created:
                self.add(key, "write", "read", f"reads {spec.connector} {spec.entity} {waits_on[0]} "
                         "(as the run would have made it)", operation=spec.op, **where)  # fmt: skip
                return {"id": waits_on[0], "record": self.created[waits_on[0]]}
            if waits_on:
                later = f"reads {spec.connector} {spec.entity} ({spec.op}) once {', '.join(waits_on)} exist(s)"
                self.add(key, "write", "read", f"{later}: nothing to read yet", operation=spec.op, **where)
                return Pending(key, {"records": [], "ids": [], "count": 0})
            outputs = self.runner.run(spec, names, self.templates, retry=False, started_at=self.hub.clock.now())
            found = f"{outputs['count']} record(s)" if "count" in outputs else f"id {outputs.get('id')}"
            self.add(key, "write", "read", f"reads {spec.connector} {spec.entity} ({spec.op}): {found}",
                     operation=spec.op, **where)  # fmt: skip
            return dict(outputs)
        record_id = str(render(spec.id, names)) if spec.id is not None else None
        if spec.op == "deactivate":
            self.add(key, "write", "write", f"deactivates {spec.connector} {spec.entity} {record_id}",
                     operation="deactivate", record_id=record_id, **where)  # fmt: skip
            return Pending(key, {"id": record_id})
        try:
            _record, payload = self.runner.payload(spec, names, self.templates)
        except HubError:
            given = render(spec.record if spec.record is not None else spec.payload or {}, names)
            waiting = _placeholders(given)
            if not waiting:
                raise
            # the record cannot be built yet (an e-mail a person has not given): show what the step names
            self.add(key, "write", "write", f"{spec.op}s {spec.connector} {spec.entity} with values known once "
                     f"{', '.join(dict.fromkeys(waiting))} exist", operation=spec.op, changes=json_safe(given),
                     record_id=record_id, **where)  # fmt: skip
            return Pending(key, {"record": given, "payload": given})
        payload = json_safe(payload)
        if spec.op == "create":
            self.add(key, "write", "write", f"creates {spec.connector} {spec.entity}", operation="create",
                     changes=payload, **where)  # fmt: skip
            self.created[f"<{key}.id>"] = payload
            return Pending(key, {"record": payload, "payload": payload})
        assert record_id is not None
        changes = self._changed(spec, record_id, payload)
        if changes:
            self.add(key, "write", "write", f"updates {spec.connector} {spec.entity} {record_id}",
                     operation="update", record_id=record_id, changes=changes, **where)  # fmt: skip
        else:
            self.add(key, "write", "unchanged", f"{spec.connector} {spec.entity} {record_id} already has these values",
                     operation="update", record_id=record_id, **where)  # fmt: skip
        return Pending(key, {"id": record_id, "payload": payload})

    def _changed(self, spec: WriteSpec, record_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The fields of ``payload`` that differ from the record as it is now (all, if it cannot be read)."""
        if record_id.startswith("<"):
            return payload
        try:
            current = self.hub.connector(spec.connector).get(spec.entity, record_id)
        except (ConfigError, HubError):
            return payload
        return {k: v for k, v in payload.items() if not holds(current.get(k), v)}

    def action(self, step: Step, spec: ActionSpec, names: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        key = key or self.key(step)
        detail = f"runs {spec.connector}.{spec.name}"
        try:
            params = action_params(self.hub, spec, names).model_dump(mode="json", exclude_none=True)
        except ConfigError:
            params = json_safe(render(spec.with_, names))
            waiting = _placeholders(params)
            if not waiting:
                raise
            # parameters that only earlier steps will give (a customer id a person picks)
            detail += f" with values known once {', '.join(dict.fromkeys(waiting))} exist"
        self.add(key, "action", "action", detail, system=spec.connector, operation=spec.name, changes=params)
        return Pending(key)

    def check(self, step: Step, spec: CheckSpec, names: dict[str, Any]) -> dict[str, Any]:
        if parse(spec.that).test(names):
            self.add(self.key(step), step.kind, "check", f"passes: {spec.that}")
            return {"passed": True}
        reason = str(render(spec.message, names) or "") or f"check failed: {spec.that}"
        if spec.on_fail == "fail":
            self.stop(step, f"the run would stop here: {reason}")
        self.add(self.key(step), step.kind, "check", f"does not pass, the run goes on: {reason}")
        return {"passed": False, "reason": reason}

    def wait(self, step: Step, spec: WaitSpec, names: dict[str, Any]) -> dict[str, Any]:
        self.add(self.key(step), step.kind, "wait", f"waits for {spec.connector} {' or '.join(spec.events)}; "
                 f"the preview goes on as if {spec.events[0]} came")  # fmt: skip
        return Pending(self.key(step), {"source": "event", "type": spec.events[0]})

    def manual(self, step: Step, spec: ManualSpec, names: dict[str, Any], prefill: dict[str, Any]) -> dict[str, Any]:
        answers = {name: f.default for name, f in spec.fields.items() if f.default is not None}
        answers.update(prefill)
        shown = f" (prefilled: {', '.join(f'{k}={v}' for k, v in prefill.items())})" if prefill else ""
        self.add(self.key(step), step.kind, "ask", f"asks a person: {render(spec.instructions, names)}{shown}")
        return Pending(self.key(step), {**answers, "confirmed": True})

    def branch(self, step: Step, spec: BranchSpec, names: dict[str, Any]) -> dict[str, Any]:
        taken = "then" if parse(spec.if_).test(names) else "else"
        self.add(self.key(step), step.kind, "note", f"takes {taken}: {spec.if_}")
        self.values[self.key(step)] = {"taken": taken}
        self.walk(spec.then if taken == "then" else spec.else_, names)
        return {"taken": taken}

    def foreach(self, step: Step, spec: ForeachSpec, names: dict[str, Any]) -> dict[str, Any]:
        items = render(spec.items, names)
        if not isinstance(items, list):
            raise ConfigError(f"foreach: items is {type(items).__name__}, not a list")
        key = self.key(step)
        count = 0
        for n, item in enumerate(items):
            item_names = {**names, LOOP_NAME: item}
            if spec.when is not None and not parse(spec.when).test(item_names):
                continue
            count += 1
            item_key = str(render(spec.key, item_names)) if spec.key else str(n)
            if spec.action is not None:
                self.action(step, spec.action, item_names, key=f"{key}[{item_key}]")
            elif spec.write is not None:
                self.write(step, spec.write, item_names, key=f"{key}[{item_key}]")
            else:
                assert spec.steps is not None
                outer = self.prefix
                self.prefix = f"{key}[{item_key}]."
                try:
                    self.walk(spec.steps, item_names)
                finally:
                    self.prefix = outer
        self.add(key, step.kind, "note", f"{count} of {len(items)} item(s)")
        return {"count": count}

    def workflow(self, step: Step, spec: WorkflowSpec, names: dict[str, Any]) -> dict[str, Any]:
        definition = spec.resolved()
        inputs = coerce_inputs(definition.inputs, prune_nulls(render(spec.with_, names)))
        outer, templates = self.prefix, self.templates
        self.prefix, self.templates = f"{self.key(step)}.", definition.templates
        try:
            self.walk(definition.steps, _names(definition, inputs, names["run"]))
            return self.scope_values(self.prefix)
        finally:
            self.prefix, self.templates = outer, templates


def _placeholders(value: Any) -> list[str]:
    """The ``<step.field>`` values in ``value``: what a read would need from records not made yet."""
    if isinstance(value, str):
        return [value] if value.startswith("<") and value.endswith(">") else []
    if isinstance(value, dict):
        return [p for v in value.values() for p in _placeholders(v)]
    if isinstance(value, list):
        return [p for v in value for p in _placeholders(v)]
    return []


def _names(definition: WorkflowDefinition, inputs: dict[str, Any], run: Any) -> dict[str, Any]:
    return {"inputs": inputs, "vars": definition.vars, "steps": {}, "run": run}


def preview(hub: Hub, definition: WorkflowDefinition, given: Mapping[str, Any]) -> dict[str, Any]:
    """Plan a run of ``definition`` with ``given`` inputs: every step, and what it would do."""
    inputs = coerce_inputs(definition.inputs, dict(given))
    planner = Planner(hub, f"workflow:{definition.name}", definition.templates)
    run = {"id": "<run>", "workflow": definition.name, "started_at": hub.clock.now().isoformat(),
           "timezone": hub.settings.timezone}  # fmt: skip
    stopped = False
    try:
        planner.walk(definition.steps, _names(definition, inputs, run))
    except Stop:
        stopped = True
    writes = [p for p in planner.items if p.what in ("write", "action")]
    return {
        "workflow": definition.name,
        "inputs": inputs,
        "complete": not stopped,
        "writes": len(writes),
        "systems": sorted({p.system for p in writes if p.system}),
        "steps": [asdict(p) for p in planner.items],
    }
