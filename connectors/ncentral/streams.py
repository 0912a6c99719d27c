"""N-central's readable collections.

N-central has almost no change tracking: no list endpoint filters by a modification
time. So:

* ``org_units`` (``GET /api/org-units``) and ``customers`` (``GET /api/customers``) are
  full reads (no cursor);
* ``devices`` (``GET /api/devices``) uses the agent's last check-in,
  ``lastApplianceCheckinTime``, as its cursor. Everything an agent reports arrives with a
  check-in, so a device checked in at or after ``since`` is a superset of the devices whose
  reported data changed. The filter runs here (N-central cannot filter on it), so every
  page is still read, but only matching devices are returned and enriched with their
  asset record (one call each). Pages are ordered by ``deviceId`` for stable paging, not by
  the cursor (``sorted_by_cursor = False``). An edit made in N-central's UI to a device
  that is offline moves no check-in time; a full refresh picks it up;
* ``active_issues`` (``GET /api/org-units/{orgUnitId}/active-issues`` per customer or
  site) is a snapshot of what is wrong now: a full read every time, and an issue that
  cleared is simply absent (the alert job compares snapshots). An issue's ``orgUnitId``
  is the org unit its device is registered to, which for a device at a site is the site
  (an org unit under the customer). The PSA knows customers, not sites, so each issue
  gets the ``customerId`` it belongs to (as devices carry it): the customer whose list
  it was read from, or, for a site configured in ``alert_org_units``, the site's parent.

Every list is paged with ``pageNumber`` (from 1) and ``pageSize`` (1 to 1000) and ends at
the answer's ``totalPages``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx

from hub.sdk import NotFoundError, Page, PageNumberPaginator, Paginator, RESTStream, Stream

from .answers import list_records, total_pages

__all__ = ["ActiveIssuesStream", "CustomersStream", "DevicesStream", "OrgUnitsStream"]


class _PagedStream(RESTStream):
    """A ``GET`` list endpoint paged with ``pageNumber``/``pageSize``."""

    path: str = ""
    sort_by: str | None = None

    @property
    def ncentral(self) -> Any:
        return self.connector

    def paginator(self) -> Paginator:
        return PageNumberPaginator(self.ncentral.settings.page_size, total_pages=total_pages)

    def params(self, token: Any) -> dict[str, Any]:
        params: dict[str, Any] = {"pageNumber": int(token or 1), "pageSize": self.ncentral.settings.page_size}
        if self.sort_by:
            params["sortBy"] = self.sort_by
            params["sortOrder"] = "asc"
        return params

    def request(self, since: datetime | None, token: Any) -> httpx.Response:
        return self.client().get(self.path, params=self.params(token))

    def total(self, response: httpx.Response, since: datetime | None) -> int | None:
        """``totalItems`` of a full read (a read since a time filters here, page by page)."""
        body = response.json()
        value = body.get("totalItems") if since is None and isinstance(body, dict) else None
        return value if isinstance(value, int) else None

    def parse_records(self, response: httpx.Response) -> list[dict[str, Any]]:
        return list_records(self.client(), response)


class OrgUnitsStream(_PagedStream):
    """Every organization unit (service organizations, customers, sites): full reads."""

    name = "org_units"
    entity = "org_unit"
    kind = "organization"
    primary_key = "orgUnitId"
    path = "/api/org-units"


class CustomersStream(_PagedStream):
    """The customers (the PSA's accounts): full reads."""

    name = "customers"
    entity = "customer"
    kind = "organization"
    primary_key = "customerId"
    path = "/api/customers"


class DevicesStream(_PagedStream):
    """Devices with OS and last check-in; serial numbers from each device's asset record."""

    name = "devices"
    entity = "device"
    kind = "configuration_item"
    primary_key = "deviceId"
    cursor_field = "lastApplianceCheckinTime"
    sorted_by_cursor = False
    path = "/api/devices"
    sort_by = "deviceId"

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        for page in super().read(since, resume):
            records = [r for r in page.records if since is None or self._at_or_after(r, since)]
            if self.ncentral.settings.device_assets:
                records = [self.ncentral.with_assets(r) for r in records]
            yield Page(records, page.resume, page.total)

    def _at_or_after(self, record: dict[str, Any], since: datetime) -> bool:
        seen = self.cursor_value(record)
        return seen is not None and seen >= since


class ActiveIssuesStream(Stream):
    """The active issues of every polled customer (or of ``alert_org_units``).

    The resume token is the org unit being read and the next page, so state stays small:
    on resume the org units are listed again and those before it are skipped.
    """

    name = "active_issues"
    entity = "active_issue"
    kind = "alert"
    primary_key = "taskId"

    def __init__(self, connector: Any) -> None:
        super().__init__(connector)
        #: the customers' ids, once listed (their issues need no lookup of their customer)
        self._customers: set[int] = set()

    @property
    def ncentral(self) -> Any:
        return self.connector

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        org_units = self._org_units()
        if resume:
            start = int(resume["org_unit"])
            org_units = [ou for ou in org_units if ou >= start]
        page_size = self.ncentral.settings.page_size
        for index, org_unit in enumerate(org_units):
            customer = self._customer_of(org_unit)
            first = int(resume["page"]) if resume and org_unit == int(resume["org_unit"]) else 1
            paginator = PageNumberPaginator(page_size, total_pages=total_pages)
            page: int | None = first
            while page is not None:
                response = self._request(org_unit, page, page_size)
                if response is None:  # the org unit was deleted while we read
                    break
                records = [{**r, "customerId": customer} for r in list_records(self.ncentral.client(), response)]
                page = paginator.advance(response, records, page)
                yield Page(records, self._resume(org_units, index, page))

    def _org_units(self) -> list[int]:
        configured = self.ncentral.settings.alert_org_units
        if configured:
            return sorted({int(ou) for ou in configured})
        customers = CustomersStream(self.connector)
        ids = {int(c["customerId"]) for page in customers.read() for c in page.records}
        self._customers = ids
        return sorted(ids)

    def _customer_of(self, org_unit: int) -> int:
        """The customer an org unit belongs to: itself, or a site's parent (one GET per
        configured org unit; none when the org units are the customers list)."""
        if org_unit in self._customers:
            return org_unit
        try:
            unit = self.ncentral.get("org_unit", str(org_unit))
        except NotFoundError:
            return org_unit
        if str(unit.get("orgUnitType", "")).upper() == "SITE" and unit.get("parentId") not in (None, ""):
            return int(unit["parentId"])
        return org_unit

    def _request(self, org_unit: int, page: int, page_size: int) -> httpx.Response | None:
        try:
            return self.ncentral.client().get(
                f"/api/org-units/{org_unit}/active-issues", params={"pageNumber": page, "pageSize": page_size}
            )
        except NotFoundError:
            return None

    @staticmethod
    def _resume(org_units: list[int], index: int, page: int | None) -> dict[str, Any] | None:
        if page is not None:
            return {"org_unit": org_units[index], "page": page}
        if index + 1 < len(org_units):
            return {"org_unit": org_units[index + 1], "page": 1}
        return None
