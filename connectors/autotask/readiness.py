"""``hub check autotask``: whether this database has what the hub names, and ``--fix``.

Each :class:`~hub.sdk.Need` is checked against ``entityInformation`` (fields, picklists,
UDFs) or, for a resource, role or product named by name, against the records
themselves; the connector's own settings (the account owner, the device products) are
checked too. What is missing says what to create and where in Autotask's admin pages.

What the REST API can create, ``--fix`` creates (the entity pages of
UserDefinedFieldDefinitions, UserDefinedFieldListItems, Products and Roles): a missing UDF
(a list UDF with the labels the hub writes), a missing value of a list UDF, a product,
a role. System picklists (ticket statuses, queues, priorities, sources, issue types,
classifications, note types) and resources are made in Autotask's admin pages only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.sdk import ConfigError, Finding, HttpError, Need

from .vocabulary import FieldInfo, udf_name

if TYPE_CHECKING:
    from .connector import AutotaskConnector

__all__ = ["fix", "readiness"]

#: where a system picklist's values are made (Autotask > Admin > Features & Settings ...)
ADMIN_PAGES = {
    ("Tickets", "status"): "Service Desk (Tickets) > Ticket Statuses",
    ("Tickets", "queueID"): "Service Desk (Tickets) > Queues",
    ("Tickets", "priority"): "Service Desk (Tickets) > Priorities",
    ("Tickets", "source"): "Service Desk (Tickets) > Ticket Sources",
    ("Tickets", "issueType"): "Service Desk (Tickets) > Issue & Sub-Issue Types",
    ("Tickets", "subIssueType"): "Service Desk (Tickets) > Issue & Sub-Issue Types",
    ("Tickets", "ticketType"): "Service Desk (Tickets) > Ticket Types",
    ("Companies", "classification"): "Companies & Contacts > Classification Icons",
    ("CompanyNotes", "actionType"): "Activities > Action Types",
    ("TicketNotes", "noteType"): "Service Desk (Tickets) > Note Types",
    ("ConfigurationItems", "configurationItemType"): "Configuration Items > Configuration Item Types",
    ("Contracts", "serviceLevelAgreementID"): "Contracts > Service Level Agreements",
}
#: where an entity's UDFs are made (Admin > Features & Settings > ...)
_UDF_PAGES = {
    "Companies": "Companies & Contacts",
    "Contacts": "Companies & Contacts",
    "Tickets": "Service Desk (Tickets)",
    "ConfigurationItems": "Configuration Items",
    "Contracts": "Contracts",
}
#: UDF type labels per entity (``UserDefinedFieldDefinitions.udfType``), as a database may spell them
UDF_TYPES = {
    "Companies": ("Company", "Account"),
    "Contacts": ("Contact",),
    "Tickets": ("Ticket",),
    "ConfigurationItems": ("Configuration Item", "Installed Product"),
    "Contracts": ("Contract",),
}


def readiness(connector: AutotaskConnector, needs: list[Need]) -> list[Finding]:
    """One finding per need, then the connector's own settings."""
    findings = [_check(connector, need) for need in needs]
    findings.extend(_settings(connector))
    return findings


def _found(need: Need, ok: bool, detail: str, fix: str = "", fixable: bool = False) -> Finding:
    what = f"{need.entity}.{_field_name(need.field)}" + (f" {need.value!r}" if need.value else "")
    return Finding(what=what, ok=ok, detail=detail, fix=fix, fixable=fixable, required=need.required,
                   source=need.source, need=need)  # fmt: skip


def _check(connector: AutotaskConnector, need: Need) -> Finding:
    udf = udf_name(need.field)
    try:
        info = connector.vocabulary.field(need.entity, need.field)
    except ConfigError:  # only a UDF path raises: the UDF does not exist
        if need.kind == "value":
            return _found(need, False, f"the UDF {udf!r} is missing too",
                          f"add {need.value!r} to the new list UDF {udf!r}", fixable=True)  # fmt: skip
        kind = "list" if need.picklist else "text"
        page = f"Admin > Features & Settings > {_UDF_PAGES.get(need.entity, need.entity)} > User-Defined Fields"
        return _found(need, False, f"{need.entity} has no user-defined field {udf!r}",
                      f"create the {kind} UDF {udf!r} ({page})", fixable=True)  # fmt: skip
    if info is None:
        return _found(need, False, f"{need.entity} has no field {need.field!r}", "correct the mapping file")
    if need.kind == "field" or need.value is None:
        return _found(need, True, "present")
    if info.reference:
        return _named(connector, need, info.reference)
    return _label(need, info, udf)


