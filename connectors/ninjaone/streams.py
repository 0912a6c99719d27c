"""NinjaOne's readable collections, named as the RMM jobs expect an RMM's streams.

* ``customers`` (``GET /v2/organizations``): NinjaOne's organizations, the MSP's customers. Full reads: the API
  filters organizations only with its own filter language (``of``), not by change.
* ``devices`` (``GET /v2/devices-detailed``): devices with their organization, names, and
  for agent devices ``system`` (serial number, maker, model) and ``os``; the spec's
  ``Device`` and its ``AgentDevice`` variant. ``lastContact`` (the agent's last contact,
  epoch seconds) is the cursor: everything an agent reports arrives with a contact, so a
  device contacted at or after ``since`` is a superset of the devices whose data changed.
  The API cannot filter on it, so every page is read and the filter runs here
  (``sorted_by_cursor = False``); a device with no contact time (a monitor without an
  agent) is always returned, since the hub cannot tell whether it changed. A device moved
  to another organization while offline moves no ``lastContact``: a full refresh picks it
  up.
* ``active_issues`` (``GET /v2/alerts``): the active alerts (triggered conditions), a snapshot of
  what is wrong now, in one answer (the operation has no paging parameters); a reset
  alert is simply absent (the alert job compares snapshots). Each is enriched by the
  connector (:meth:`NinjaoneConnector.with_problem`): its organization and severity.

Organizations and devices are paged by id, as the spec's parameters say: ``pageSize``
and ``after`` ("Last Organization Identifier from previous page", "Last Node ID from
previous page"), so pages come in ascending id order and the next page starts after the
last id seen. That id is also the resume token: it stays valid however long a crash
lasts, unlike a cursor.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from hub.sdk import HttpClient, Page, Paginator, RESTStream, VendorError

__all__ = [
    "PLACEHOLDER_SERIALS",
    "AfterId",
    "AlertsStream",
    "DevicesStream",
    "OrganizationsStream",
    "device_identity",
    "list_body",
    "ninja_time",
]

#: what BIOSes report when the maker left the serial number blank; matching configuration
#: items by such a value would tie unrelated devices to one item, so it counts as none
PLACEHOLDER_SERIALS = frozenset(
    {
        "", "0", "none", "null", "n/a", "na", "unknown", "default string", "to be filled by o.e.m.",
        "to be filled by oem", "system serial number", "chassis serial number", "base board serial number",
        "123456789", "0123456789", "not specified", "not applicable", "invalid",
    }
)  # fmt: skip


def ninja_time(value: Any) -> datetime | None:
    """A NinjaOne timestamp: the spec's ``number`` (``format: double``), epoch seconds with a
    fraction; a value too large for seconds is read as milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    if seconds > 100_000_000_000:  # year 5138 in seconds: these are milliseconds
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, ValueError, OSError):  # beyond the year 9999
        return None


def _serial(system: Any) -> str | None:
    if not isinstance(system, dict):
        return None
    for field in ("serialNumber", "biosSerialNumber"):
        value = system.get(field)
        if isinstance(value, str) and value.strip().casefold() not in PLACEHOLDER_SERIALS:
            return value.strip()
    return None


def device_identity(device: dict[str, Any]) -> dict[str, Any]:
    """The device with the name and serial number the mapping reads: ``_name`` (its system
    name, else its display, DNS or NetBIOS name: devices without an agent may lack some)
    and ``_serial`` (``system.serialNumber``, else ``biosSerialNumber``, of the spec's
    ``AgentDevice``; placeholders count as none)."""
    names = (device.get(f) for f in ("systemName", "displayName", "dnsName", "netbiosName"))
    name = next((n.strip() for n in names if isinstance(n, str) and n.strip()), f"device {device.get('id')}")
    return {**device, "_name": name, "_serial": _serial(device.get("system"))}


def list_body(client: HttpClient, response: httpx.Response) -> list[dict[str, Any]]:
    """The records of a list answer (the spec: a JSON array of objects)."""
    try:
        body = response.json()
    except ValueError:
        raise client.error(response, "the answer is not JSON") from None
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise client.error(response, "the answer is not a JSON array of records", VendorError)
    return body


class AfterId(Paginator):
    """``after`` = the last id of the page, until a page shorter than ``pageSize``.

    A full page whose last record has no numeric id cannot say where the next page starts:
    that is the vendor's error, never a silent end of the read (the pages after it would
    be lost)."""

    def __init__(self, client: HttpClient, page_size: int) -> None:
        super().__init__()
        self._client = client
        self.page_size = page_size

    def next_token(self, response: Any, records: list[dict[str, Any]], token: Any) -> Any:
        if len(records) < self.page_size:
            return None
        last = records[-1].get("id")
        if isinstance(last, bool) or not isinstance(last, int | str) or not str(last).isdigit():
            raise self._client.error(response, f"the page's last record has no id to page after ({last!r})")
        return int(last)


class _PagedStream(RESTStream):
    """A ``GET`` list endpoint paged by ``pageSize`` and ``after``."""

    path: str = ""

    @property
    def ninja(self) -> Any:
        return self.connector

    def paginator(self) -> Paginator:
        return AfterId(self.client(), self.ninja.settings.page_size)

    def request(self, since: datetime | None, token: Any) -> httpx.Response:
        params: dict[str, Any] = {"pageSize": self.ninja.settings.page_size}
        if token is not None:
            params["after"] = int(token)
        return self.client().get(self.path, params=params)

    def parse_records(self, response: httpx.Response) -> list[dict[str, Any]]:
        return list_body(self.client(), response)


class OrganizationsStream(_PagedStream):
    """Organizations (the MSP's customers): full reads."""

    name = "customers"
    entity = "organization"
    kind = "organization"
    primary_key = "id"
    path = "/v2/organizations"


class DevicesStream(_PagedStream):
    """Devices with their system and OS; ``lastContact`` is the cursor."""

    name = "devices"
    entity = "device"
    kind = "configuration_item"
    primary_key = "id"
    cursor_field = "lastContact"
    sorted_by_cursor = False
    path = "/v2/devices-detailed"

    def parse_records(self, response: httpx.Response) -> list[dict[str, Any]]:
        return [device_identity(d) for d in super().parse_records(response)]

    def cursor_value(self, record: Any) -> datetime | None:
        return ninja_time(record.get(self.cursor_field))

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        for page in super().read(since, resume):
            records = [r for r in page.records if since is None or self._changed(r, since)]
            yield Page(records, page.resume)

    def _changed(self, record: dict[str, Any], since: datetime) -> bool:
        contact = self.cursor_value(record)
        return contact is None or contact >= since


class AlertsStream(RESTStream):
    """The active alerts of devices, each with its organization and severity."""

    name = "active_issues"
    entity = "alert"
    kind = "alert"
    primary_key = "uid"

    @property
    def ninja(self) -> Any:
        return self.connector

    def paginator(self) -> Paginator:
        return _OnePage()

    def request(self, since: datetime | None, token: Any) -> httpx.Response:
        return self.client().get("/v2/alerts")

    def parse_records(self, response: httpx.Response) -> list[dict[str, Any]]:
        # an alert of no device (none of the RMM jobs' problems) is left out
        alerts = [a for a in list_body(self.client(), response) if a.get("deviceId") is not None and a.get("uid")]
        return self.ninja.with_problems(alerts)


class _OnePage(Paginator):
    """A list answered whole: one page, nothing to resume."""

    def next_token(self, response: Any, records: list[dict[str, Any]], token: Any) -> Any:
        return None
