"""The IT Glue simulator's data: resources in memory with indexes, seeded deterministically.

Kept apart from the HTTP layer (:mod:`connectors.itglue.simulator`) so the rules
IT Glue applies to data (traits replaced on update, PSA-synced records refusing
PATCH, Tag traits resolved to names) are plain functions of the store.

Each :class:`Table` keeps its rows by id, a list ordered by ``(updated-at, id)`` for
the ``sort=updated_at`` reads and ``filter[updated_at]`` ranges (bisect, no full
sort per request), and hash indexes on the attributes routes filter by
(``organization-id``, ``flexible-asset-type-id``), so it stays fast at 100,000 rows.
"""

from __future__ import annotations

import base64
import bisect
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["SimData", "Table", "UnprocessableEntity", "iso"]

SITE_SUMMARY_TYPE_ID = 98765
OTHER_TYPE_ID = 33
PSA_EDITABLE = frozenset({"alert", "description", "quick-notes"})
ORG_TYPES = {86: "Customer", 87: "Prospect", 88: "Vendor", 89: "Partner", 15: "Owner"}
ORG_STATUSES = {68: "Active", 69: "Inactive"}
CONTACT_TYPES = {24: "Approver", 25: "Billing", 26: "Technical", 27: "Employee"}


def iso(when: datetime) -> str:
    """IT Glue's timestamp form: RFC 3339, UTC, milliseconds, ``Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class UnprocessableEntity(Exception):
    """A write IT Glue would refuse with 422; ``pointer`` names the attribute."""

    def __init__(self, detail: str, pointer: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer


class Table:
    """Resources of one JSON:API type: by id, ordered by ``(updated-at, id)``, indexed."""

    def __init__(self, type_: str, indexed: Iterable[str] = ()) -> None:
        self.type = type_
        self.rows: dict[int, dict[str, Any]] = {}
        self._order: list[tuple[str, int]] = []
        self._indexes: dict[str, dict[Any, set[int]]] = {name: {} for name in indexed}

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, id_: Any) -> dict[str, Any] | None:
        try:
            return self.rows.get(int(id_))
        except (TypeError, ValueError):
            return None

    def _unlink(self, id_: int) -> None:
        old = self.rows.get(id_)
        if old is None:
            return
        attrs = old["attributes"]
        key = (attrs["updated-at"], id_)
        pos = bisect.bisect_left(self._order, key)
        if pos < len(self._order) and self._order[pos] == key:
            del self._order[pos]
        for name, index in self._indexes.items():
            index.get(attrs.get(name), set()).discard(id_)

    def put(self, row: dict[str, Any]) -> dict[str, Any]:
        id_ = int(row["id"])
        self._unlink(id_)
        self.rows[id_] = row
        attrs = row["attributes"]
        bisect.insort(self._order, (attrs["updated-at"], id_))
        for name, index in self._indexes.items():
            index.setdefault(attrs.get(name), set()).add(id_)
        return row

    def load(self, rows: list[dict[str, Any]]) -> None:
        """Bulk insert for seeding: one sort instead of one insort per row."""
        for row in rows:
            id_ = int(row["id"])
            self.rows[id_] = row
            for name, index in self._indexes.items():
                index.setdefault(row["attributes"].get(name), set()).add(id_)
        self._order = sorted((r["attributes"]["updated-at"], int(r["id"])) for r in self.rows.values())

    def query(
        self,
        equals: dict[str, Any],
        updated: tuple[str | None, str | None] = (None, None),
        sort: str | None = None,
        match: Any = None,
    ) -> list[int]:
        """Ids matching ``equals`` (indexed attributes use the index), an updated-at range
        and a predicate, in ``sort`` order (``updated_at`` by default, ``-`` inverts)."""
        indexed = {k: v for k, v in equals.items() if k in self._indexes}
        others = {k: v for k, v in equals.items() if k not in self._indexes}
        lo, hi = updated
        if indexed:
            sets = [self._indexes[k].get(v, set()) for k, v in indexed.items()]
            candidates = set.intersection(*sets) if len(sets) > 1 else sets[0]
            ordered = sorted((self.rows[i]["attributes"]["updated-at"], i) for i in candidates)
        else:
            ordered = self._order
        if lo is not None:
            ordered = ordered[bisect.bisect_left(ordered, (lo, -1)) :]
        if hi is not None:
            ordered = ordered[: bisect.bisect_right(ordered, (hi, float("inf")))]
        ids = [i for _, i in ordered]
        if others or match is not None:
            ids = [
                i
                for i in ids
                if all(_equal(self.rows[i], k, v) for k, v in others.items())
                and (match is None or match(self.rows[i]))
            ]
        field_, desc = (sort or "updated_at").lstrip("-"), (sort or "").startswith("-")
        if field_ != "updated_at":
            ids.sort(key=lambda i: _sort_key(self.rows[i], field_))
        if desc:
            ids.reverse()
        return ids


def _equal(row: dict[str, Any], name: str, value: Any) -> bool:
    if name == "id":
        return str(row["id"]) == str(value)
    return str(row["attributes"].get(name)) == str(value)


def _sort_key(row: dict[str, Any], name: str) -> Any:
    if name == "id":
        return int(row["id"])
    value = row["attributes"].get(name.replace("_", "-"))
    return (value is None, str(value or "").casefold())


@dataclass
class SimData:
    """Everything the simulator serves, with the rules IT Glue applies to writes."""

    host: str = "https://api.itglue.com"
    organizations: Table = field(default_factory=lambda: Table("organizations", ["psa-integration"]))
    contacts: Table = field(default_factory=lambda: Table("contacts", ["organization-id"]))
    assets: Table = field(
        default_factory=lambda: Table("flexible-assets", ["organization-id", "flexible-asset-type-id"])
    )
    asset_types: dict[int, dict[str, Any]] = field(default_factory=dict)
    asset_fields: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    attachments: dict[int, dict[str, Any]] = field(default_factory=dict)
    _stamp: datetime = field(default_factory=lambda: datetime(2020, 1, 1, tzinfo=UTC))
    _ids: dict[str, int] = field(
        default_factory=lambda: {
            "organizations": 100000,
            "contacts": 200000,
            "flexible-assets": 300000,
            "attachments": 500000,
        }
    )

    # -- time and ids ---------------------------------------------------------------

    def now(self) -> str:
        """A fresh updated-at: wall clock, but always after the last one handed out."""
        stamp = max(datetime.now(UTC), self._stamp + timedelta(milliseconds=1))
        self._stamp = stamp
        return iso(stamp)

    def next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    # -- seeding ------------------------------------------------------------------

    def seed(self, size: int, seed: int, psa_every: int = 5, site_summary_type: str = "Site Summary") -> None:
        """``size`` organizations, as many contacts, a Site Summary for every other one."""
        rng = random.Random(seed)
        self._seed_types(site_summary_type)
        base = datetime(2024, 1, 1, tzinfo=UTC)
        span = 365 * 24 * 3600
        orgs: list[dict[str, Any]] = []
        contacts: list[dict[str, Any]] = []
        assets: list[dict[str, Any]] = []
        for n in range(size):
            org_id = self.next_id("organizations")
            stamp = iso(base + timedelta(seconds=rng.randrange(span), milliseconds=rng.randrange(1000)))
            type_id = rng.choice([86, 86, 86, 87, 88])
            psa = "autotask" if psa_every and n % psa_every == psa_every - 1 else None
            name = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} {n + 1}"
            orgs.append(
                _resource(
                    "organizations",
                    org_id,
                    {
                        "name": name,
                        "alert": None,
                        "description": None,
                        "organization-type-id": type_id,
                        "organization-type-name": ORG_TYPES[type_id],
                        "organization-status-id": 68,
                        "organization-status-name": "Active",
                        "primary": False,
                        "logo": "",
                        "quick-notes": None,
                        "short-name": f"org{n + 1}",
                        "psa-integration": psa,
                        "created-at": stamp,
                        "updated-at": stamp,
                        "parent-id": None,
                        "ancestor-ids": "[]",
                    },
                )
            )
        for org in orgs:
            if len(contacts) >= size:
                break
            for _ in range(rng.choice([1, 1, 2])):
                if len(contacts) >= size:
                    break
                contacts.append(self._seed_contact(rng, org))
        self.organizations.load(orgs)
        self.contacts.load(contacts)
        by_org: dict[str, list[dict[str, Any]]] = {}
        for c in contacts:
            by_org.setdefault(str(c["attributes"]["organization-id"]), []).append(c)
        for org in orgs[::2]:
            assets.append(self._seed_site_summary(rng, org, by_org.get(org["id"], [])))
        self.assets.load(assets)
        latest = max(
            (r["attributes"]["updated-at"] for t in (orgs, contacts, assets) for r in t), default=None
        )
        if latest:
            self._stamp = datetime.fromisoformat(latest.replace("Z", "+00:00"))

    def _seed_contact(self, rng: random.Random, org: dict[str, Any]) -> dict[str, Any]:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        stamp = org["attributes"]["updated-at"]
        domain = org["attributes"]["short-name"] + ".example.com"
        return _resource(
            "contacts",
            self.next_id("contacts"),
            {
                "organization-id": int(org["id"]),
                "organization-name": org["attributes"]["name"],
                "name": f"{first} {last}",
                "first-name": first,
                "last-name": last,
                "title": rng.choice(["Office Manager", "Owner", "IT Lead", None]),
                "contact-type-id": 24,
                "contact-type-name": CONTACT_TYPES[24],
                "location-id": None,
                "location-name": None,
                "important": None,
                "notes": None,
                "psa-integration": org["attributes"]["psa-integration"],
                "created-at": stamp,
                "updated-at": stamp,
                "contact-emails": [
                    {"value": f"{first}.{last}@{domain}".lower(), "primary": True, "label-name": "Work"}
                ],
                "contact-phones": [
                    {
                        "value": f"415555{rng.randrange(10000):04d}",
                        "extension": None,
                        "primary": True,
                        "label-name": "Work",
                        "label-type": "phone",
                        "formatted-value": None,
                    }
                ],
            },
        )

    def _seed_site_summary(
        self, rng: random.Random, org: dict[str, Any], people: list[dict[str, Any]]
    ) -> dict[str, Any]:
        asset_id = self.next_id("flexible-assets")
        ids = [int(p["id"]) for p in people]
        attachment = self._attachment(asset_id, "network-diagram.pdf")
        traits: dict[str, Any] = {
            "site-name": f"{org['attributes']['name']} HQ",
            "points-of-contact": self._tag("Contacts", ids[:1]),
            "primary-authorization": self._tag("Contacts", ids[:1]),
            "authorization-permissions": "Approve purchases and new users",
            "report-recipients": self._tag("Contacts", ids[:1]),
            "internet-provider": rng.choice(["Example Fiber", "Metro Cable", "City DSL"]),
            "onboarding-status": "Complete",
            "network-diagram": [attachment],
            "notes": "<p>Alarm code with the office manager</p>",
        }
        traits = {k: v for k, v in traits.items() if v is not None}
        stamp = org["attributes"]["updated-at"]
        return _resource(
            "flexible-assets",
            asset_id,
            {
                "organization-id": int(org["id"]),
                "organization-name": org["attributes"]["name"],
                "resource-url": f"{self.host}/{org['id']}/assets/records/{asset_id}",
                "restricted": False,
                "my-glue": False,
                "flexible-asset-type-id": SITE_SUMMARY_TYPE_ID,
                "flexible-asset-type-name": self.asset_types[SITE_SUMMARY_TYPE_ID]["attributes"]["name"],
                "name": traits["site-name"],
                "traits": traits,
                "archived": False,
                "created-at": stamp,
                "updated-at": stamp,
            },
        )

    def _seed_types(self, site_summary_name: str = "Site Summary") -> None:
        stamp = "2019-04-09T14:44:23.000Z"
        for type_id, name, description, fields in (
            (
                SITE_SUMMARY_TYPE_ID,
                site_summary_name,
                "Who to call and who may approve",
                _SITE_SUMMARY_FIELDS,
            ),
            (OTHER_TYPE_ID, "Email", "Email Platform Information", _EMAIL_FIELDS),
        ):
            self.asset_types[type_id] = {
                "id": str(type_id),
                "type": "flexible-asset-types",
                "attributes": {
                    "name": name,
                    "description": description,
                    "created-at": stamp,
                    "updated-at": stamp,
                    "icon": "sitemap",
                    "show-in-menu": True,
                },
            }
            self.asset_fields[type_id] = [
                {
                    "id": str(type_id * 100 + order),
                    "type": "flexible-asset-fields",
                    "attributes": {
                        "order": order,
                        "name": label,
                        "kind": kind,
                        "hint": None,
                        "decimals": 0,
                        "tag-type": tag_type,
                        "required": required,
                        "use-for-title": title,
                        "expiration": False,
                        "show-in-list": True,
                        "name-key": key,
                        "created-at": stamp,
                        "updated-at": stamp,
                        "flexible-asset-type-id": type_id,
                        "default-value": default,
                    },
                    "relationships": {
                        "flexible-asset-type": {"data": {"id": str(type_id), "type": "flexible-asset-types"}}
                    },
                }
                for order, (label, key, kind, tag_type, required, title, default) in enumerate(
                    fields, start=1
                )
            ]

    # -- Tag and Upload traits ------------------------------------------------------

    def _tag(self, tag_type: str, ids: list[int]) -> dict[str, Any] | None:
        if not ids:
            return None
        table = {"Contacts": self.contacts, "Organizations": self.organizations}.get(tag_type)
        values = []
        for i in ids:
            row = table.get(i) if table is not None else None
            if table is not None and row is None:
                raise UnprocessableEntity(f"{tag_type} {i} does not exist")
            item: dict[str, Any] = {"id": i, "name": row["attributes"]["name"] if row else str(i)}
            if row and "organization-name" in row["attributes"]:
                item["organization-name"] = row["attributes"]["organization-name"]
            values.append(item)
        return {"type": tag_type, "values": values}

    def _attachment(self, asset_id: int, file_name: str, content: bytes = b"") -> dict[str, Any]:
        att_id = self.next_id("attachments")
        item = {"id": att_id, "file_name": file_name, "url": f"{self.host}/attachments/{att_id}"}
        self.attachments[att_id] = {**item, "asset_id": asset_id, "content": content or f"%PDF {file_name}".encode()}
        return item

    def _upload(self, asset_id: int, value: Any) -> list[dict[str, Any]] | None:
        """An Upload trait: each base64 ``{content, file_name}`` is a file; anything else (the
        read shape sent back) keeps nothing, so the file is gone (powershellwrapper issue 161)."""
        items = value if isinstance(value, list) else [value]
        kept = []
        for item in items:
            if not isinstance(item, dict):
                raise UnprocessableEntity("an Upload trait takes {content, file_name}")
            if "content" not in item:
                continue
            try:
                content = base64.b64decode(str(item["content"]), validate=True)
            except ValueError:
                raise UnprocessableEntity("file content must be strict base64") from None
            kept.append(self._attachment(asset_id, str(item.get("file_name") or "upload"), content))
        return kept or None

    def stored_traits(
        self, type_id: int, asset_id: int, traits: dict[str, Any], creating: bool
    ) -> dict[str, Any]:
        """The traits IT Glue keeps from a POST/PATCH body: *only* those sent (replacement)."""
        fields = {f["attributes"]["name-key"]: f["attributes"] for f in self.asset_fields.get(type_id, [])}
        out: dict[str, Any] = {}
        for key, value in traits.items():
            key = key.replace("_", "-")
            spec = fields.get(key)
            if spec is None:
                raise UnprocessableEntity(
                    f"{key} is not a field of this flexible asset type", f"/data/attributes/traits/{key}"
                )
            if value is None or value == "" or value == []:
                continue  # "Passing a null value will also delete a trait's value"
            kind = spec["kind"]
            stored: Any
            if kind == "Tag":
                ids = (
                    value
                    if isinstance(value, list)
                    else str(value).split(",")
                    if isinstance(value, str)
                    else [value]
                )
                try:
                    stored = self._tag(spec["tag-type"], [int(i) for i in ids])
                except (TypeError, ValueError):
                    raise UnprocessableEntity(
                        f"{spec['name']} takes ids", f"/data/attributes/traits/{key}"
                    ) from None
            elif kind == "Upload":
                stored = self._upload(asset_id, value)
            elif kind == "Select":
                options = (spec.get("default-value") or "").split("\n")
                if value not in options:
                    raise UnprocessableEntity(
                        f"{spec['name']} must be one of {', '.join(options)}",
                        f"/data/attributes/traits/{key}",
                    )
                stored = value
            else:
                stored = value
            if stored is not None:
                out[key] = stored
        if creating:
            for key, spec in fields.items():
                if spec["required"] and key not in out:
                    raise UnprocessableEntity(
                        f"{spec['name']} can't be blank", f"/data/attributes/traits/{key}"
                    )
        return out

    def asset_name(self, type_id: int, traits: dict[str, Any]) -> str:
        keys = [
            f["attributes"]["name-key"]
            for f in self.asset_fields[type_id]
            if f["attributes"]["use-for-title"]
        ]
        return (
            " ".join(str(traits[k]) for k in keys if isinstance(traits.get(k), str | int | float))
            or "Untitled"
        )


def _resource(type_: str, id_: int, attributes: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(id_), "type": type_, "attributes": attributes, "relationships": {}}


#: (label, name-key, kind, tag-type, required, use-for-title, default-value)
_SITE_SUMMARY_FIELDS = [
    ("Site Name", "site-name", "Text", None, True, True, None),
    ("Points of Contact", "points-of-contact", "Tag", "Contacts", False, False, None),
    ("Primary Authorization", "primary-authorization", "Tag", "Contacts", False, False, None),
    ("Secondary Authorization", "secondary-authorization", "Tag", "Contacts", False, False, None),
    ("Authorization Permissions", "authorization-permissions", "Textbox", None, False, False, None),
    ("Report Recipients", "report-recipients", "Tag", "Contacts", False, False, None),
    ("Internet Provider", "internet-provider", "Text", None, False, False, None),
    (
        "Onboarding Status",
        "onboarding-status",
        "Select",
        None,
        False,
        False,
        "Not Started\nIn Progress\nComplete",
    ),
    ("Network Diagram", "network-diagram", "Upload", None, False, False, None),
    ("Notes", "notes", "Textbox", None, False, False, None),
]
_EMAIL_FIELDS = [
    ("Type", "type", "Select", None, True, True, "Office 365\nExchange 2016\nGoogle Apps"),
    ("Webmail URL", "webmail-url", "Text", None, False, False, None),
]
_WORDS = [
    "Acme",
    "Happy",
    "Frog",
    "Kraken",
    "Blue",
    "River",
    "Summit",
    "Pine",
    "Harbor",
    "Maple",
    "Copper",
    "North",
]
_FIRST = ["Robert", "Jackie", "John", "Maria", "Wei", "Fatima", "Liam", "Olga", "Sam", "Priya"]
_LAST = ["Storts", "Tilds", "Morgan", "Garcia", "Chen", "Khan", "Murphy", "Ivanova", "Lee", "Patel"]
