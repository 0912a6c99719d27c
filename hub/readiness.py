"""First-run readiness: what the hub's files and settings need from one connector's tenant.

Before a first sync, ``hub check CONNECTOR`` asks the connector whether its tenant has
everything the shipped (or the user's) mappings, workflows and settings name there:
fields the mapping reads and writes (an Autotask UDF), the picklist labels the hub
writes (ticket statuses, classifications, note types), the records it names by name
(resources, roles, products) and, from the connector's own settings, what they name (an
IT Glue flexible asset type, a DocuSign template). This module only *collects* those
needs, as :class:`~hub.connector.Need` s that say where they come from; the connector
checks them (:meth:`~hub.connector.Connector.readiness`) and creates what its API can
(:meth:`~hub.connector.Connector.fix`, ``hub check --fix``).

Needs come from:

* the connector's mapping file: every vendor field it maps, the labels of its picklist
  fields (required where the hub writes them, only read otherwise) and constants named
  ``{label: ...}``;
* every workflow's write steps to the connector: picklist fields given as literals, as
  ``vars`` (every value of the variable) or by the file's ``templates``;
* for the connector in the PSA role, the ticket labels of the ``rmm-alerts`` and ticket
  lifecycle settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from hub.connector import Need
from hub.errors import ConfigError
from hub.mapping import BoundMapping, Labelled, Mapping, NoMappingFile
from hub.workflow.definition import WorkflowDefinition, WriteSpec
from hub.workflow.library import WorkflowLibrary
from hub.workflow.steps.foreach import ForeachSpec

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["collect_needs"]

_VARS = re.compile(r"\bvars\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)")


def collect_needs(hub: Hub, connector: str) -> list[Need]:
    """Every need of ``connector``'s tenant, without duplicates (a write's kept over a read's)."""
    try:
        mapping = hub.mapping(connector)
    except NoMappingFile:  # it maps no records, so no mapping, workflow or setting names anything there
        return []
    needs: list[Need] = [*_mapping_needs(mapping)]
    library = WorkflowLibrary(hub.plugins.workflow_dirs(), hub.settings.workflows_dir, roles=hub.roles)
    for source in library.sources().values():
        definition = library.get(source.name)
        needs.extend(_workflow_needs(definition, connector, mapping))
    if connector == hub.settings.roles.psa:
        needs.extend(_settings_needs(hub, mapping))
    kept: dict[tuple[str, str, str, str | None], Need] = {}
    for need in needs:
        key = (need.kind, need.entity, need.field, need.value.casefold() if need.value else None)
        if key not in kept or (need.required and not kept[key].required):  # a write outranks a read
            kept[key] = need
    return list(kept.values())


def _mapping_needs(mapping: Mapping) -> Iterator[Need]:
    name = mapping.path.name
    for entity, spec in mapping.spec.entities.items():
        for core_path, fm in spec.fields.items():
            paths = fm.vendor if isinstance(fm.vendor, list) else [fm.vendor]
            where = f"mapping {name} {entity}.{core_path}"
            for path in paths:
                yield Need("field", entity, path, source=where, picklist=fm.picklist)
            if not fm.picklist or not isinstance(fm.vendor, str):
                continue
            written = _written_labels(fm.values) if fm.direction != "read" else set()
            for label in fm.values:
                if label != "*":
                    yield Need("value", entity, fm.vendor, label, where, required=label in written, picklist=True)
        for path, value in spec.constants.items():
            if isinstance(value, Labelled):
                yield Need("value", entity, path, value.label, f"mapping {name} {entity}.constants.{path}")


def _written_labels(values: dict[str, Any]) -> set[str]:
    """The labels a write uses: the last one listed for each core value (see hub.mapping)."""
    chosen: dict[str, str] = {}
    for label, core in values.items():
        if label != "*":
            chosen[str(core)] = label
    return set(chosen.values())


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str | int) and not isinstance(value, bool):
        yield str(value)


def _given(value: Any, variables: dict[str, Any]) -> list[str]:
    """The values a step's field can take: a literal, or every value of the vars it names."""
    if not isinstance(value, str):
        return list(_leaves(value)) if isinstance(value, int) and not isinstance(value, bool) else []
    if "{{" not in value:
        return [value]
    out: list[str] = []
    for path in _VARS.findall(value):
        found: Any = variables
        for part in path.split("."):  # vars.ticket.queue: that one value; vars.ticket: all of them
            found = found.get(part) if isinstance(found, dict) else None
        out.extend(_leaves(found))
    return out


