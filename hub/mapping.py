"""Declarative mappings between a vendor's records and the core model.

One file per connector (``<connector>.yaml``, shipped by the connector's plugin through the
``hub_mapping_dirs`` hook), validated by :class:`MappingFile` with errors that point at file
and line. Users override a shipped file with one of the same name in ``HUB_MAPPINGS_DIR``.
A mapping says, per vendor entity:

* ``kind``: the core kind it maps to;
* ``fields``: core field path <- vendor field path, with an optional picklist lookup,
  value map (vendor label -> core value), named transforms, a reference kind, a
  default and a direction (``both``, ``read``, ``write``);
* ``constants``: vendor fields set on create; ``{label: ...}`` names a picklist value or
  a named record (a product, a resource) that the connector resolves per tenant, so no
  tenant's ids ship in a mapping;
* ``match``: how an unlinked record finds its counterpart (crosswalk first, always);
* ``owned``: the core fields this system owns in a two-way job.

Paths are dotted. Core paths reach into ``address.city``, ``udfs.<label>`` and
``roles.<role>`` (a boolean: the contact has that role). Vendor paths reach into nested
objects and into lists of named items: ``userDefinedFields[name=Help Desk].value``.

A vendor value that a field's ``values`` map does not know (a classification added in
the vendor after the mapping was written) is data, not an error: the core field is left
unset (or ``other`` where the core model has that value), the label is warned about once
per run and counted (:func:`track_unmapped`), and the record is still read.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol, get_args

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub.errors import ConfigError, RecordRejected
from hub.logging import get_logger
from hub.models import KINDS, ExternalRef, Record, model_for_kind
from hub.yamlfile import LocatedError, validate_yaml, yaml_problems

log = get_logger("hub.mapping")

__all__ = [
    "NORMALIZERS",
    "TRANSFORMS",
    "EntityMapping",
    "FieldMap",
    "MappingFile",
    "MatchRule",
    "NoMappingFile",
    "UnmappedValues",
    "UnresolvedRef",
    "Vocabulary",
    "configure",
    "exact_key",
    "get_path",
    "load_mapping",
    "mapping_problems",
    "match_key",
    "set_path",
    "track_unmapped",
]


# -- named transforms and normalizers ---------------------------------------------------


#: the region (ISO 3166 code) whose dialling rules read a number written without a
#: country code (``HUB_PHONE_REGION``; set by :func:`configure`)
_phone_region = "US"


def configure(*, phone_region: str) -> None:
    """Process-wide mapping settings, from the hub's settings (``Hub`` calls it)."""
    global _phone_region
    _phone_region = phone_region.upper()


def _phone(value: Any) -> Any:
    """A phone number in E.164 (``+61298765432``), read with the MSP's region's dialling
    rules (``02 9876 5432`` in AU); a text that is no valid number stays as written rather
    than become a wrong number."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, _phone_region)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_valid_number(number):
        return text
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _email(value: Any) -> Any:
    if value is None:
        return None
    text = str(value).strip().lower()
    return text or None


def _str(fn: Callable[[str], str]) -> Callable[[Any], Any]:
    return lambda v: fn(v) if isinstance(v, str) else v


def _first_word(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().split()[0]


def _rest_words(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        return None
    parts = value.strip().split(maxsplit=1)
    return parts[1] if len(parts) > 1 else None


def _split_commas(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [p.strip() for p in str(value).replace(";", ",").split(",") if p.strip()]


def _join_commas(value: Any) -> Any:
    if isinstance(value, list | tuple | set):
        return ",".join(str(v) for v in value if v) or None
    return value


def _join_space(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return " ".join(str(v).strip() for v in value if v and str(v).strip()) or None
    return value


def _bool(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y", "on"}
    return bool(value) if value is not None else None


def _empty_none(value: Any) -> Any:
    return None if value in ("", [], {}) else value


#: Named value transforms a mapping may apply (read direction, and ``write_transform``).
TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "trim": _str(str.strip),
    "lower": _str(str.lower),
    "upper": _str(str.upper),
    "title": _str(str.title),
    "phone": _phone,
    "email": _email,
    "first_word": _first_word,
    "rest_words": _rest_words,
    "split_commas": _split_commas,
    "join_commas": _join_commas,
    "join_space": _join_space,
    "bool": _bool,
    "str": lambda v: None if v is None else str(v),
    "int": lambda v: None if v in (None, "") else int(v),
    "empty_none": _empty_none,
}

#: legal forms dropped from the end of a name ("l.l.c." is read as "llc")
_LEGAL_FORMS = frozenset(
    "incorporated inc llc ltd limited co corp corporation company plc gmbh pty ag sa sarl bv nv llp lp".split()
)
#: words that never make a name on their own
_STOP_WORDS = frozenset({"the", "and", "of"})


def _norm_org_name(value: Any) -> str | None:
    """'The Acme  Co., Inc.' and 'acme' are one organization; exact names duplicate.

    Only a leading "the" and trailing legal forms (with the "&"/"and" before them) are
    dropped, and only while a significant word remains: "The Company Store" keeps
    "company store" and "Corp & Co" stays "corp and co", never a bare stop word.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"(?<=\w)\.(?=\w)", "", text.replace("&", " and "))  # l.l.c -> llc
    words = re.findall(r"[a-z0-9]+", text)

    def significant(rest: list[str]) -> bool:
        return any(w not in _LEGAL_FORMS and w not in _STOP_WORDS for w in rest)

    while len(words) > 1 and (words[-1] in _LEGAL_FORMS or words[-1] in _STOP_WORDS) and significant(words[:-1]):
        words.pop()
    if len(words) > 1 and words[0] == "the" and significant(words[1:]):
        words.pop(0)
    return "".join(words) or None


