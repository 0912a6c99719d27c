"""The ``write`` step: create, update, deactivate or read one vendor record, or list records.

The payload is either the vendor's own fields (``payload``) or core fields
(``record``) that the connector's declarative mapping turns into the vendor payload,
resolving picklist labels through the connector and references through the crosswalk,
exactly as a sync would. Writes go out through the hub's one write path
(:mod:`hub.writes`): plugins may veto a mapped write, and a create whose answer was lost
is looked up before it is ever sent again.

A step retried after a crash does not know whether its first attempt reached the vendor,
so it looks first: a retried create for the record its first attempt made (the
connector's natural key, or the step's ``recover`` fields read back from the entity's
stream since the step started), a retried update for the values already in place. Where
that cannot be checked, the step stops and asks a person (:class:`OutcomeUnknown`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from hub.connector import Connector, Stream, WriteResult
from hub.errors import ConfigError, OutcomeUnknown, RecordRejected
from hub.mapping import BoundMapping, get_path
from hub.models import ExternalRef, Record
from hub.workflow.steps.write import RecoverSpec, WriteSpec, prune_empty
from hub.workflow.template import render
from hub.writes import LOOKUP_MARGIN, Outcome, PlannedWrite, WriteOutcome, Writer, same

__all__ = ["OutcomeUnknown", "WriteRunner", "deep_merge", "json_safe"]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``, merging nested mappings (a template under a step's values)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON data (step outputs are stored and read by templates)."""
    return json.loads(json.dumps(value, default=str))