def _label(need: Need, info: FieldInfo, udf: str | None) -> Finding:
    value = str(need.value)
    wanted = " ".join(value.replace("\u2013", "-").split()).casefold()
    labels = {" ".join(label.replace("\u2013", "-").split()).casefold(): label for label in info.labels.values()}
    if wanted in labels:
        label = labels[wanted]
        if label in info.inactive:
            return _found(need, False, f"{label!r} exists but is inactive", "activate it")
        return _found(need, True, "present")
    valid = ", ".join(f"'{v}'" for v in sorted(set(info.labels.values()), key=str.casefold)[:25]) or "none"
    if udf is not None:
        return _found(need, False, f"the UDF {udf!r} has no value {value!r}; values: {valid}",
                      f"add the value {value!r} to the list UDF {udf!r}", fixable=True)  # fmt: skip
    page = ADMIN_PAGES.get((need.entity, need.field))
    where = f"Admin > Features & Settings > {page}" if page else "Autotask's admin pages (a system picklist)"
    return _found(need, False, f"no value {value!r}; values: {valid}", f"create {value!r} in {where}{_instead(need)}")


def _instead(need: Need) -> str:
    """What the user can change instead of creating the value in Autotask."""
    kind, _, rest = need.source.partition(" ")
    if kind == "setting":
        return f", or set {rest} to one of them"
    if kind == "workflow":
        name, _, where = rest.partition(" ")
        return f", or set {where} to one of them in a copy of workflow {name} in HUB_WORKFLOWS_DIR"
    if kind == "mapping":
        name, _, where = rest.partition(" ")
        return f", or change {where} in a copy of {name} in HUB_MAPPINGS_DIR"
    return ""


def _named(connector: AutotaskConnector, need: Need, entity: str) -> Finding:
    value = str(need.value)
    if value.strip().isdigit():
        return _found(need, True, "an id given by a person")
    try:
        connector.named(entity, value, need.source)
    except ConfigError as exc:
        fixable = entity in ("Roles", "Products")
        how = f"create the {entity[:-1].lower()} {value!r}" if fixable else (
            f"add the resource {value!r} (Admin > Account Settings & Users > Resources/Users)")
        return _found(need, False, str(exc).removeprefix("autotask: "), how + _instead(need), fixable=fixable)
    return _found(need, True, "present")


def _settings(connector: AutotaskConnector) -> list[Finding]:
    """The account owner and the device products the connector's settings name."""
    out = []
    owner = "HUB_AUTOTASK__ACCOUNT_OWNER"
    try:
        found = connector.account_owner()
        detail = f"resource {found}"
        out.append(Finding(what="owner of new companies", ok=True, detail=detail, source=f"setting {owner}"))
    except ConfigError as exc:
        out.append(Finding(what="owner of new companies", ok=False, detail=str(exc).removeprefix("autotask: "),
                           fix=f"set {owner}", source=f"setting {owner}"))  # fmt: skip
    products: list[tuple[str | None, str | None]] = [(None, connector.settings.device_product)]
    products += list(connector.settings.device_products.items())
    for key, name in products:
        setting = "HUB_AUTOTASK__DEVICE_PRODUCT" + (f"S__{key.upper()}" if key else "")
        what = "product of new configuration items" + (f" of type {key!r}" if key else "")
        need = Need("value", "Products", "name", name, f"setting {setting}") if name else None
        try:
            found = connector.named("Products", name, setting) if name else connector.device_product()
            out.append(Finding(what=what, ok=True, detail=f"product {found}", source=f"setting {setting}"))
        except ConfigError as exc:
            fix = f"create the product {name!r}, or set {setting} to one of them" if name else f"set {setting}"
            out.append(Finding(what=what, ok=False, detail=str(exc).removeprefix("autotask: "), fix=fix,
                               fixable=name is not None, source=f"setting {setting}", need=need))  # fmt: skip
    return out


