"""Fakes for event-intake tests: connectors that verify like their vendors, engines that record.

The fake QuickBooks connector verifies ``intuit-signature`` exactly as Intuit documents
it (base64 HMAC-SHA256 of the raw body keyed with the verifier token) and parses the
``eventNotifications`` shape; the fake Autotask connector verifies ``X-Hook-Signature:
sha1=<base64 HMAC-SHA1>``. Their deactivation notice shape is the fake's own: the real
connector owns that format.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from hub.sdk import (
    CheckResult,
    Connector,
    ConnectorSettings,
    Event,
    Page,
    Stream,
    WebhookRejected,
    hookimpl,
    parse_timestamp,
)
from hub.state.store import JobLocked
from tests.conftest import vendor_specs

QB_VECTOR = json.loads(
    (vendor_specs() / "quickbooks/examples/webhook_signature_test_vector.json").read_text()
)
AT_SAMPLE = json.loads(
    (vendor_specs() / "autotask/examples/webhook_ticket_update.SYNTHETIC.json").read_text()
)
AT_SECRET = "autotask-webhook-secret-for-tests"


def autotask_signature(body: bytes, secret: str = AT_SECRET) -> str:
    return "sha1=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha1).digest()).decode()


def quickbooks_signature(body: bytes, token: str = QB_VECTOR["verifier_token"]) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


class _NoRead(Stream):
    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        yield Page([])


class Customers(_NoRead):
    name = "customers"
    kind = "organization"
    entity = "Customer"


class Tickets(_NoRead):
    name = "tickets"
    kind = "ticket"
    entity = "Tickets"


class QBSettings(ConnectorSettings):
    webhook_verifier_token: SecretStr


class FakeQuickBooks(Connector):
    name = "quickbooks"
    has_webhooks = True
    settings_model = QBSettings
    stream_classes = [Customers]

    def check(self) -> CheckResult:
        return CheckResult(True)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        given = headers.get("intuit-signature")
        if not given:
            raise WebhookRejected("missing intuit-signature header", status=401)
        token = self.settings.webhook_verifier_token.get_secret_value()  # type: ignore[attr-defined]
        if not hmac.compare_digest(given, quickbooks_signature(body, token)):
            raise WebhookRejected("intuit-signature does not match", status=401)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        try:
            notifications = json.loads(body)["eventNotifications"]
            events = []
            for note in notifications:
                for entity in note["dataChangeEvent"]["entities"]:
                    events.append(
                        Event(
                            connector=self.name,
                            type=f"{entity['name'].lower()}.{entity['operation'].lower()}",
                            id=f"{note['realmId']}:{entity['name']}:{entity['id']}:{entity['lastUpdated']}",
                            entity=entity["name"],
                            record_id=entity["id"],
                            occurred_at=parse_timestamp(entity["lastUpdated"]),
                            correlation={f"{entity['name'].lower()}_id": entity["id"]},
                        )
                    )
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected(f"not a QuickBooks notification: {exc}", status=400) from None
        return events


class ATSettings(ConnectorSettings):
    webhook_secret: SecretStr


class FakeAutotask(Connector):
    name = "autotask"
    has_webhooks = True
    settings_model = ATSettings
    stream_classes = [Tickets]
    registered: list[str] = []

    def check(self) -> CheckResult:
        return CheckResult(True)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        given = headers.get("x-hook-signature", "")
        secret = self.settings.webhook_secret.get_secret_value()  # type: ignore[attr-defined]
        if not given.startswith("sha1=") or not hmac.compare_digest(given, autotask_signature(body, secret)):
            raise WebhookRejected("X-Hook-Signature missing or wrong", status=401)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        try:
            p = json.loads(body)
            if p.get("Deactivated"):
                return [
                    Event(
                        self.name,
                        "webhook.deactivated",
                        f"deactivated:{p['Guid']}",
                        p["EntityType"],
                        p["Guid"],
                    )
                ]
            return [
                Event(
                    connector=self.name,
                    type=f"{p['EntityType'].lower()}.{p['Action'].lower()}",
                    id=f"{p['Guid']}:{p['SequenceNumber']}",
                    entity=p["EntityType"],
                    record_id=str(p["Id"]),
                    occurred_at=parse_timestamp(p["EventTime"]),
                    data=p.get("Fields") or {},
                    correlation={"ticket_id": str(p["Id"])} if p["EntityType"] == "Ticket" else {},
                )
            ]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise WebhookRejected(f"not an Autotask webhook: {exc}", status=400) from None

    def register_webhooks(self, url: str) -> list[str]:
        FakeAutotask.registered.append(url)
        return [f"Ticket webhook 7 -> {url} (active)"]


class NoHooks(Connector):
    name = "itglue"

    def check(self) -> CheckResult:
        return CheckResult(True)


class FakeNcentral(NoHooks):
    name = "ncentral"


@dataclass
class FakeJob:
    """A job with no steps: running it reads and writes nothing."""

    name: str
    sources: list[tuple[str, str]]
    steps: list[Any] = field(default_factory=list)

    @property
    def connectors(self) -> list[str]:
        return sorted({connector for connector, _ in self.sources})

    def bind(self, roles: Any) -> FakeJob:
        """It names connectors, not roles."""
        return self


class FakePlugin:
    @hookimpl
    def hub_register_connectors(self, registry: Any) -> None:
        registry.add(FakeQuickBooks)
        registry.add(FakeAutotask)
        registry.add(NoHooks)
        registry.add(FakeNcentral)

    @hookimpl
    def hub_register_sync_jobs(self, registry: Any) -> None:
        registry.add(
            FakeJob("accounting-recipients", [("quickbooks", "customers"), ("autotask", "contacts")])
        )
        registry.add(FakeJob("rmm-alerts", [("ncentral", "alerts"), ("autotask", "tickets")]))
        registry.add(FakeJob("psa-to-docs", [("autotask", "companies"), ("autotask", "contacts")]))


@dataclass
class FakeWorkflow:
    """Runs wait on a correlation value (e.g. ``{"ticket_id": "12345"}``); matching events resume them."""

    waits: dict[str, dict[str, str]] = field(default_factory=dict)
    seen: list[Event] = field(default_factory=list)
    fail_times: int = 0
    ticks: list[datetime] = field(default_factory=list)
    polls: int = 0
    resumed: list[str] = field(default_factory=list)
    advanced: list[str] = field(default_factory=list)

    def handle_event(self, event: Event) -> list[str]:
        self.seen.append(event)
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("workflow store unavailable")
        runs = [run for run, want in self.waits.items() if want.items() <= event.correlation.items()]
        for run in runs:
            del self.waits[run]
        return runs

    def tick(self, now: datetime) -> None:
        self.ticks.append(now)

    def poll(self) -> int:
        self.polls += 1
        return 0

    def resume(self, run_id: str) -> object:
        self.resumed.append(run_id)
        return run_id

    def advance(self, run_id: str) -> object:
        self.advanced.append(run_id)
        return "waiting"


@dataclass
class FakeSync:
    """``run_job`` stand-in: records calls; ``fail`` raises, ``locked`` raises JobLocked, per job."""

    calls: list[tuple[str, bool]] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)
    locked: dict[str, int] = field(default_factory=dict)
    #: the part of each call (``#I/N``; "" for a whole run)
    parts: list[str] = field(default_factory=list)

    def __call__(
        self, hub: Any, name: str, *, dry_run: bool = False, full_refresh: bool = False, part: Any = None
    ) -> dict[str, Any]:
        self.calls.append((name, full_refresh))
        self.parts.append(part.suffix if part is not None else "")
        if self.locked.get(name):
            self.locked[name] -= 1
            raise JobLocked(f"{name} is already running")
        if self.fail.get(name):
            self.fail[name] -= 1
            raise RuntimeError(f"{name}: autotask answered 503")
        return {"job": name, "status": "ok", "dry_run": dry_run, "read": 1}

    def jobs(self) -> list[str]:
        return [name for name, _ in self.calls]
