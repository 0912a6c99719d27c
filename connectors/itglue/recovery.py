"""Finding the record a create made when IT Glue's answer to it was lost.

IT Glue has no idempotency key on writes, so a ``POST /organizations`` that timed out
may or may not have made the organization (seen: one 35 s answer left two
"Riverbend Motors Co. #1"). Before the hub sends such a create again it looks the
record up with the index routes' documented filters (developer docs: organizations
``filter[name]``; contacts ``filter[primary_email]``, ``filter[first_name]`` and
``filter[last_name]`` under their organization; flexible assets
``filter[flexible_asset_type_id]`` and ``filter[organization_id]``), compares exactly
(IT Glue does not document ``filter[name]`` as exact), and keeps only records created
at or after the write was first sent, so an older record that shares the name is never
taken for the new one.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.itglue.jsonapi import next_page, resources
from hub.sdk import OutcomeUnknown, WriteResult, parse_timestamp

if TYPE_CHECKING:
    from connectors.itglue.connector import ITGlueConnector

__all__ = ["find_created"]


def find_created(
    connector: ITGlueConnector, entity: str, payload: dict[str, Any], since: datetime
) -> WriteResult | None:
    """The newest record the payload identifies, created at or after ``since``."""
    attrs: dict[str, Any] = payload.get("attributes") or {}
    path, params, wanted = _lookup(connector, entity, attrs)
    found = [
        record
        for record in _all(connector, path, params)
        if all(_same(_attribute(record, name), value) for name, value in wanted.items())
        and (parse_timestamp((record.get("attributes") or {}).get("created-at")) or since) >= since
    ]
    if not found:
        return None
    newest = max(found, key=lambda record: int(record["id"]) if str(record["id"]).isdigit() else 0)
    return WriteResult(str(newest["id"]), newest)


def _lookup(
    connector: ITGlueConnector, entity: str, attrs: dict[str, Any]
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(index route, its filters, attributes the records must carry exactly)."""
    if entity == "organizations" and attrs.get("name"):
        name = str(attrs["name"])
        # IT Glue splits filter values on commas unless escaped with a backslash
        return "/organizations", {"filter[name]": name.replace(",", "\\,")}, {"name": name}
    org = attrs.get("organization-id")
    if entity == "contacts" and org not in (None, ""):
        path = f"/organizations/{org}/relationships/contacts"
        email = _primary(attrs.get("contact-emails"))
        if email:
            return path, {"filter[primary_email]": email}, {"primary-email": email.lower()}
        first, last = attrs.get("first-name"), attrs.get("last-name")
        if first or last:
            names = {"first-name": first, "last-name": last}
            filters = {f"filter[{k.replace('-', '_')}]": v for k, v in names.items() if v}
            return path, filters, {k: v for k, v in names.items() if v}
    if entity == "site_summaries" and org not in (None, ""):
        type_id = connector.site_summary_type().id
        filters = {"filter[flexible_asset_type_id]": type_id, "filter[organization_id]": org}
        return "/flexible_assets", filters, {}
    raise OutcomeUnknown(
        f"itglue: a {entity} create has nothing the hub can look it up by, so whether it was applied cannot be "
        "told; look in IT Glue",
        connector="itglue",
    )


def _all(connector: ITGlueConnector, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    page: int | None = 1
    while page is not None:
        response = connector.client().get(path, params={**params, "page[size]": 1000, "page[number]": page})
        records.extend(resources(response))
        page = next_page(response.json(), page)
    return records


def _attribute(record: dict[str, Any], name: str) -> Any:
    attrs = record.get("attributes") or {}
    if name == "primary-email":
        return (_primary(attrs.get("contact-emails")) or "").lower()
    return attrs.get(name)


def _primary(items: Any) -> str | None:
    for item in items or []:
        if isinstance(item, dict) and str(item.get("primary")).lower() in ("true", "1") and item.get("value"):
            return str(item["value"])
    return None


def _same(found: Any, want: Any) -> bool:
    return str(found).strip() == str(want).strip()