def _norm_domain(value: Any) -> str | None:
    email = _email(value)
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1]


#: Named normalizers for match keys; all but ``exact`` may give distinct records one key,
#: so the sync also keeps each record's exact value to tell them apart (see :func:`exact_key`).
NORMALIZERS: dict[str, Callable[[Any], Any]] = {
    "exact": lambda v: v if v not in ("", None) else None,
    "org_name": _norm_org_name,
    "email": _email,
    "email_domain": _norm_domain,
    "phone": lambda v: _phone(v) or None,
    "casefold": lambda v: v.strip().casefold() or None if isinstance(v, str) else v,
}


# -- paths ------------------------------------------------------------------------------

_SEGMENT = re.compile(r"^(?P<name>[^\[\]]+)?(?:\[(?P<sel>[^\]]+)\])?$")


class Selector(NamedTuple):
    """A parsed ``[key=value]`` or ``[index]`` selector (parsed once per path, see :func:`_segments`)."""

    key: str | None
    want: str | None
    position: int | None  # not ``index``: a tuple already has an index() method


@cache
def _segments(path: str) -> tuple[tuple[str | None, Selector | None], ...]:
    """``a.b[k=v].c`` -> ((a, None), (b, k=v), (c, None)); cached: mappings reuse few paths."""
    out: list[tuple[str | None, Selector | None]] = []
    # split on dots that are not inside a [selector]
    depth, buf, parts = 0, "", []
    for ch in path:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "." and depth == 0:
            parts.append(buf)
            buf = ""
        else:
            buf += ch
    parts.append(buf)
    for part in parts:
        m = _SEGMENT.match(part)
        if not m or not part:
            raise ValueError(f"bad path segment {part!r} in {path!r}")
        sel = m.group("sel")
        if sel is None:
            out.append((m.group("name"), None))
        elif "=" in sel:
            key, want = (x.strip() for x in sel.split("=", 1))
            out.append((m.group("name"), Selector(key, want, None)))
        else:
            try:
                out.append((m.group("name"), Selector(None, None, int(sel))))
            except ValueError:
                raise ValueError(f"bad selector [{sel}] in {path!r}: use [key=value] or a list index") from None
    return tuple(out)


def _select(items: Any, sel: Selector) -> Any:
    if not isinstance(items, list):
        return None
    if sel.position is None:
        key, want = sel.key, sel.want
        for item in items:
            if isinstance(item, dict) and str(item.get(key)) == want:
                return item
        return None
    idx = sel.position
    return items[idx] if -len(items) <= idx < len(items) else None


def get_path(data: Any, path: str) -> Any:
    """Read ``path`` from nested dicts and lists; missing parts give ``None``."""
    current = data
    for name, sel in _segments(path):
        if name is not None:
            current = current.get(name) if isinstance(current, dict) else None
        if sel is not None:
            current = _select(current, sel)
        if current is None:
            return None
    return current


