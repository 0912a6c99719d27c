"""Picklist and user-defined-field vocabulary: labels <-> stored values, per entity.

Autotask stores picklist fields (``companyType``, ticket ``status``, ``queueID``, ...)
and picklist UDFs as numeric codes that differ between databases; mappings and
workflows name them by label ("Customer", "Pending Paperwork", "R0"). The definitions
come from ``V1.0/{Entity}/entityInformation/fields`` and
``V1.0/{Entity}/entityInformation/userDefinedFields`` and are fetched once per entity
per run (one :class:`Vocabulary` lives as long as its connector).

Labels match case-insensitively and with any dash or run of spaces treated alike,
because procedures write "scheduled" + en dash + "external tech" for "Scheduled - external tech".

A field that references a resource, a role or a product (``assignedResourceID``,
``ownerResourceID``, ``productID``) is named the same way, by the record's name; the
connector looks it up (:meth:`AutotaskConnector.named`). A number given there is taken
as the id itself (a person typed it), so nothing in a shipped file has to be an id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.sdk import ConfigError

__all__ = ["FieldInfo", "Vocabulary", "udf_name"]

_UDF_PATH = re.compile(r"^userDefinedFields\[name=(?P<name>[^\]]+)\]\.value$")


def udf_name(field_path: str) -> str | None:
    """``userDefinedFields[name=Help Desk].value`` -> ``Help Desk`` (mapping paths)."""
    m = _UDF_PATH.match(field_path)
    return m.group("name").strip() if m else None


def _norm(label: str) -> str:
    text = re.sub(r"[\u2010-\u2015\-]+", "-", label.strip().casefold())
    return re.sub(r"\s+", " ", text)


@dataclass
class FieldInfo:
    """One field's picklist: value (as text) -> label, normalized label -> value, the default.

    ``default`` is the value flagged ``isDefaultValue`` (what the Autotask UI preselects),
    else the first active value by ``sortOrder``: a write that must fill a required
    picklist the workflow does not name (a portal user's date format) takes it.
    """

    name: str
    is_picklist: bool
    labels: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    default: str | None = None
    #: the entity a reference field points at, when it is one named by name (``Resources``)
    reference: str | None = None
    #: labels of values that are no longer active (a retired classification)
    inactive: set[str] = field(default_factory=set)

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> FieldInfo:
        target = str(raw.get("referenceEntityType") or "").strip().casefold()
        reference = NAMED_REFERENCES.get(target) if raw.get("isReference") else None
        info = cls(str(raw.get("name")), bool(raw.get("isPickList")), reference=reference)
        items = [i for i in raw.get("picklistValues") or [] if isinstance(i, dict)]
        for item in items:
            value, label = str(item.get("value")), str(item.get("label"))
            info.labels[value] = label
            if not item.get("isActive", True):
                info.inactive.add(label)
            # an active value wins a label shared with a retired one
            if item.get("isActive", True) or _norm(label) not in info.values:
                info.values[_norm(label)] = value
        active = [i for i in items if i.get("isActive", True)]
        flagged = [i for i in active if i.get("isDefaultValue")]
        ordered = flagged or sorted(active, key=lambda i: _sort_key(i.get("sortOrder")))
        info.default = str(ordered[0].get("value")) if ordered else None
        return info


Fetch = Callable[[str, str], dict[str, Any]]
#: (entity, name, where it was named) -> the record's id
Named = Callable[[str, str, str], int]

#: ``referenceEntityType`` (singular, as entityInformation gives it; plural accepted) ->
#: the entity looked up by name
NAMED_REFERENCES = {
    "resource": "Resources",
    "resources": "Resources",
    "role": "Roles",
    "roles": "Roles",
    "product": "Products",
    "products": "Products",
}


class Vocabulary:
    """Cached field and UDF definitions; ``fetch(entity, 'fields'|'userDefinedFields')``;
    ``named(entity, name, where)`` resolves a referenced record by its name."""

    def __init__(self, fetch: Fetch, named: Named | None = None) -> None:
        self._fetch = fetch
        self._named = named
        self._cache: dict[tuple[str, str], dict[str, FieldInfo]] = {}

    def _defs(self, entity: str, what: str) -> dict[str, FieldInfo]:
        key = (entity, what)
        if key not in self._cache:
            body = self._fetch(entity, what)
            fields = body.get("fields") if isinstance(body, dict) else None
            if not isinstance(fields, list):
                raise ConfigError(
                    f"autotask: {entity} entityInformation/{what} answered without a fields list"
                )
            self._cache[key] = {
                str(f.get("name")): FieldInfo.from_api(f) for f in fields if isinstance(f, dict)
            }
        return self._cache[key]

    def forget(self) -> None:
        """Read the definitions again (after ``hub check --fix`` created UDFs or values)."""
        self._cache.clear()

    def field(self, entity: str, field_path: str) -> FieldInfo | None:
        """The definition behind a mapping path (a plain field or a UDF path)."""
        udf = udf_name(field_path)
        if udf is not None:
            defs = self._defs(entity, "userDefinedFields")
            if udf not in defs:
                known = ", ".join(sorted(defs)) or "none"
                raise ConfigError(f"autotask: {entity} has no user-defined field {udf!r}; UDFs: {known}")
            return defs[udf]
        return self._defs(entity, "fields").get(field_path)

    def label(self, entity: str, field_path: str, value: Any) -> str | None:
        if value is None or value == "":
            return None
        info = self.field(entity, field_path)
        if info is None or not info.is_picklist:
            return str(value)
        return info.labels.get(_value_text(value), str(value))

    def value(self, entity: str, field_path: str, label: str | None) -> Any:
        if label is None or label == "":
            return None
        info = self.field(entity, field_path)
        if info is not None and not info.is_picklist and info.reference and self._named is not None:
            text = str(label).strip()
            if text.isdigit():
                return int(text)
            return self._named(info.reference, text, f"{entity}.{field_path}")
        if info is None or not info.is_picklist:
            return label
        found = info.values.get(_norm(str(label)))
        if found is None:
            valid = ", ".join(f"'{v}'" for v in sorted(info.labels.values(), key=str.casefold))
            raise ConfigError(
                f"autotask: {entity}.{field_path} has no value labelled {label!r}; valid labels: {valid}"
            )
        return _stored(field_path, found)

    def default(self, entity: str, field_path: str) -> Any:
        """The picklist's default stored value (see :class:`FieldInfo`); ConfigError if it has none."""
        info = self.field(entity, field_path)
        if info is None or not info.is_picklist or info.default is None:
            raise ConfigError(f"autotask: {entity}.{field_path} is not a picklist with an active value")
        return _stored(field_path, info.default)


def _stored(field_path: str, value: str) -> Any:
    """UDF picklists store text; system picklists store integers."""
    if udf_name(field_path) is None and value.lstrip("-").isdigit():
        return int(value)
    return value


def _sort_key(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
