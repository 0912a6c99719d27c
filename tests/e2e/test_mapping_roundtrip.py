"""Mapping a vendor record to the core model and back is lossless for the fields a system owns.

For every built-in connector and every stream it reads, real records from its simulator go
vendor -> core -> vendor (the owned, writable fields) -> core; the owned fields must come
back equal. Hypothesis then drives arbitrary text through the text fields the same way.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.app import Hub
from hub.mapping import BoundMapping, set_path
from hub.models import ExternalRef, Record
from hub.sandbox import SandboxSet
from hub.settings import load_settings

pytestmark = pytest.mark.sandboxes(
    autotask={"size": 6, "seed": 2}, itglue={"size": 6, "seed": 2}, quickbooks={"size": 6, "seed": 2},
    docusign={"size": 6, "seed": 2}, ncentral={"size": 3, "seed": 2},
)  # fmt: skip


def writable_owned(mapping: BoundMapping) -> list[str]:
    owned = set(mapping.owned_fields())
    return [
        path
        for path, fm in mapping.spec.fields.items()
        if fm.direction == "both" and (path in owned or path.split(".", 1)[0] in owned)
    ]


def same_system_refs(mapping: BoundMapping, system: str) -> Any:
    return lambda ref: ref.id if ref.system == system else None


def roundtrip(mapping: BoundMapping, connector: Any, raw: dict[str, Any], core: Record, fields: list[str]) -> Record:
    payload = mapping.to_vendor(core, connector, fields=fields, resolve_ref=same_system_refs(mapping, connector.name))
    merged = copy.deepcopy(raw)
    for path, fm in mapping.spec.fields.items():
        if path in fields and isinstance(fm.vendor, str):
            from hub.mapping import get_path

            set_path(merged, fm.vendor, get_path(payload, fm.vendor))
    return mapping.to_core(merged, connector)


def owned_values(record: Record, fields: list[str]) -> dict[str, Any]:
    from hub.mapping import _core_get

    return {path: _core_get(record, path) for path in fields}


def test_real_records_round_trip_for_every_stream(sandboxes: SandboxSet) -> None:
    checked = 0
    with Hub(load_settings()) as hub:
        for name in sandboxes.sandboxes:
            connector = hub.connector(name)
            mapping_file = hub.mapping(name)
            for stream in connector.streams():
                mapping = mapping_file.entity(stream.mapping_entity)
                fields = writable_owned(mapping)
                if not fields:
                    continue
                page = next(iter(stream.read()))
                for raw in page.records[:10]:
                    core = mapping.to_core(raw, connector)
                    again = roundtrip(mapping, connector, raw, core, fields)
                    assert owned_values(again, fields) == owned_values(core, fields), (name, stream.name)
                    checked += 1
    assert checked >= 30


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40)
TEXT_FIELDS = {
    ("autotask", "Companies"): ["name"],
    ("autotask", "Contacts"): ["first_name", "last_name", "title"],
    ("itglue", "organizations"): ["name"],
    ("itglue", "contacts"): ["first_name", "last_name", "title"],
}


@pytest.mark.parametrize(("system", "entity"), sorted(TEXT_FIELDS))
def test_any_text_survives_the_round_trip(sandboxes: SandboxSet, system: str, entity: str) -> None:
    with Hub(load_settings()) as hub:
        connector = hub.connector(system)
        mapping = hub.mapping(system).entity(entity)
        stream = next(s for s in connector.streams() if s.mapping_entity == entity)
        raw = next(iter(stream.read())).records[0]
        base = mapping.to_core(raw, connector)
        fields = [f for f in TEXT_FIELDS[(system, entity)] if f in writable_owned(mapping)]
        assert fields, f"{system} {entity}: none of {TEXT_FIELDS[(system, entity)]} is owned and writable"

        @settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(st.fixed_dictionaries({f: TEXT.map(str.strip).filter(bool) for f in fields}))
        def check(values: dict[str, str]) -> None:
            core = base.model_copy(update=values)
            again = roundtrip(mapping, connector, raw, core, fields)
            assert owned_values(again, fields) == values

        check()


def test_references_keep_their_system(sandboxes: SandboxSet) -> None:
    with Hub(load_settings()) as hub:
        connector = hub.connector("autotask")
        mapping = hub.mapping("autotask").entity("Contacts")
        raw = next(iter(connector.stream("Contacts").read())).records[0]
        core = mapping.to_core(raw, connector)
        assert core.organization == ExternalRef(system="autotask", kind="organization", id=str(raw["companyID"]))