def _literal(text: str) -> Any:
    """A selector's value as the vendor types it: ``[primary=True]`` selects and writes ``true``."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lstrip("-").isdigit():
        return int(text)
    return text


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Write ``path`` into nested dicts, creating them; ``[k=v]`` items are created too."""
    segs = _segments(path)
    current: Any = data
    for i, (name, sel) in enumerate(segs):
        last = i == len(segs) - 1
        if sel is None:
            assert name is not None
            if last:
                current[name] = value
                return
            current = current.setdefault(name, {})
            continue
        items = current.setdefault(name, []) if name is not None else current
        if sel.key is None or sel.want is None:
            raise ValueError(f"cannot write through index selector in {path!r}")
        item = _select(items, sel)
        if item is None:
            item = {sel.key: _literal(sel.want)}
            items.append(item)
        if last:
            raise ValueError(f"path {path!r} must end in a field after the selector")
        current = item


# -- the schema -------------------------------------------------------------------------


class FieldMap(BaseModel):
    """How one core field maps to one vendor field."""

    model_config = ConfigDict(extra="forbid")

    vendor: str | list[str] = Field(description="vendor field path (a list joins several on read)")
    picklist: bool = Field(default=False, description="the vendor stores a picklist value; map by label")
    values: dict[str, Any] = Field(default_factory=dict, description="vendor label -> core value")
    transform: list[str] = Field(default_factory=list, description="named transforms on read")
    write_transform: list[str] = Field(default_factory=list, description="named transforms on write")
    ref: str | None = Field(default=None, description="the vendor value is the id of a record of this kind")
    default: Any = None
    direction: Literal["both", "read", "write"] = "both"

    @field_validator("transform", "write_transform")
    @classmethod
    def _known_transforms(cls, names: list[str]) -> list[str]:
        for name in names:
            if name not in TRANSFORMS:
                raise ValueError(f"unknown transform {name!r}; known: {', '.join(sorted(TRANSFORMS))}")
        return names

    @field_validator("ref")
    @classmethod
    def _known_kind(cls, kind: str | None) -> str | None:
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(sorted(KINDS))}")
        return kind

    @model_validator(mode="after")
    def _writable(self) -> FieldMap:
        if isinstance(self.vendor, list) and self.direction != "read":
            raise ValueError("a field joined from several vendor fields must have direction: read")
        if isinstance(self.vendor, list):
            for p in self.vendor:
                _segments(p)
        else:
            _segments(self.vendor)
        return self


class MatchRule(BaseModel):
    """Match an unlinked record by a core field, normalized (e.g. ``name`` by ``org_name``)."""

    model_config = ConfigDict(extra="forbid")

    key: str
    normalize: str = "exact"

    @field_validator("normalize")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in NORMALIZERS:
            raise ValueError(f"unknown normalizer {name!r}; known: {', '.join(sorted(NORMALIZERS))}")
        return name


class Labelled(BaseModel):
    """A constant named by its label or name, resolved per tenant (``{label: Task Notes}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(min_length=1)


class EntityMapping(BaseModel):
    """One vendor entity <-> one core kind."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    id_field: str = "id"
    fields: dict[str, FieldMap]
    constants: dict[str, Labelled | Any] = Field(
        default_factory=dict, description="vendor fields set on create ({label: ...}: resolved per tenant)"
    )
    match: list[MatchRule] = Field(default_factory=list)
    owned: list[str] = Field(default_factory=list, description="core fields this system owns")
    active_field: str | None = Field(default=None, description="core field that says active/inactive")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        model_for_kind(kind)
        return kind

    @model_validator(mode="after")
    def _core_fields_exist(self) -> EntityMapping:
        model = model_for_kind(self.kind)
        for core_path in self.fields:
            top = core_path.split(".", 1)[0]
            if top not in model.model_fields:
                raise LocatedError(("fields", core_path), f"{self.kind} has no field {top!r} (in {core_path!r})")
        for i, name in enumerate(self.owned):
            if name.split(".", 1)[0] not in model.model_fields:
                raise LocatedError(("owned", i), f"owned field {name!r} is not a field of {self.kind}")
        for i, rule in enumerate(self.match):
            if rule.key.split(".", 1)[0] not in model.model_fields:
                raise LocatedError(("match", i), f"match key {rule.key!r} is not a field of {self.kind}")
        return self

    @property
    def model(self) -> type[Record]:
        return model_for_kind(self.kind)


