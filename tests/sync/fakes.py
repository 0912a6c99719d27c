"""In-memory fake vendors for sync engine tests: a CRM (source) and a docs tool (target)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.app import Hub
from hub.clock import FakeClock
from hub.connector import CheckResult, Connector, ConnectorContext, Page, Stream, WriteResult, parse_timestamp
from hub.errors import NotFoundError, VendorError
from hub.hookspecs import hookimpl
from hub.plugins import HubPlugins
from hub.settings import ConnectorSettings, HubSettings
from hub.sync import EntityStep, SyncJob

MAPPINGS = {
    "crm": """
connector: crm
entities:
  accounts:
    kind: organization
    fields:
      name: {vendor: name, transform: [trim]}
      phone: {vendor: phone}
      active: {vendor: active}
    owned: [name, phone]
""",
    "docs": """
connector: docs
entities:
  orgs:
    kind: organization
    fields:
      name: {vendor: name}
      phone: {vendor: phone}
      active: {vendor: active}
      website: {vendor: notes}
    match:
      - {key: name, normalize: org_name}
    owned: [website]
""",
}


class Vendor:
    """One fake vendor's data, shared by every connector instance (like a real server)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.rows: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(1)
        self.calls = 0
        self.fail_on: dict[str, str | Exception] = {}  # name -> error message (or error) for writes
        self.writes: list[tuple[str, str, dict[str, Any]]] = []

    def stamp(self) -> str:
        return self.clock.now().isoformat()

    def add(self, **fields: Any) -> str:
        rid = str(next(self.ids))
        self.rows[rid] = {"id": rid, "modified": self.stamp(), "active": True, **fields}
        return rid


class CrmAccounts(Stream):
    name = "accounts"
    kind = "organization"
    cursor_field = "modified"
    page_size = 3

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        vendor: Vendor = self.connector.vendor  # type: ignore[attr-defined]
        rows = sorted(vendor.rows.values(), key=lambda r: int(r["id"]))
        if since is not None:
            rows = [r for r in rows if parse_timestamp(r["modified"]) >= since]  # type: ignore[operator]
        start = int(resume["token"]) if resume else 0
        while True:
            vendor.calls += 1
            chunk = rows[start : start + self.page_size]
            start += self.page_size
            more = start < len(rows)
            yield Page([dict(r) for r in chunk], {"token": start} if more else None)
            if not more:
                return


class DocsOrgs(CrmAccounts):
    name = "orgs"
    page_size = 50


class Fake(Connector):
    version = "1.0"
    settings_model = ConnectorSettings
    vendor: Vendor

    def check(self) -> CheckResult:
        return CheckResult(True)

    @property
    def api_calls(self) -> int:
        return self.vendor.calls

    def get(self, entity: str, id: str) -> dict[str, Any]:
        self.vendor.calls += 1
        if id not in self.vendor.rows:
            raise NotFoundError("not found", connector=self.name)
        return dict(self.vendor.rows[id])

    def create(self, entity: str, payload: dict[str, Any], *, key: str | None = None) -> WriteResult:
        self._guard(payload)
        rid = self.vendor.add(**payload)
        self.vendor.writes.append(("create", rid, payload))
        return WriteResult(rid, self.vendor.rows[rid])

    def update(self, entity: str, id: str, changes: dict[str, Any], *, key: str | None = None) -> WriteResult:
        self._guard(changes)
        self.vendor.rows[id].update(changes, modified=self.vendor.stamp())
        self.vendor.writes.append(("update", id, changes))
        return WriteResult(id, self.vendor.rows[id])

    def _guard(self, payload: dict[str, Any]) -> None:
        self.vendor.calls += 1
        message = self.vendor.fail_on.get(str(payload.get("name")))
        if isinstance(message, Exception):
            raise message
        if message:
            raise VendorError("request refused (HTTP 422)", connector=self.name, status=422, vendor_message=message)


class Crm(Fake):
    name = "crm"
    stream_classes = [CrmAccounts]


class Docs(Fake):
    name = "docs"
    stream_classes = [DocsOrgs]
    writable = {"orgs": "organization"}


class Plugin:
    def __init__(self, crm: Vendor, docs: Vendor, mappings: Path) -> None:
        self.crm, self.docs, self.mappings = crm, docs, mappings

    @hookimpl
    def hub_register_connectors(self, registry: Any) -> None:
        crm, docs = self.crm, self.docs

        class BoundCrm(Crm):
            vendor = crm

        class BoundDocs(Docs):
            vendor = docs

        BoundCrm.__name__, BoundDocs.__name__ = "Crm", "Docs"
        registry.add(BoundCrm)
        registry.add(BoundDocs)

    @hookimpl
    def hub_register_sync_jobs(self, registry: Any) -> None:
        step = EntityStep("crm", "accounts", "docs", "orgs")
        registry.add(SyncJob("crm-to-docs", "CRM accounts to docs orgs", [step]))

    @hookimpl
    def hub_mapping_dirs(self) -> list[Path]:
        return [self.mappings]


class World:
    """Two fake vendors, a hub wired to them, and a clock that moves a second per write."""

    def __init__(self, tmp: Path, state_url: str | None = None) -> None:
        self.clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        self.crm = Vendor(self.clock)
        self.docs = Vendor(self.clock)
        self.mappings = tmp / "mappings"
        self.mappings.mkdir(exist_ok=True)
        for name, text in MAPPINGS.items():
            (self.mappings / f"{name}.yaml").write_text(text)
        self.state_url = state_url or f"sqlite:///{tmp / 'state.sqlite'}"
        self.extra_plugins: list[tuple[Any, str]] = []

    def hub(self) -> Hub:
        plugins = HubPlugins(entry_points_group=None)
        plugins.register(Plugin(self.crm, self.docs, self.mappings), "fakes")
        for plugin, name in self.extra_plugins:
            plugins.register(plugin, name)
        settings = HubSettings(state_url=self.state_url)
        return Hub(settings, plugins=plugins, clock=self.clock)

    def run(self, **kwargs: Any) -> dict[str, Any]:
        from hub.sync import run_job

        with self.hub() as hub:
            summary = run_job(hub, "crm-to-docs", **kwargs)
        self.clock.advance(60)
        return summary

    def later(self, seconds: float = 60) -> None:
        self.clock.advance(seconds)

    def docs_by_name(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for row in self.docs.rows.values():
            out.setdefault(row["name"], []).append(row)
        return out


def context(clock: FakeClock) -> ConnectorContext:
    return ConnectorContext(clock=clock)


def ago(clock: FakeClock, seconds: int) -> str:
    return (clock.now() - timedelta(seconds=seconds)).isoformat()