def _field_name(path: str) -> str:
    udf = udf_name(path)
    return f"UDF {udf!r}" if udf else path


# -- --fix ------------------------------------------------------------------------------


def fix(connector: AutotaskConnector, findings: list[Finding]) -> list[str]:
    """Create what the fixable findings lack; one line per record created."""
    lines: list[str] = []
    created_udfs: dict[tuple[str, str], int] = {}
    todo = [f for f in findings if not f.ok and f.fixable and f.need is not None]
    for finding in todo:  # UDFs first: a list UDF's values go in after it
        need = finding.need
        assert need is not None
        udf = udf_name(need.field)
        if udf is None or (need.entity, udf) in created_udfs or need.kind != "field":
            continue
        created_udfs[(need.entity, udf)] = _create_udf(connector, need.entity, udf, need.picklist)
        lines.append(f"created the {'list' if need.picklist else 'text'} UDF {udf!r} of {need.entity}")
    connector.vocabulary.forget()
    for finding in todo:
        need = finding.need
        assert need is not None
        udf = udf_name(need.field)
        if need.kind == "value" and udf is not None and need.value:
            udf_id = created_udfs.get((need.entity, udf)) or _udf_id(connector, need.entity, udf)
            connector.call("POST", f"V1.0/UserDefinedFields/{udf_id}/ListItems",
                           json={"udfFieldId": udf_id, "valueForDisplay": need.value})  # fmt: skip
            lines.append(f"added {need.value!r} to the UDF {udf!r} of {need.entity}")
        elif need.entity in ("Products", "Roles") or (need.kind == "value" and udf is None):
            entity = need.entity if need.entity in ("Products", "Roles") else _reference(connector, need)
            body: dict[str, Any] = {"name": need.value, "isActive": True}
            if entity == "Products":
                body.update(description="configuration items the msp-hub creates", isSerialized=False)
            connector.call("POST", f"V1.0/{entity}", json=body)
            lines.append(f"created the {entity[:-1].lower()} {need.value!r}")
    connector.vocabulary.forget()
    connector.forget_named()
    return lines


def _reference(connector: AutotaskConnector, need: Need) -> str:
    info = connector.vocabulary.field(need.entity, need.field)
    if info is None or info.reference not in ("Products", "Roles"):
        raise ConfigError(f"autotask: {need.entity}.{need.field} cannot be created through the API")
    return info.reference


def _pick(info: FieldInfo | None, labels: tuple[str, ...], what: str) -> int:
    wanted = {label.casefold() for label in labels}
    for value, label in (info.labels.items() if info else []):
        if label.casefold() in wanted:
            return int(value)
    raise ConfigError(f"autotask: UserDefinedFieldDefinitions has no {what} {labels[0]!r}: create the UDF by hand")


def _create_udf(connector: AutotaskConnector, entity: str, name: str, listed: bool) -> int:
    defs = "UserDefinedFieldDefinitions"
    data_types = ("List",) if listed else ("String", "Text")
    body = {
        "name": name,
        "udfType": _pick(connector.vocabulary.field(defs, "udfType"), UDF_TYPES[entity], "udfType"),
        "dataType": _pick(connector.vocabulary.field(defs, "dataType"), data_types, "dataType"),
        "isActive": True,
    }
    try:
        return int(connector.item_id(connector.call("POST", f"V1.0/{defs}", json=body)))
    except HttpError as exc:
        raise ConfigError(f"autotask: could not create the UDF {name!r} of {entity}: {exc}") from None


def _udf_id(connector: AutotaskConnector, entity: str, name: str) -> int:
    for record in connector.query_records("UserDefinedFieldDefinitions", {"op": "eq", "field": "name", "value": name}):
        return int(record["id"])
    raise ConfigError(f"autotask: the UDF {name!r} of {entity} was not found to add values to")