class MappingFile(BaseModel):
    """A whole mapping file (``<connector>.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    connector: str
    version: int = 1
    entities: dict[str, EntityMapping]


class Vocabulary(Protocol):
    """What a connector lends the mapping: picklist label <-> stored value."""

    def picklist_label(self, entity: str, field: str, value: Any) -> str | None: ...

    def picklist_value(self, entity: str, field: str, label: str | None) -> Any: ...


class _Identity:
    def picklist_label(self, entity: str, field: str, value: Any) -> str | None:
        return None if value is None else str(value)

    def picklist_value(self, entity: str, field: str, label: str | None) -> Any:
        return label


IDENTITY = _Identity()

RefResolver = Callable[[ExternalRef], str | None]


# -- applying ---------------------------------------------------------------------------


class UnresolvedRef(RecordRejected):
    """A reference (a contact's organization) has no counterpart in the target system."""

    def __init__(self, ref: ExternalRef, message: str) -> None:
        super().__init__(message)
        self.ref = ref


def _apply(names: Iterable[str], value: Any) -> Any:
    for name in names:
        value = TRANSFORMS[name](value)
    return value


def _core_get(record: Record, path: str) -> Any:
    head, _, rest = path.partition(".")
    value = getattr(record, head)
    if not rest:
        return value
    if head == "roles":
        return rest in {str(r) for r in value}
    if isinstance(value, dict):
        return value.get(rest)
    if isinstance(value, BaseModel):
        return getattr(value, rest, None)
    return None


def _core_set(data: dict[str, Any], path: str, value: Any) -> None:
    head, _, rest = path.partition(".")
    if not rest:
        data[head] = value
        return
    if head == "roles":
        roles = data.setdefault("roles", set())
        if value:
            roles.add(rest)
        return
    data.setdefault(head, {})[rest] = value


def _reader(path: str) -> Callable[[Any], Any]:
    """:func:`get_path` for one fixed path; a plain key is one dict lookup (a sync reads
    every mapped field of hundreds of thousands of records)."""
    segments = _segments(path)
    if len(segments) == 1 and segments[0][1] is None and segments[0][0] is not None:
        name = segments[0][0]
        return lambda data: data.get(name) if isinstance(data, dict) else None
    return lambda data: get_path(data, path)


class _Read(NamedTuple):
    """One read-direction field of an entity mapping, resolved once (see BoundMapping._reads)."""

    core_path: str
    fm: FieldMap
    read: tuple[Callable[[Any], Any], ...]  # one reader, or one per joined vendor path
    joined: bool
    transforms: tuple[Callable[[Any], Any], ...]
    #: whether ``values`` is the whole vocabulary (a picklist, an enum or a flag): a value it
    #: does not know is unmapped; otherwise ``values`` only translates a few and others pass
    closed: bool
    #: the core value of a label a closed ``values`` does not know: ``other`` where the field has it
    unknown: Any


class UnmappedValues:
    """Vendor values a mapping's ``values`` did not know, in one run: warned once per
    (system, entity, field, label), counted every time (the run summary's ``unmapped_values``)."""

    def __init__(self) -> None:
        self.count = 0
        self.labels: dict[tuple[str, str, str, str], int] = {}
        self._lock = threading.Lock()

    def add(self, system: str, entity: str, field: str, label: str) -> None:
        key = (system, entity, field, label)
        with self._lock:
            self.count += 1
            first = key not in self.labels
            self.labels[key] = self.labels.get(key, 0) + 1
        if first:
            log.warning(
                "mapping.unmapped_value", system=system, entity=entity, field=field, label=label,
                detail="no mapped value: the core field is left unset; add the label to the mapping's values",
            )  # fmt: skip


_UNMAPPED: ContextVar[UnmappedValues | None] = ContextVar("hub_unmapped_values", default=None)


@contextmanager
def track_unmapped(tracker: UnmappedValues | None = None) -> Iterator[UnmappedValues]:
    """Collect the unmapped values of the records mapped inside the block (one run)."""
    tracker = tracker if tracker is not None else UnmappedValues()
    token = _UNMAPPED.set(tracker)
    try:
        yield tracker
    finally:
        _UNMAPPED.reset(token)


def _core_types(model: type[Record], core_path: str) -> list[Any]:
    """The types a top-level core field accepts (``X | None`` unwrapped); [] for nested paths."""
    info = model.model_fields.get(core_path) if "." not in core_path else None
    return [] if info is None else [info.annotation, *get_args(info.annotation)]


def _closed(model: type[Record], core_path: str, fm: FieldMap) -> bool:
    """Whether a field's ``values`` are its whole vocabulary (see :class:`_Read`)."""
    if fm.picklist:
        return True
    return any(t is bool or (isinstance(t, type) and issubclass(t, Enum)) for t in _core_types(model, core_path))


def _unknown_value(model: type[Record], core_path: str) -> Any:
    """``other`` if the core field is an enum with that member, else None."""
    for candidate in _core_types(model, core_path):
        if isinstance(candidate, type) and issubclass(candidate, Enum) and "other" in candidate.__members__:
            return candidate("other")
    return None


class BoundMapping:
    """An entity mapping bound to its system and entity name, ready to apply."""

    def __init__(self, system: str, entity: str, spec: EntityMapping) -> None:
        self.system = system
        self.entity = entity
        self.spec = spec
        self._compiled: list[_Read] | None = None

    def _reads(self) -> list[_Read]:
        if self._compiled is None:
            self._compiled = [
                _Read(
                    core_path,
                    fm,
                    tuple(_reader(p) for p in (fm.vendor if isinstance(fm.vendor, list) else [fm.vendor])),
                    isinstance(fm.vendor, list),
                    tuple(TRANSFORMS[name] for name in fm.transform),
                    _closed(self.spec.model, core_path, fm),
                    _unknown_value(self.spec.model, core_path),
                )
                for core_path, fm in self.spec.fields.items()
                if fm.direction != "write"
            ]
        return self._compiled

    @property
    def kind(self) -> str:
        return self.spec.kind

    def to_core(self, raw: dict[str, Any], vocab: Vocabulary = IDENTITY) -> Record:
        """Vendor record -> core record carrying its ref in this system.

        Raises :class:`RecordRejected` naming the field when the vendor data does not fit.
        """
        data: dict[str, Any] = {}
        for core_path, fm, read, joined, transforms, closed, unknown in self._reads():
            if joined:
                value: Any = [r(raw) for r in read]
            else:
                value = read[0](raw)
                if fm.picklist:
                    value = vocab.picklist_label(self.entity, fm.vendor, value)  # type: ignore[arg-type]
            if fm.values and value is not None:
                label = str(value)
                if label in fm.values:
                    value = fm.values[label]
                elif "*" in fm.values:
                    value = fm.values["*"]
                elif closed:
                    value = unknown
                    tracker = _UNMAPPED.get()
                    if tracker is not None:
                        tracker.add(self.system, self.entity, core_path, label)
            for transform in transforms:
                value = transform(value)
            if value is None:
                value = fm.default
            if fm.ref and value not in (None, "", 0):
                value = ExternalRef(system=self.system, kind=fm.ref, id=str(value))
            elif fm.ref:
                value = None
            if value is None and "." not in core_path:
                continue
            _core_set(data, core_path, value)
        record_id = get_path(raw, self.spec.id_field)
        if record_id not in (None, ""):
            data["refs"] = [ExternalRef(system=self.system, kind=self.kind, id=str(record_id))]
        try:
            return self.spec.model.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err.get("loc", ()))
            raise RecordRejected(
                f"{self.system} {self.entity} {record_id}: field {where}: {err.get('msg')}"
            ) from None

    def to_vendor(
        self,
        record: Record,
        vocab: Vocabulary = IDENTITY,
        *,
        fields: Iterable[str] | None = None,
        resolve_ref: RefResolver | None = None,
        create: bool = False,
    ) -> dict[str, Any]:
        """Core record -> vendor payload (only ``fields`` if given; constants on create).

        A reference that cannot be resolved in this system raises :class:`RecordRejected`
        (writing a contact before its organization exists would orphan it).
        """
        only = set(fields) if fields is not None else None
        payload: dict[str, Any] = {}
        if create:
            for path, value in self.constants(vocab).items():
                set_path(payload, path, value)
        for core_path, fm in self.spec.fields.items():
            if fm.direction == "read" or (only is not None and core_path not in only):
                continue
            assert isinstance(fm.vendor, str)
            value = _core_get(record, core_path)
            if fm.ref:
                if value is None:
                    vendor_value: Any = None
                elif value.system == self.system:
                    vendor_value = value.id
                else:
                    vendor_value = resolve_ref(value) if resolve_ref else None
                    if vendor_value is None:
                        raise UnresolvedRef(
                            value, f"{self.kind} {core_path} {value} has no {self.system} counterpart yet"
                        )
                value = _int_if_numeric(vendor_value)
            else:
                if isinstance(value, Enum):
                    value = value.value
                if fm.values and value is not None:
                    inverse = {str(v): k for k, v in fm.values.items() if k != "*"}
                    value = inverse.get(str(value), value)
                value = _apply(fm.write_transform, value)
                if fm.picklist:
                    value = vocab.picklist_value(self.entity, fm.vendor, value)
                if isinstance(value, set):
                    value = sorted(value)
            if hasattr(value, "isoformat"):
                value = value.isoformat()
            set_path(payload, fm.vendor, value)
        return payload

    def constants(self, vocab: Vocabulary = IDENTITY) -> dict[str, Any]:
        """The vendor fields set on create; ``{label: ...}`` resolved through ``vocab`` (the
        connector, which caches what it looked up for the run)."""
        out = {}
        for path, value in self.spec.constants.items():
            if isinstance(value, Labelled):
                value = vocab.picklist_value(self.entity, path, value.label)
            out[path] = value
        return out

    def owned_fields(self) -> list[str]:
        return list(self.spec.owned) or [p for p, f in self.spec.fields.items() if f.direction != "read"]


