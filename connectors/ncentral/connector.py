"""The N-able N-central RMM connector: org units, customers, devices and active issues.

Read-only towards N-central (``writable`` is empty): the hub turns N-central's alerts
into PSA tickets and its devices into PSA configuration items, it does not change
N-central. ``get`` reads single devices, org units and customers for the alert job.

Limits (N-central "Rate Limiting" and the API-Service description): each endpoint has
its own cap on *concurrent* in-flight calls, between 3 and 50; beyond it N-central
answers 429 and accepts calls again once in-flight calls finish. No requests-per-time
figure is published. The hub therefore caps this credential at 3 calls in flight (the
lowest per-endpoint cap; ``active-issues`` is documented at 3) and keeps a generous
20-calls-a-second bucket only as a guard against tight loops (our choice, not a vendor
figure). 429 answers are retried with exponential backoff by the HTTP layer, as
N-central recommends ("back off exponentially").
"""

from __future__ import annotations

from typing import Any, ClassVar

from hub.sdk import (
    CheckResult,
    ConfigError,
    Connector,
    ConnectorContext,
    ErrorPolicy,
    HttpClient,
    NotFoundError,
    RateLimit,
    Sandbox,
    Stream,
)

from .answers import Inspector, single_record, vendor_message
from .auth import NcentralAuth
from .settings import NcentralSettings
from .streams import ActiveIssuesStream, CustomersStream, DevicesStream, OrgUnitsStream

__all__ = ["NcentralConnector"]

#: entity -> path of its single-record endpoint
_SINGLE = {
    "device": "/api/devices/{id}",
    "org_unit": "/api/org-units/{id}",
    "customer": "/api/customers/{id}",
}


class NcentralConnector(Connector):
    """N-able N-central's API-Service (REST), authenticated with an API user's JWT."""

    name = "ncentral"
    version = "1.0.0"
    title = "N-able N-central"
    #: an RMM; its customers are the customer org units (not every org unit: sites and service
    #: organizations are org units too)
    roles = {"rmm": {"customers": "customer"}}
    settings_model = NcentralSettings
    stream_classes: ClassVar[list[type[Stream]]] = [
        OrgUnitsStream,
        CustomersStream,
        DevicesStream,
        ActiveIssuesStream,
    ]
    writable: ClassVar[dict[str, str]] = {}
    rate_limits: ClassVar[list[RateLimit]] = [RateLimit(requests=20, per_seconds=1, concurrent=3)]
    has_webhooks = False
    auth_settings = ("jwt",)

    settings: NcentralSettings

    def __init__(self, settings: NcentralSettings, context: ConnectorContext | None = None) -> None:
        super().__init__(settings, context)
        self._client: HttpClient | None = None
        self._auth: NcentralAuth | None = None

    # -- HTTP -------------------------------------------------------------------------

    def client(self) -> HttpClient:
        if self._client is None:
            self._auth = NcentralAuth(
                self.name, self.settings.base_url, self.settings.jwt, self.context.clock
            )
            inspector = Inspector()
            self._client = self.make_client(
                self.settings.base_url,
                budget_key=f"{self.name}:{self.settings.base_url}",
                auth=self._auth,
                headers={"Accept": "application/json"},
                policy=ErrorPolicy(auth_hint="HUB_NCENTRAL__JWT"),
                vendor_message=vendor_message,
                inspect=inspector,
            )
            inspector.client = self._client
        return self._client

    @property
    def auth(self) -> NcentralAuth:
        """The token flow (how many exchanges and refreshes it made, for ``check`` and tests)."""
        self.client()
        assert self._auth is not None
        return self._auth

    # -- reads ------------------------------------------------------------------------

    def get(self, entity: str, id: str) -> dict[str, Any]:
        """One device, org unit or customer; a device comes with its asset record."""
        if entity not in _SINGLE:
            raise ConfigError(f"ncentral cannot read single {entity} records; entities: {', '.join(_SINGLE)}")
        if not str(id).isdigit():
            raise ConfigError(f"ncentral {entity} ids are numbers, got {id!r}")
        client = self.client()
        record = single_record(client, client.get(_SINGLE[entity].format(id=id)))
        if entity == "device" and self.settings.device_assets:
            record = self.with_assets(record)
        return record

    def with_assets(self, device: dict[str, Any]) -> dict[str, Any]:
        """The device with its asset record under ``assets`` (serial number, OS version).

        ``GET /api/devices/{id}/assets`` is the only place N-central gives a serial number
        (``computersystem.serialnumber``). A device without an asset record (never
        scanned) gets ``assets: {}``.
        """
        client = self.client()
        try:
            response = client.get(f"/api/devices/{device['deviceId']}/assets")
        except NotFoundError:
            return {**device, "assets": {}}
        return {**device, "assets": single_record(client, response)}

    def check(self) -> CheckResult:
        """Exchange the JWT, then count customers and devices (one small page each)."""
        client = self.client()
        customers = client.get("/api/customers", params={"pageNumber": 1, "pageSize": 1}).json()
        devices = client.get("/api/devices", params={"pageNumber": 1, "pageSize": 1}).json()
        tokens = self.auth.tokens
        details = {
            "server": self.settings.base_url,
            "token exchange": "ok",
            "customers": str(customers.get("totalItems", "?")),
            "devices": str(devices.get("totalItems", "?")),
        }
        if tokens is not None:
            details["access token lifetime"] = (
                f"{round(tokens.access_ends - self.context.clock.monotonic())} s"
            )
        return CheckResult(ok=True, details=details)

    # -- sandbox ----------------------------------------------------------------------

    @classmethod
    def sandbox(cls, **options: Any) -> Sandbox:
        """The N-central simulator; options: ``size``, ``seed``, ``budget``, ``clock`` ..."""
        from .simulator import build_sandbox

        return build_sandbox(**options)