def _writes(definition: WorkflowDefinition) -> Iterator[tuple[str, WriteSpec]]:
    """Every write step of the definition, a foreach's per-item write included (the walk
    visits the steps nested in branches and loops)."""
    for step, _depth in definition.walk():
        if isinstance(step.spec, WriteSpec):
            yield step.id, step.spec
        if isinstance(step.spec, ForeachSpec) and step.spec.write is not None:
            yield step.id, step.spec.write


def _workflow_needs(definition: WorkflowDefinition, connector: str, mapping: Mapping) -> Iterator[Need]:
    for step_id, write in _writes(definition):
        if write.connector != connector or write.op not in ("create", "update"):
            continue
        try:
            bound = mapping.entity(write.entity)
        except ConfigError:
            continue
        where = f"workflow {definition.name} step {step_id}"
        bodies: list[tuple[str, dict[str, Any]]] = []
        if write.record is not None:
            bodies.append((where, write.record))
        if write.template:
            bodies.extend(
                (f"workflow {definition.name} templates.{name}", body) for name, body in definition.templates.items()
            )
        for source, body in bodies:
            yield from _record_needs(bound, body, definition.vars, source)


def _record_needs(bound: BoundMapping, body: dict[str, Any], variables: dict[str, Any], source: str) -> Iterator[Need]:
    """The labels a core record gives the mapping's picklist fields (``roles`` are the mapping's)."""
    for core_path, value in body.items():
        fm = bound.spec.fields.get(core_path)
        if fm is None or not fm.picklist or not isinstance(fm.vendor, str) or fm.direction == "read":
            continue
        written = {str(core): label for label, core in fm.values.items() if label != "*"}  # the last wins
        for given in _given(value, variables):
            label = written.get(given, given)
            yield Need("value", bound.entity, fm.vendor, label, f"{source} {core_path}", picklist=True)


def _settings_needs(hub: Hub, mapping: Mapping) -> Iterator[Need]:
    """Ticket labels the ``rmm-alerts`` and lifecycle settings name (``HUB_RMM_ALERTS__*``, ...)."""
    alerts, lifecycle = hub.settings.rmm_alerts, hub.settings.lifecycle
    ticket: list[tuple[str, str | None, str]] = [
        ("queue", alerts.queue, "HUB_RMM_ALERTS__QUEUE"),
        ("ticket_type", alerts.ticket_type, "HUB_RMM_ALERTS__TICKET_TYPE"),
        ("source", alerts.source, "HUB_RMM_ALERTS__SOURCE"),
        ("status", alerts.new_status, "HUB_RMM_ALERTS__NEW_STATUS"),
        ("status", alerts.auto_resolved_status, "HUB_RMM_ALERTS__AUTO_RESOLVED_STATUS"),
        ("status", alerts.reopened_status, "HUB_RMM_ALERTS__REOPENED_STATUS"),
        *(("priority", label, "HUB_RMM_ALERTS__PRIORITIES") for label in alerts.priorities.values()),
    ]
    if lifecycle.enabled:
        ticket += [
            ("status", lifecycle.waiting_customer, "HUB_LIFECYCLE__WAITING_CUSTOMER"),
            ("status", lifecycle.no_response, "HUB_LIFECYCLE__NO_RESPONSE"),
            ("status", lifecycle.auto_complete, "HUB_LIFECYCLE__AUTO_COMPLETE"),
            ("status", lifecycle.complete, "HUB_LIFECYCLE__COMPLETE"),
            ("status", lifecycle.reopened, "HUB_LIFECYCLE__REOPENED"),
        ]
    yield from _core_labels(mapping, "ticket", ticket)
    yield from _core_labels(mapping, "note", [("publish", alerts.note_publish, "HUB_RMM_ALERTS__NOTE_PUBLISH")])


def _core_labels(mapping: Mapping, kind: str, items: Iterable[tuple[str, str | None, str]]) -> Iterator[Need]:
    try:
        bound = mapping.for_kind(kind)
    except ConfigError:
        return
    for core_path, label, setting in items:
        fm = bound.spec.fields.get(core_path)
        if label and fm is not None and fm.picklist and isinstance(fm.vendor, str):
            yield Need("value", bound.entity, fm.vendor, label, f"setting {setting}", picklist=True)
