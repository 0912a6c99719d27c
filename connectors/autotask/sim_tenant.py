"""Which Autotask database the simulator plays: its picklists, UDFs, resources, roles, products.

Every Autotask database has its own picklist codes, resource ids, products and UDFs;
only the labels an MSP typed are shared knowledge. The simulator's default tenant
(``sandbox``) keeps the codes the demo and most tests know. The ``real-like`` tenant is
the database a new customer brings: the same labels under other codes and ids (system
picklists, UDF list items, resources, roles and products), classifications the shipped
mapping does not know ("CM" for co-managed, an inactive "Gold"), two companies whose
names differ only by their legal form, some UDFs and labels missing or named otherwise
(so ``hub check autotask`` has something to name), and resources with other names.

Facts about the entities, from the vendor's swagger (``ResourceModel``, ``RoleModel``,
``ProductModel``, ``UserDefinedFieldDefinitionModel``, ``UserDefinedFieldListItemModel``)
and the REST entity pages: resources are read-only through the API (the swagger has no
POST for them); roles and products can be created (POST ``V1.0/Roles``,
``V1.0/Products``); UDFs are created with ``UserDefinedFieldDefinitions`` and a list
UDF's values with ``UserDefinedFields/{id}/ListItems``; a UDF cannot be deleted.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

from .sim_data import API_ONLY_RESOURCES, PRODUCTS, RESOURCES, SCHEMAS, UDFS, EntitySchema

__all__ = ["PROFILES", "Tenant", "tenant"]

#: fields that hold a resource id in seeded records
_RESOURCE_FIELDS = frozenset(
    {"ownerResourceID", "createdByResourceID", "creatorResourceID", "lastActivityResourceID",
     "assignedResourceID", "resourceID"}
)
#: the tenant kinds the simulator can play
PROFILES = ("sandbox", "real-like")

#: the sandbox's resources: id -> (first name, last name)
_SANDBOX_PEOPLE = {
    RESOURCES[0]: ("Alex", "Morgan"),
    RESOURCES[1]: ("Service", "Technician"),  # the break/fix workflow's default technician
    RESOURCES[2]: ("Jordan", "Lee"),
    RESOURCES[3]: ("Admin", "Administrator"),
    RESOURCES[4]: ("Pat", "Kim"),
}
#: the sandbox's roles (the first is the role the break/fix workflow assigns in)
_SANDBOX_ROLES = {29682833: "Technician", 29682834: "Help Desk", 29682835: "Engineer"}
_SANDBOX_PRODUCTS = {PRODUCTS[0]: "Managed Workstation", PRODUCTS[1]: "Managed Server", PRODUCTS[2]: "Network Device"}

#: real-like: every picklist code and UDF list value moves by these, every id elsewhere
_CODE_SHIFT = 7000
_UDF_SHIFT = 5000
_REAL_IDS = 30_500_000
#: real-like: labels this database names otherwise (entity, field, sandbox label -> its label)
_RENAMED = {
    ("Tickets", "queueID", "Monitoring Alert"): "RMM Alerts",
    ("Tickets", "status", "Auto-Resolved"): "Resolved by RMM",
    ("Tickets", "source", "Monitoring Alert"): "Monitoring",
}
#: real-like: UDFs this database does not have yet (``hub check autotask --fix`` creates them)
_MISSING_UDFS = {("Companies", "Site Summary URL"), ("Contacts", "Receives Reports")}
#: real-like classifications beyond R0/BN/MS/MR: (label, active)
_EXTRA_CLASSIFICATIONS = (("CM", True), ("Gold", False))


@dataclass
class Tenant:
    """One simulated database's vocabulary and people (see the module doc)."""

    name: str
    schemas: dict[str, EntitySchema]
    udfs: dict[str, dict[str, dict[str, str] | None]]
    #: resource id -> resource record (``Resources``); the API user's own included
    resources: dict[int, dict[str, Any]]
    roles: dict[int, dict[str, Any]]
    products: dict[int, dict[str, Any]]
    #: the API user's own resource (API-only: never on an account team)
    api_user: int
    #: sandbox resource id -> this tenant's, and picklist code maps, to translate seeded records
    resource_ids: dict[int, int] = field(default_factory=dict)
    codes: dict[tuple[str, str], dict[int, int]] = field(default_factory=dict)
    udf_values: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    #: UDF name -> its definition id (``UserDefinedFieldDefinitions``), per entity
    udf_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    #: picklist values that are inactive (entity, field) -> codes
    inactive: dict[tuple[str, str], set[int]] = field(default_factory=dict)

    @property
    def technicians(self) -> list[int]:
        """Resources that may own records or be impersonated (not the API user)."""
        return [rid for rid, r in self.resources.items() if rid != self.api_user and r["isActive"]]

    def translate(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        """A record seeded with the sandbox's codes and ids, in this tenant's."""
        if not self.codes and not self.resource_ids:
            return record
        out = dict(record)
        schema = self.schemas[entity]
        for name in _RESOURCE_FIELDS & out.keys():
            out[name] = self.resource_ids.get(out[name], out[name])
        if schema.references.get("productID") == "Products" and out.get("productID") is not None:
            out["productID"] += _REAL_IDS
        for name in schema.picklists:
            mapping = self.codes.get((entity, name))
            if mapping and out.get(name) in mapping:
                out[name] = mapping[out[name]]
        if out.get("userDefinedFields"):
            udfs = []
            for udf in out["userDefinedFields"]:
                if udf["name"] not in self.udfs.get(entity, {}):
                    continue
                values = self.udf_values.get((entity, udf["name"]))
                value = udf.get("value")
                udfs.append({**udf, "value": values.get(value, value) if values else value})
            out["userDefinedFields"] = udfs
        return out


def _people(mapping: dict[int, tuple[str, str]], api_user: int, username: str) -> dict[int, dict[str, Any]]:
    out = {}
    for rid, (first, last) in mapping.items():
        handle = f"{first[0]}{last}".lower()
        out[rid] = {
            "id": rid,
            "firstName": first,
            "lastName": last,
            "userName": handle,
            "email": f"{handle}@msp.example.com",
            "isActive": True,
            "resourceType": "Employee",
        }
    out[api_user] = {
        "id": api_user,
        "firstName": "API",
        "lastName": "User (hub)",
        "userName": username,
        "email": username,
        "isActive": True,
        "resourceType": "Employee",
    }
    return out


def _named(mapping: dict[int, str], key: str = "name") -> dict[int, dict[str, Any]]:
    return {i: {"id": i, key: label, "isActive": True} for i, label in mapping.items()}


def _udf_ids(udfs: dict[str, dict[str, dict[str, str] | None]], start: int) -> dict[tuple[str, str], int]:
    ids, n = {}, start
    for entity, fields in udfs.items():
        for name in fields:
            ids[(entity, name)] = n
            n += 1
    return ids


def tenant(profile: str, username: str) -> Tenant:
    """The tenant ``profile`` names (one of :data:`PROFILES`), its API user ``username``."""
    if profile not in PROFILES:
        raise ValueError(f"unknown tenant profile {profile!r}; profiles: {', '.join(PROFILES)}")
    if profile == "sandbox":
        api_user = API_ONLY_RESOURCES[0]
        udfs = copy.deepcopy(UDFS)
        return Tenant(
            name=profile,
            schemas=dict(SCHEMAS),
            udfs=udfs,
            resources=_people(_SANDBOX_PEOPLE, api_user, username),
            roles=_named(_SANDBOX_ROLES),
            products=_named(_SANDBOX_PRODUCTS),
            api_user=api_user,
            udf_ids=_udf_ids(udfs, 29_680_001),
        )
    return _real_like(username)


def _real_like(username: str) -> Tenant:
    schemas: dict[str, EntitySchema] = {}
    codes: dict[tuple[str, str], dict[int, int]] = {}
    inactive: dict[tuple[str, str], set[int]] = {}
    for entity, schema in SCHEMAS.items():
        picklists = {}
        for name, values in schema.picklists.items():
            shifted = {code: code + _CODE_SHIFT for code in values}
            codes[(entity, name)] = shifted
            picklists[name] = {
                shifted[code]: _RENAMED.get((entity, name, label), label) for code, label in values.items()
            }
        if entity == "Companies":
            extra = max(picklists["classification"]) + 1
            for offset, (label, active) in enumerate(_EXTRA_CLASSIFICATIONS):
                picklists["classification"][extra + offset] = label
                if not active:
                    inactive.setdefault((entity, "classification"), set()).add(extra + offset)
        defaults = {name: codes[(entity, name)][code] for name, code in schema.defaults.items()}
        schemas[entity] = replace(schema, picklists=picklists, defaults=defaults)
    udfs: dict[str, dict[str, dict[str, str] | None]] = {}
    udf_values: dict[tuple[str, str], dict[str, str]] = {}
    for entity, fields in UDFS.items():
        udfs[entity] = {}
        for name, items in fields.items():
            if (entity, name) in _MISSING_UDFS:
                continue
            if items is None:
                udfs[entity][name] = None
                continue
            moved = {value: str(int(value) + _UDF_SHIFT) for value in items}
            udf_values[(entity, name)] = moved
            udfs[entity][name] = {moved[value]: label for value, label in items.items()}
    people = {
        RESOURCES[0] + _REAL_IDS: ("Priya", "Raman"),
        RESOURCES[1] + _REAL_IDS: ("Tomasz", "Nowak"),
        RESOURCES[2] + _REAL_IDS: ("Grace", "Okafor"),
        RESOURCES[3] + _REAL_IDS: ("Admin", "Administrator"),
        RESOURCES[4] + _REAL_IDS: ("Lena", "Fischer"),
    }
    api_user = API_ONLY_RESOURCES[0] + _REAL_IDS
    return Tenant(
        name="real-like",
        schemas=schemas,
        udfs=udfs,
        resources=_people(people, api_user, username),
        roles=_named({_REAL_IDS + 1: "Field Technician", _REAL_IDS + 2: "Service Desk"}),
        products=_named(
            {PRODUCTS[0] + _REAL_IDS: "Workstation - Managed", PRODUCTS[1] + _REAL_IDS: "Server - Managed"}
        ),
        api_user=api_user,
        resource_ids={rid: rid + _REAL_IDS for rid in RESOURCES},
        codes=codes,
        udf_values=udf_values,
        udf_ids=_udf_ids(udfs, _REAL_IDS + 9_001),
        inactive=inactive,
    )


def dress(db: Tenant, seeded: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The seeded records as ``db`` holds them: its codes and ids, and for a real-like
    database its unmapped classifications and two companies named alike."""
    out = {entity: [db.translate(entity, r) for r in records] for entity, records in seeded.items()}
    if db.name != "real-like":
        return out
    labels = {label: code for code, label in db.schemas["Companies"].picklists["classification"].items()}
    companies = out["Companies"]
    for n, company in enumerate(companies):
        if n % 7 == 3:
            company["classification"] = labels["CM"]
        elif n % 11 == 5:
            company["classification"] = labels["Gold"]
    active = [c for c in companies if c["isActive"]]
    if len(active) >= 2:
        # "Okafor Architecture Pty Ltd" and "... GmbH": one name once legal forms are dropped
        active[0]["companyName"] = "Okafor Architecture Pty Ltd"
        active[1]["companyName"] = "Okafor Architecture GmbH"
    return out
