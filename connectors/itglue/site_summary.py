"""The Site Summary flexible asset: its per-tenant type, and traits by label.

"Site Summary" is not an IT Glue resource but a flexible asset *type* each MSP
defines for itself, so its numeric id and the ``name-key`` of each field differ per
tenant. The hub finds the type by name (``GET /flexible_asset_types?filter[name]=...
&include=flexible_asset_fields``), keeps its id and fields in the connector's state
store, and lets the mapping name fields by their labels.

Traits are read and written in two shapes (IT Glue developer docs, Flexible Assets):
a Tag field reads as ``{"type": "Contacts", "values": [{"id": 1, "name": ...}]}`` but is
written as ids. IT Glue replaces the whole ``traits`` object on PATCH ("Any traits you
don't specify will be deleted"), so an update starts from the current traits converted
to their write shape. Two kinds cannot simply be sent back:

* an Upload field reads as its files (``[{"id", "file_name", "url"}]``), and a PATCH keeps
  a file only if it uploads it again as ``{"content": <base64>, "file_name"}``
  (itglue/powershellwrapper issue 161: "You have to upload the file each time because
  the API is destructive"). Each file is downloaded from its ``url`` and uploaded again;
* a Password field is sent back only when it reads as the password itself.

Where a file cannot be downloaded or a password is not readable, the update is refused
(:class:`RecordRejected` naming the field): erasing it silently is never an option.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.sdk import ConfigError, RecordRejected

__all__ = [
    "AssetField",
    "AssetType",
    "labels_of",
    "parse_type",
    "read_value",
    "traits_for_write",
    "write_value",
]


@dataclass(frozen=True)
class AssetField:
    """One field of a flexible asset type: its label, trait key and kind."""

    label: str
    name_key: str
    kind: str
    tag_type: str | None = None
    required: bool = False


@dataclass(frozen=True)
class AssetType:
    """A flexible asset type as the hub needs it: id and fields."""

    id: int
    name: str
    fields: tuple[AssetField, ...]

    def field_by_label(self, label: str) -> AssetField:
        for f in self.fields:
            if f.label == label:
                return f
        for f in self.fields:  # labels are typed by people: forgive case and spacing
            if f.label.strip().casefold() == label.strip().casefold():
                return f
        known = ", ".join(f.label for f in self.fields)
        raise ConfigError(
            f"IT Glue flexible asset type {self.name!r} has no field {label!r}; fields: {known}"
        )

    def field_by_key(self, key: str) -> AssetField | None:
        return next((f for f in self.fields if f.name_key == key), None)

    def to_state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "fields": [
                {
                    "label": f.label,
                    "name_key": f.name_key,
                    "kind": f.kind,
                    "tag_type": f.tag_type,
                    "required": f.required,
                }
                for f in self.fields
            ],
        }

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> AssetType:
        return cls(int(data["id"]), str(data["name"]), tuple(AssetField(**f) for f in data["fields"]))


def parse_type(body: Mapping[str, Any], name: str) -> AssetType | None:
    """The type named ``name`` in a ``flexible_asset_types`` list with included fields.

    ``filter[name]`` is not documented as exact, so the name is compared here too.
    """
    data = body.get("data")
    candidates = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    wanted = name.strip().casefold()
    match = next(
        (
            t
            for t in candidates
            if str((t.get("attributes") or {}).get("name", "")).strip().casefold() == wanted
        ),
        None,
    )
    if match is None:
        return None
    type_id = int(match["id"])
    fields = []
    for item in body.get("included") or []:
        if item.get("type") != "flexible-asset-fields":
            continue
        attrs = item.get("attributes") or {}
        if int(attrs.get("flexible-asset-type-id", type_id)) != type_id:
            continue
        fields.append(
            (
                attrs.get("order") or 0,
                AssetField(
                    label=str(attrs["name"]),
                    name_key=str(attrs["name-key"]),
                    kind=str(attrs.get("kind") or "Text"),
                    tag_type=attrs.get("tag-type"),
                    required=bool(attrs.get("required")),
                ),
            )
        )
    fields.sort(key=lambda pair: pair[0])
    return AssetType(type_id, str(match["attributes"]["name"]), tuple(f for _, f in fields))


def _ids(value: Any) -> list[Any]:
    """Tag values as ids, from the read shape, a list, one id, or "1,2"."""
    if value is None or value == "":
        return []
    if isinstance(value, Mapping):
        value = [v.get("id") for v in value.get("values") or [] if isinstance(v, Mapping)]
    if isinstance(value, str):
        value = [p.strip() for p in value.split(",") if p.strip()]
    if not isinstance(value, list | tuple | set):
        value = [value]
    out = []
    for v in value:
        if isinstance(v, Mapping):
            v = v.get("id")
        if v is None or v == "":
            continue
        out.append(int(v) if isinstance(v, str) and v.isdigit() else v)
    return out


def read_value(field: AssetField | None, value: Any) -> Any:
    """A trait as the mapping sees it: Tag fields become lists of id strings."""
    if field is not None and field.kind == "Tag":
        return [str(i) for i in _ids(value)]
    return value


def write_value(field: AssetField, value: Any) -> Any:
    """A trait as IT Glue accepts it on POST/PATCH: Tag fields as ids, the rest as read."""
    if field.kind == "Tag":
        return _ids(value)
    return value


def labels_of(asset_type: AssetType, traits: Mapping[str, Any]) -> dict[str, Any]:
    """Every trait keyed by its field label (unknown keys keep their key)."""
    out: dict[str, Any] = {}
    for key, value in traits.items():
        field = asset_type.field_by_key(key)
        out[field.label if field else key] = read_value(field, value)
    return out


#: a password IT Glue shows masked rather than as itself
_MASKED = re.compile(r"^[*•●]+$")

#: downloads one uploaded file (its read-shape item); None when it cannot be had
Download = Callable[[Mapping[str, Any]], bytes | None]


def _kept_files(field: AssetField, files: Any, download: Download | None) -> list[dict[str, Any]]:
    """An Upload trait's files in the only shape a PATCH keeps them: uploaded again."""
    out = []
    for item in files if isinstance(files, list) else [files]:
        if not isinstance(item, Mapping):
            continue
        if "content" in item:  # already in upload shape
            out.append(dict(item))
            continue
        name = str(item.get("file_name") or item.get("name") or "file")
        content = download(item) if download is not None else None
        if content is None:
            raise RecordRejected(
                f"IT Glue would erase the file {name!r} of field {field.label!r}: a PATCH keeps an uploaded "
                "file only if it uploads it again (itglue/powershellwrapper issue 161), and the hub could "
                "not download it to do so. The update was not sent; make it in IT Glue"
            )
        out.append({"content": base64.b64encode(content).decode("ascii"), "file_name": name})
    return out


