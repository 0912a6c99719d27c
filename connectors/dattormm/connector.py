"""The Datto RMM connector: sites, devices and open alerts; resolving an alert.

Read-only towards Datto RMM for the sync jobs (``writable`` is empty): the hub turns its
alerts into PSA tickets and its devices into PSA configuration items. The one write is
the workflow action ``resolve_alert`` (``POST /v2/alert/{alertUid}/resolve``, the only
alert write the API offers besides muting).

Limits (Datto RMM help, "Datto RMM API"): "Requests to the API are limited to 600
requests within the past 60 seconds. When 90% of the request quota is exceeded, a
one-second delay is introduced in the request response." The count is per account,
shared by every API user and integration of the MSP. Writes have a separate budget
(``accountWriteRateLimit`` of ``GET /v2/system/request_rate``, 100 a minute in the API
v2 documentation) with per-operation limits inside it. Going over answers 429. So reads
and writes get separate budgets, each at 90 % of the published figure (540 and 90 a
minute: under the point where the platform starts slowing every answer), and ``hub
check`` shows the account's live counts. The platform counts "within the past 60
seconds", a sliding window (its example: 100 requests at second 0 and 500 at second 59
count together), so each budget also has a per-second share that keeps a burst after a
quiet minute from filling one window twice: 8 reads a second (at most 488 in any 60 s)
and 3 writes every 2 s (at most 93). A 429 is retried with backoff by the HTTP layer.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from hub.sdk import (
    ActionContext,
    CheckResult,
    ConfigError,
    ConflictError,
    Connector,
    ConnectorContext,
    ErrorPolicy,
    HttpClient,
    NotFoundError,
    RateLimit,
    Sandbox,
    Stream,
    action,
)

from .auth import AUTH_HINT, DattormmAuth
from .paging import API_PREFIX
from .problems import with_instance
from .settings import DattormmSettings
from .streams import DevicesStream, OpenAlertsStream, SitesStream

__all__ = ["READ_LIMITS", "WRITE_LIMITS", "DattormmConnector", "ResolveAlertParams"]

#: 90 % of the published 600 reads per rolling 60 seconds (per account), and its per-second share
READ_LIMITS = [RateLimit(requests=540, per_seconds=60), RateLimit(requests=8, per_seconds=1)]
#: 90 % of the published 100 writes per rolling 60 seconds (per account), and its per-second share
WRITE_LIMITS = [RateLimit(requests=90, per_seconds=60), RateLimit(requests=3, per_seconds=2)]

#: entity -> path of its single-record endpoint
_SINGLE = {
    "site": "/v2/site/{uid}",
    "device": "/v2/device/{uid}",
    "alert": "/v2/alert/{uid}",
}
#: device class -> (audit endpoint, where its serial number is) per the spec's audit schemas
_AUDITS = {
    "device": ("/v2/audit/device/{uid}", ("bios", "serialNumber")),
    "esxihost": ("/v2/audit/esxihost/{uid}", ("systemInfo", "serviceTag")),
    "printer": ("/v2/audit/printer/{uid}", ("snmpInfo", "snmpSerial")),
}
#: what BIOSes report when the maker left the serial number blank; matching configuration
#: items by such a value would tie unrelated devices to one item, so it counts as none
PLACEHOLDER_SERIALS = frozenset(
    {
        "", "0", "none", "null", "n/a", "na", "unknown", "default string", "to be filled by o.e.m.",
        "to be filled by oem", "system serial number", "chassis serial number", "base board serial number",
        "123456789", "0123456789", "not specified", "not applicable", "invalid",
    }
)  # fmt: skip


class ResolveAlertParams(BaseModel):
    """The Datto RMM alert to resolve."""

    alert_uid: str = Field(min_length=1, pattern=r"^[A-Za-z0-9-]+$", description="the alert's alertUid")


def _serial(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    return None if text.casefold() in PLACEHOLDER_SERIALS else text


class DattormmConnector(Connector):
    """Datto RMM's REST API v2, authenticated with an API user's key and secret."""

    name = "dattormm"
    version = "1.0.0"
    title = "Datto RMM"
    #: an RMM: sites as its customers, devices, open alerts
    roles = {"rmm": {}}
    settings_model = DattormmSettings
    stream_classes: ClassVar[list[type[Stream]]] = [SitesStream, DevicesStream, OpenAlertsStream]
    writable: ClassVar[dict[str, str]] = {}
    #: the read budget; writes go through :meth:`write_client` on their own (``WRITE_LIMITS``)
    rate_limits: ClassVar[list[RateLimit]] = READ_LIMITS
    has_webhooks = False
    auth_settings = ("api_key", "api_secret")

    settings: DattormmSettings

    def __init__(self, settings: DattormmSettings, context: ConnectorContext | None = None) -> None:
        super().__init__(settings, context)
        self._auth: DattormmAuth | None = None
        self._read: HttpClient | None = None
        self._write: HttpClient | None = None

    # -- HTTP -------------------------------------------------------------------------

    @property
    def auth(self) -> DattormmAuth:
        """The token grant, shared by the read and the write client (one token for both)."""
        if self._auth is None:
            s = self.settings
            self._auth = DattormmAuth(self.name, s.api_url, s.api_key, s.api_secret, self.context.clock)
        return self._auth

    def _client(self, budget: str, limits: list[RateLimit]) -> HttpClient:
        return self.make_client(
            self.settings.api_url + API_PREFIX,
            budget_key=f"{self.name}:{self.settings.api_url}:{budget}",
            limits=limits,
            auth=self.auth,
            headers={"Accept": "application/json"},
            # resolving an alert is a POST that applies by value (a resolved alert stays
            # resolved): safe to send again after a lost answer
            policy=ErrorPolicy(auth_hint=AUTH_HINT, replayable_posts=(r"/v2/alert/[^/]+/resolve$",)),
        )

    def client(self) -> HttpClient:
        """Reads (``GET``), on the account's read budget."""
        if self._read is None:
            self._read = self._client("read", READ_LIMITS)
        return self._read

    def write_client(self) -> HttpClient:
        """Writes (``POST``, ``PUT``, ``DELETE``), on the account's separate write budget."""
        if self._write is None:
            self._write = self._client("write", WRITE_LIMITS)
        return self._write

    # -- reads ------------------------------------------------------------------------

    def get(self, entity: str, id: str) -> dict[str, Any]:
        """One site, device (with its audit, if ``device_audits``) or alert."""
        if entity not in _SINGLE:
            raise ConfigError(f"dattormm cannot read single {entity} records; entities: {', '.join(_SINGLE)}")
        uid = str(id).strip()
        if not uid or "/" in uid:
            raise ConfigError(f"dattormm {entity} ids are uids, got {id!r}")
        record = self.client().get(_SINGLE[entity].format(uid=uid)).json()
        if entity == "device" and self.settings.device_audits:
            return self.with_audit(record)
        if entity == "alert":
            return with_instance(record)
        return dict(record)

    def with_audit(self, device: dict[str, Any]) -> dict[str, Any]:
        """The device with its audit's identity under ``audit``: ``serialNumber``,
        ``manufacturer`` and ``model``.

        The device list has no serial number; each device class has its own audit
        endpoint and its own serial field (``bios.serialNumber`` of a generic device,
        ``systemInfo.serviceTag`` of an ESXi host, ``snmpInfo.snmpSerial`` of a printer).
        Network devices and unknown classes have no audit: ``audit: {}``, as has a device
        deleted while the hub read (404). Placeholder serials count as none.

        An audit changes only when the agent audits again, which moves the device's
        ``lastAuditDate``; ``lastSeen`` (the cursor) moves with every check-in. So the
        identity read from an audit is kept in the connector's state under the device's
        uid with that date, and read again only when the date moved: a run after the
        first audits the devices audited since, not every device that checked in (at the
        platform's 600 reads a minute, 5,000 audits take ten minutes of the MSP's budget).
        """
        known = _AUDITS.get(str(device.get("deviceClass")))
        if known is None:
            return {**device, "audit": {}}
        stamp = device.get("lastAuditDate")
        memo_key = f"audit:{device['uid']}"
        if stamp:
            kept = self.context.state.get(memo_key)
            if isinstance(kept, dict) and kept.get("lastAuditDate") == stamp:
                return {**device, "audit": dict(kept["audit"])}
        path, (section, field) = known
        try:
            body = self.client().get(path.format(uid=device["uid"])).json()
        except NotFoundError:
            return {**device, "audit": {}}
        serial = (body.get(section) or {}).get(field) if isinstance(body, dict) else None
        system = (body.get("systemInfo") or {}) if isinstance(body, dict) else {}
        audit = {
            "serialNumber": _serial(serial),
            "manufacturer": system.get("manufacturer") or None,
            "model": system.get("model") or None,
        }
        if stamp:
            self.context.state.set(memo_key, {"lastAuditDate": stamp, "audit": audit})
        return {**device, "audit": audit}

    def check(self) -> CheckResult:
        """Request a token, then read the account and its live request counts."""
        client = self.client()
        account = client.get("/v2/account").json()
        rate = client.get("/v2/system/request_rate").json()
        details = {
            "platform": self.settings.api_url,
            "token grant": "ok",
            "account": str(account.get("name") or account.get("uid") or "?"),
            "devices": str((account.get("devicesStatus") or {}).get("numberOfDevices", "?")),
            "reads in the last minute": f"{rate.get('accountCount', '?')} of {rate.get('accountRateLimit', '?')}",
            "writes in the last minute": (
                f"{rate.get('accountWriteCount', '?')} of {rate.get('accountWriteRateLimit', '?')}"
            ),
        }
        token = self.auth.token
        if token is not None:
            hours = (token.ends - self.context.clock.monotonic()) / 3600
            details["access token lifetime"] = f"{hours:.0f} h"
        return CheckResult(ok=True, details=details)

    # -- actions ----------------------------------------------------------------------

    @action("resolve_alert", params=ResolveAlertParams)
    def resolve_alert(self, params: ResolveAlertParams, ctx: ActionContext) -> dict[str, Any]:
        """Resolve a Datto RMM alert (``POST /v2/alert/{alertUid}/resolve``).

        Idempotent: the alert is read first, and one already resolved (by a person, by
        auto-resolve, or by an earlier attempt of this step) is left alone. A 409 from the
        resolve is read again: it counts as done if the alert is resolved by then.
        """
        alert = self.get("alert", params.alert_uid)
        if alert.get("resolved"):
            return {"alert_uid": params.alert_uid, "resolved": True, "changed": False}
        try:
            self.write_client().post(f"/v2/alert/{params.alert_uid}/resolve")
        except ConflictError:
            if not self.get("alert", params.alert_uid).get("resolved"):
                raise
            return {"alert_uid": params.alert_uid, "resolved": True, "changed": False}
        return {"alert_uid": params.alert_uid, "resolved": True, "changed": True}

    # -- sandbox ----------------------------------------------------------------------

    @classmethod
    def sandbox(cls, **options: Any) -> Sandbox:
        """The Datto RMM simulator; options: ``size``, ``seed``, ``alerts``, ``clock`` ..."""
        from .simulator import build_sandbox

        return build_sandbox(**options)