def _int_if_numeric(value: Any) -> Any:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def match_key(record: Record, rule: MatchRule) -> Any:
    return NORMALIZERS[rule.normalize](_core_get(record, rule.key))


def exact_key(record: Record, rule: MatchRule) -> str | None:
    """The record's own value of a rule's key, only case and spacing evened out: what tells
    apart two records a lossy normalizer gives one key ("Okafor Pty Ltd", "Okafor GmbH")."""
    value = _core_get(record, rule.key)
    if value in (None, ""):
        return None
    return " ".join(str(value).split()).casefold() or None


# -- loading ------------------------------------------------------------------------------


class NoMappingFile(ConfigError):
    """A connector with no mapping file (it maps no records: an action-only plugin)."""


def mapping_path(connector: str, dirs: Iterable[Path] = ()) -> Path:
    """The file that applies: the first of ``dirs`` that has it (``HUB_MAPPINGS_DIR``, then the
    folders plugins ship through ``hub_mapping_dirs``; the built-in connectors are plugins too)."""
    for folder in dirs:
        candidate = Path(folder) / f"{connector}.yaml"
        if candidate.is_file():
            return candidate
    raise NoMappingFile(f"no mapping file for connector {connector!r} (looked for {connector}.yaml)")


@cache
def _load(path: Path) -> MappingFile:
    return validate_yaml(MappingFile, path)