def _kept_password(field: AssetField, value: Any) -> Any:
    if isinstance(value, str) and value and not _MASKED.match(value):
        return value
    raise RecordRejected(
        f"IT Glue would erase the password in field {field.label!r}: a PATCH deletes every trait it leaves "
        "out and the API did not give the password to send back. The update was not sent; make it in IT Glue"
    )


def traits_for_write(
    asset_type: AssetType,
    current: Mapping[str, Any],
    changes: Mapping[str, Any],
    download: Download | None = None,
) -> dict[str, Any]:
    """The complete ``traits`` object for a PATCH: every current trait, then the changes.

    ``current`` is the asset's traits as IT Glue returned them; ``changes`` are by
    label. Traits the hub does not manage (a file, a note) are sent back, since IT Glue
    deletes any trait a PATCH leaves out; files and passwords as the module doc says
    (``download`` fetches a file), or the update is refused.
    """
    wanted: dict[str, Any] = dict(current)
    for label, value in changes.items():
        wanted[asset_type.field_by_label(label).name_key] = value
    traits: dict[str, Any] = {}
    for key, value in wanted.items():
        field = asset_type.field_by_key(key)
        if field is None:
            traits[key] = value
        elif value in (None, "", []):
            traits[key] = value  # a trait the changes empty (or that was empty): IT Glue deletes it
        elif field.kind == "Upload":
            traits[key] = _kept_files(field, value, download)
        elif field.kind == "Password":
            traits[key] = _kept_password(field, value)
        else:
            traits[key] = write_value(field, value)
    return traits
