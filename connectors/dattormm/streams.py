"""Datto RMM's readable collections, named as the RMM jobs expect an RMM's streams.

* ``customers`` (``GET /v2/account/sites``): Datto RMM's sites. A site is where an MSP
  keeps one customer's devices, so the jobs link sites to PSA companies. Full reads: the
  API filters sites by name only.
* ``devices`` (``GET /v2/account/devices``): devices with hostname, OS, site and
  ``lastSeen``, the agent's last contact, used as the cursor. Everything an agent reports
  arrives with a contact, so a device seen at or after ``since`` is a superset of the
  devices whose reported data changed; the API cannot filter on it, so every page is read
  and the filter runs here (``sorted_by_cursor = False``). Each returned device is
  enriched with the identity part of its audit (serial number, maker, model): one call
  per device the agent audited since the hub last read it (``HUB_DATTORMM__DEVICE_AUDITS``,
  ``DattormmConnector.with_audit``). A device moved to another site while offline moves
  no ``lastSeen``; a full refresh picks it up.
* ``active_issues`` (``GET /v2/account/alerts/open``): the open alerts, a snapshot of what
  is wrong now, read whole every time; an alert that was resolved is simply absent (the
  alert job compares snapshots). Each alert carries the instance its monitor watches
  (:mod:`.problems`).

Every list is paged by following ``pageDetails.nextPageUrl`` (:mod:`.paging`); the first
request names only ``max``, so the platform chooses its own first page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from hub.sdk import Page, Paginator, RESTStream, parse_timestamp

from .paging import NextPageUrl, list_records
from .problems import with_instance

__all__ = ["DevicesStream", "OpenAlertsStream", "SitesStream", "datto_time"]


def datto_time(value: Any) -> datetime | None:
    """A Datto timestamp: the spec's ISO 8601 date-time, or the epoch milliseconds that
    public clients report seeing (e.g. ``1787643495000``); both are read."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str) and value.strip().isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    return parse_timestamp(value)


class _DattoStream(RESTStream):
    """A ``GET`` list endpoint answering ``pageDetails`` and a list under :attr:`items`."""

    path: str = ""
    items: str = ""

    @property
    def datto(self) -> Any:
        return self.connector

    def paginator(self) -> Paginator:
        return NextPageUrl(self.client())

    def params(self) -> dict[str, Any]:
        return {"max": self.datto.settings.page_size}

    def request(self, since: datetime | None, token: Any) -> httpx.Response:
        if token:  # the next page's URL, as the platform wrote it (paging.py)
            return self.client().get(str(token))
        return self.client().get(self.path, params=self.params())

    def parse_records(self, response: httpx.Response) -> list[dict[str, Any]]:
        return list_records(self.client(), response, self.items)


class SitesStream(_DattoStream):
    """Sites (the MSP's customers in Datto RMM): full reads."""

    name = "customers"
    entity = "site"
    kind = "organization"
    primary_key = "uid"
    path = "/v2/account/sites"
    items = "sites"


class DevicesStream(_DattoStream):
    """Devices, with their audit's serial number; ``lastSeen`` is the cursor."""

    name = "devices"
    entity = "device"
    kind = "configuration_item"
    primary_key = "uid"
    cursor_field = "lastSeen"
    sorted_by_cursor = False
    path = "/v2/account/devices"
    items = "devices"

    def cursor_value(self, record: Any) -> datetime | None:
        return datto_time(record.get(self.cursor_field))

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        for page in super().read(since, resume):
            records = [r for r in page.records if since is None or self._at_or_after(r, since)]
            if self.datto.settings.device_audits:
                records = [self.datto.with_audit(r) for r in records]
            yield Page(records, page.resume)

    def _at_or_after(self, record: dict[str, Any], since: datetime) -> bool:
        seen = self.cursor_value(record)
        return seen is not None and seen >= since


class OpenAlertsStream(_DattoStream):
    """The account's open alerts (unmuted only, unless ``include_muted``)."""

    name = "active_issues"
    entity = "alert"
    kind = "alert"
    primary_key = "alertUid"
    path = "/v2/account/alerts/open"
    items = "alerts"

    def params(self) -> dict[str, Any]:
        params = super().params()
        if not self.datto.settings.include_muted:
            params["muted"] = "false"  # the spec: without it, muted and unmuted alerts are read
        return params

    def parse_records(self, response: httpx.Response) -> list[dict[str, Any]]:
        return [with_instance(alert) for alert in super().parse_records(response)]