class Mapping:
    """A connector's loaded mapping file."""

    def __init__(self, spec: MappingFile, path: Path) -> None:
        self.spec = spec
        self.path = path

    def entity(self, name: str) -> BoundMapping:
        try:
            return BoundMapping(self.spec.connector, name, self.spec.entities[name])
        except KeyError:
            known = ", ".join(self.spec.entities)
            raise ConfigError(f"{self.path}: no entity {name!r}; entities: {known}") from None

    def for_kind(self, kind: str) -> BoundMapping:
        for name, spec in self.spec.entities.items():
            if spec.kind == kind:
                return BoundMapping(self.spec.connector, name, spec)
        raise ConfigError(f"{self.path}: no entity maps kind {kind!r}")


def load_mapping(connector: str, dirs: Iterable[Path] = ()) -> Mapping:
    path = mapping_path(connector, [Path(d) for d in dirs if d])
    spec = _load(path.resolve())
    if spec.connector != connector:
        raise ConfigError(f"{path}: connector: says {spec.connector!r}, expected {connector!r}")
    return Mapping(spec, path)


def mapping_problems(path: Path, connector: str | None = None, entities: Iterable[str] | None = None) -> list[str]:
    """Every problem of the mapping file at ``path`` (``hub mappings validate``), each as
    ``file:line: where: what``: its schema, that it is the mapping of ``connector``, and
    that each entity is one the connector reads or writes (``entities``, when known)."""
    spec, problems = yaml_problems(MappingFile, path)
    if spec is None:
        return problems
    if connector is not None and spec.connector != connector:
        problems.append(f"{path}: connector: says {spec.connector!r}, expected {connector!r} (the file's name)")
    if entities is not None:
        known = sorted(set(entities))
        for name in spec.entities:
            if name not in known:
                problems.append(f"{path}: entities.{name}: {spec.connector} reads and writes no such entity; "
                                f"its entities: {', '.join(known) or 'none'}")  # fmt: skip
    return problems