class WriteRunner:
    """Runs ``write`` steps for one hub (its connectors, mappings, crosswalk and hooks)."""

    def __init__(self, hub: Any, job: str) -> None:
        self.hub = hub
        self.job = job

    def run(
        self,
        spec: WriteSpec,
        names: Mapping[str, Any],
        templates: Mapping[str, dict[str, Any]],
        *,
        retry: bool,
        started_at: datetime,
        key: str | None = None,
    ) -> dict[str, Any]:
        """Run one write step; ``key`` is its idempotency key (stable across its retries)."""
        connector: Connector = self.hub.connector(spec.connector)
        record_id = render(spec.id, names)
        if spec.op == "list":
            return self._list(connector, spec, names)
        if spec.op == "find":
            return self._find(connector, spec, names)
        if spec.op == "get":
            return {"id": str(record_id), "record": json_safe(connector.get(spec.entity, str(record_id)))}
        if spec.op == "deactivate":
            write = PlannedWrite(spec.connector, spec.entity, "deactivate", target_id=str(record_id), since=started_at)
            return self._outputs(self._send(write, retry=False).result)
        record, payload = self.payload(spec, names, templates)
        write = PlannedWrite(
            spec.connector, spec.entity, "create" if spec.op == "create" else "update", payload, record,
            target_id=None if spec.op == "create" else str(record_id), key=key, since=started_at,
            find=self._finder(connector, spec) if spec.op == "create" else None,
        )  # fmt: skip
        outcome = self._send(write, retry=retry)
        outputs = self._outputs(outcome.result)
        outputs["payload"] = json_safe(payload)
        if outcome.outcome is Outcome.recovered:
            outputs["recovered"] = True
        return outputs

    def _send(self, write: PlannedWrite, *, retry: bool) -> WriteOutcome:
        """Send through the one write path; a retried step looks for its first attempt's write first."""
        writer = Writer(self.hub, self.job)
        if retry:
            try:
                found = writer.find(write)
            except OutcomeUnknown:
                if write.op == "create":
                    raise  # cannot tell whether the first attempt made it: the step asks a person
                found = None  # an update applies by value: sending it again is harmless
            if found is not None:
                return WriteOutcome(write, Outcome.recovered, found)
        outcome = writer.send(write)
        if outcome.outcome is Outcome.unknown:
            raise OutcomeUnknown(
                f"{outcome.reason}; look in {write.system}, then confirm the step with the record's id "
                "(hub workflow confirm RUN STEP --set id=...) or run it again (hub workflow resume RUN)",
                connector=write.system,
            )
        if outcome.outcome is Outcome.vetoed:
            raise RecordRejected(f"a plugin vetoed the {write.op} of {write.system} {write.entity}: "
                                 f"{(outcome.reason or '').removeprefix('vetoed by a plugin: ')}")  # fmt: skip
        if not outcome.ok:
            raise RecordRejected(outcome.reason or f"{write.system} refused the {write.op}")
        return outcome

    def _list(self, connector: Connector, spec: WriteSpec, names: Mapping[str, Any]) -> dict[str, Any]:
        """Every record of the entity whose vendor fields equal ``where`` (read from its stream)."""
        stream = self._stream(connector, spec.entity, RecoverSpec())
        if stream is None:
            raise ConfigError(f"{spec.connector} has no stream of {spec.entity} to list")
        where = render(spec.where or {}, names)
        records = [
            raw
            for page in stream.read(since=None)
            for raw in page.records
            if all(_is(connector, spec.entity, f, get_path(raw, f), v) for f, v in where.items())
        ]
        return self._found(connector, spec, records, [str(stream.record_id(r)) for r in records])

    def _find(self, connector: Connector, spec: WriteSpec, names: Mapping[str, Any]) -> dict[str, Any]:
        """Every record of the entity whose vendor fields equal ``where``, looked up by the vendor."""
        records = connector.find(spec.entity, render(spec.where or {}, names))
        stream = self._stream(connector, spec.entity, RecoverSpec())
        ids = [str(stream.record_id(r) if stream is not None else r.get("id")) for r in records]
        return self._found(connector, spec, records, ids)

    def _found(
        self, connector: Connector, spec: WriteSpec, records: list[dict[str, Any]], ids: list[str]
    ) -> dict[str, Any]:
        """The outputs of list and find: the vendor records and ids, and by id each record in core
        fields (``core``: roles, labels) where the connector's mapping knows the entity."""
        core: dict[str, Any] = {}
        try:
            bound = self._mapping(spec.connector, spec.entity)
        except ConfigError:
            return {"records": json_safe(records), "ids": ids, "count": len(records), "core": core}
        for record_id, raw in zip(ids, records, strict=True):
            try:
                core[record_id] = bound.to_core(raw, connector).model_dump(mode="json")
            except RecordRejected:
                continue  # a record the mapping cannot read has no core view; its vendor fields remain
        return {"records": json_safe(records), "ids": ids, "count": len(records), "core": core}

    @staticmethod
    def _outputs(result: WriteResult | None) -> dict[str, Any]:
        assert result is not None  # a written or recovered outcome carries its result
        return {
            "id": str(result.id),
            "record": json_safe(result.record) if result.record is not None else None,
        }

    # -- building the payload ---------------------------------------------------------

    def payload(
        self, spec: WriteSpec, names: Mapping[str, Any], templates: Mapping[str, dict[str, Any]]
    ) -> tuple[Record | None, dict[str, Any]]:
        """The core record (for a ``record`` step) and the vendor payload a create or update sends.

        Only the fields the step gives are sent (and, on a create, the mapping's constants).
        """
        body = self._body(spec, names, templates)
        if spec.record is None:
            return None, body
        bound = self._mapping(spec.connector, spec.entity)
        record = self._record(bound, spec.connector, body, create=spec.op == "create")
        payload = bound.to_vendor(
            record,
            self.hub.connector(spec.connector),
            fields=self._touched(bound, body),
            resolve_ref=self._resolver(spec.connector),
            create=spec.op == "create",
        )
        return record, payload

    @staticmethod
    def _body(
        spec: WriteSpec, names: Mapping[str, Any], templates: Mapping[str, dict[str, Any]]
    ) -> dict[str, Any]:
        base: dict[str, Any] = {}
        if spec.template:
            name = render(spec.template, names)
            if not isinstance(name, str) or name not in templates:
                known = ", ".join(sorted(templates)) or "none"
                raise ConfigError(f"template {name!r} is not under templates ({known})")
            base = render(templates[name], names)
        own = render(spec.record if spec.record is not None else (spec.payload or {}), names)
        return prune_empty(deep_merge(base, own), spec.clear)

    def _mapping(self, connector: str, entity: str) -> BoundMapping:
        return self.hub.mapping(connector).entity(entity)

    @staticmethod
    def _record(bound: BoundMapping, system: str, data: dict[str, Any], *, create: bool) -> Record:
        """Core fields -> a core record; a plain id in a reference field is an id in ``system``.

        ``roles`` may be a mapping of role -> yes/no (the roles it names are set or
        cleared, the others left alone) or a list of the roles the contact has.
        """
        values = dict(data)
        if isinstance(values.get("roles"), dict):
            values["roles"] = {role for role, on in values["roles"].items() if on}
        for core_path, fm in bound.spec.fields.items():
            top = core_path.split(".", 1)[0]
            if fm.ref and "." not in core_path and values.get(top) not in (None, ""):
                given = values[top]
                if not isinstance(given, dict):
                    values[top] = {"system": system, "kind": fm.ref, "id": str(given)}
        model = bound.spec.model
        try:
            if create:
                return model.model_validate(values)
            record = model.model_construct()
            for key, value in values.items():
                if key not in model.model_fields:
                    raise RecordRejected(f"{bound.kind} has no field {key!r}")
                setattr(record, key, value)
            return record
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err.get("loc", ()))
            raise RecordRejected(f"{bound.kind} record: {where}: {err.get('msg')}") from None

    @staticmethod
    def _touched(bound: BoundMapping, data: dict[str, Any]) -> list[str]:
        """The mapping's core paths an update sets: only the fields the step names."""
        touched = []
        for core_path in bound.spec.fields:
            top, _, rest = core_path.partition(".")
            if top not in data:
                continue
            value = data[top]
            if top == "roles" and isinstance(value, dict):
                if rest in value:
                    touched.append(core_path)
            elif not rest or top == "roles" or (isinstance(value, dict) and rest in value):
                touched.append(core_path)
        return touched

    def _resolver(self, target: str) -> Any:
        def resolve(ref: ExternalRef) -> str | None:
            return self.hub.store.counterpart(ref.kind, ref.system, ref.id, target)

        return resolve

    # -- finding the record an interrupted create made -------------------------------------

    def _finder(self, connector: Connector, spec: WriteSpec) -> Any:
        """How a create whose outcome is unknown is looked up: by the step's ``recover`` spec
        if it has one, else the connector's natural key, else every scalar field of the
        payload read back from the entity's stream since the step started."""

        def find(write: PlannedWrite) -> WriteResult | None:
            if spec.recover is None:
                try:
                    return connector.find_created(write.entity, write.payload, since=self._since(write), key=write.key)
                except OutcomeUnknown:
                    pass  # no natural key: read the stream back
            return self._read_back(connector, spec, write)

        return find

    def _since(self, write: PlannedWrite) -> datetime:
        return (write.since or self.hub.clock.now()) - LOOKUP_MARGIN

    def _read_back(self, connector: Connector, spec: WriteSpec, write: PlannedWrite) -> WriteResult | None:
        recover = spec.recover or RecoverSpec()
        stream = self._stream(connector, spec.entity, recover)
        payload = write.payload
        fields = recover.match or [k for k, v in payload.items() if isinstance(v, str | int | float | bool)]
        if stream is None or not fields:
            why = "has no stream to read it back" if stream is None else "has no field to match it by"
            raise OutcomeUnknown(
                f"an earlier attempt to create {spec.connector} {spec.entity} was interrupted and the hub "
                f"cannot tell whether it made the record ({spec.connector} {why}); look in {spec.connector}, "
                "then confirm the step with the record's id (hub workflow confirm RUN STEP --set id=...) "
                "or run it again (hub workflow resume RUN)"
            )
        want = {f: get_path(payload, f) for f in fields}
        for page in stream.read(since=self._since(write)):
            for raw in page.records:
                if all(same(get_path(raw, f), v) for f, v in want.items()):
                    return WriteResult(stream.record_id(raw), raw)
        return None

    @staticmethod
    def _stream(connector: Connector, entity: str, recover: RecoverSpec) -> Stream | None:
        if recover.stream:
            return connector.stream(recover.stream)
        for stream in connector.streams():
            if stream.mapping_entity == entity or stream.name == entity:
                return stream
        return None


def _is(connector: Connector, entity: str, field: str, found: Any, want: Any) -> bool:
    """A ``where`` condition: the vendor value, or its picklist label (so workflows name
    picklist values by label, never by one tenant's code)."""
    if same(found, want):
        return True
    return isinstance(want, str) and found is not None and same(connector.picklist_label(entity, field, found), want)
