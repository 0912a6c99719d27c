"""The NinjaOne connector: organizations, devices and active alerts; resetting an alert.

Read-only towards NinjaOne for the sync jobs (``writable`` is empty): the hub turns its
alerts into PSA tickets and its devices into PSA configuration items. The one write is
the workflow action ``reset_alert`` (``DELETE /v2/alert/{uid}``, "Reset alert/condition":
the spec's only alert write besides the same reset with activity data).

Limits: NinjaOne publishes no request rate for its public API (neither the spec nor the
API documentation names a number; going over is answered 429, which the HTTP layer waits
out, honouring ``Retry-After``). The connector holds itself to a budget chosen here, per
instance and client app: 300 requests per rolling minute and 5 a second. At 1,000 records
a page that reads 300,000 devices a minute, and the first poll of a few hundred alerts
(one severity look-up each, see :mod:`.problems`) within a minute; the per-second share
keeps a burst after a quiet minute gentle on an API whose limit nobody stated.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from hub.sdk import (
    ActionContext,
    CheckResult,
    ConfigError,
    Connector,
    ConnectorContext,
    ErrorPolicy,
    HttpClient,
    NotFoundError,
    PermissionDeniedError,
    RateLimit,
    Sandbox,
    Stream,
    VendorError,
    action,
    message_from,
)

from .auth import AUTH_HINT, NinjaoneAuth
from .problems import ORGANIZATION_FIELD, SEVERITY_FIELD, severity_of
from .settings import NinjaoneSettings
from .streams import AlertsStream, DevicesStream, OrganizationsStream, device_identity, list_body

__all__ = ["LIMITS", "NinjaoneConnector", "ResetAlertParams"]

#: the budget chosen where NinjaOne publishes none (see the module doc)
LIMITS = [RateLimit(requests=300, per_seconds=60), RateLimit(requests=5, per_seconds=1)]
#: entity -> path of its single-record endpoint (the spec has none for an alert)
_SINGLE = {"organization": "/v2/organization/{id}", "device": "/v2/device/{id}"}
#: the connector state key of the severities of the alerts active at the last read
SEVERITY_MEMO = "alert_severity"
#: NinjaOne's error answers: the spec declares none; these are the shapes its API and its
#: OAuth server answer (``errorMessage`` with ``resultCode``; RFC 6749's ``error``)
_vendor_message = message_from("{errorMessage}", "{error_description}", "{message}", "{error}")


class ResetAlertParams(BaseModel):
    """The NinjaOne alert to reset."""

    alert_uid: str = Field(
        min_length=1,
        pattern=r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
        description="the alert's uid (a UUID, the spec's Alert.uid)",
    )


class NinjaoneConnector(Connector):
    """NinjaOne's public API 2.0, authenticated with a client app's credentials."""

    name = "ninjaone"
    version = "1.0.0"
    title = "NinjaOne"
    #: an RMM: organizations as its customers, devices, active alerts
    roles = {"rmm": {}}
    settings_model = NinjaoneSettings
    stream_classes: ClassVar[list[type[Stream]]] = [OrganizationsStream, DevicesStream, AlertsStream]
    writable: ClassVar[dict[str, str]] = {}
    rate_limits: ClassVar[list[RateLimit]] = LIMITS
    has_webhooks = False
    auth_settings = ("client_id", "client_secret")

    settings: NinjaoneSettings

    def __init__(self, settings: NinjaoneSettings, context: ConnectorContext | None = None) -> None:
        super().__init__(settings, context)
        self._auth: NinjaoneAuth | None = None
        self._client: HttpClient | None = None

    # -- HTTP -------------------------------------------------------------------------

    @property
    def auth(self) -> NinjaoneAuth:
        if self._auth is None:
            s = self.settings
            self._auth = NinjaoneAuth(self.name, s.api_url, s.client_id, s.client_secret, s.scopes,
                                      self.context.clock)  # fmt: skip
        return self._auth

    def client(self) -> HttpClient:
        """Every call, on the one budget of the instance and client app."""
        if self._client is None:
            self._client = self.make_client(
                self.settings.api_url,
                budget_key=f"{self.name}:{self.settings.api_url}:{self.settings.client_id}",
                auth=self.auth,
                headers={"Accept": "application/json"},
                # the reset is a DELETE: it applies by value (a reset alert stays reset), so the
                # HTTP layer may send it again after a lost answer
                policy=ErrorPolicy(auth_hint=AUTH_HINT),
                vendor_message=_vendor_message,
            )
        return self._client

    # -- reads ------------------------------------------------------------------------

    def get(self, entity: str, id: str) -> dict[str, Any]:
        """One organization or device."""
        if entity not in _SINGLE:
            raise ConfigError(f"ninjaone cannot read single {entity} records; entities: {', '.join(_SINGLE)}")
        key = str(id).strip()
        if not key.isdigit():
            raise ConfigError(f"ninjaone {entity} ids are numbers, got {id!r}")
        record = dict(self.client().get(_SINGLE[entity].format(id=key)).json())
        return device_identity(record) if entity == "device" else record

    def with_problems(self, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The active alerts, each with its severity and organization (see :mod:`.problems`).

        A severity read from activities is kept in the connector's state under the alert's
        uid (a series' severity does not change), so a poll looks up only the alerts it has
        not seen; the memo holds the alerts of the last read only, so it stays as small as
        the list of what is wrong now.
        """
        kept = self.context.state.get(SEVERITY_MEMO)
        known: dict[str, str] = dict(kept) if isinstance(kept, dict) else {}
        current: dict[str, str] = {}
        organizations: dict[int, Any] = {}
        out = []
        for alert in alerts:
            uid = str(alert["uid"])
            severity = severity_of(alert)
            if severity is None:
                severity = known[uid] if uid in known else self._series_severity(alert)
            current[uid] = severity or ""
            out.append({**alert, SEVERITY_FIELD: severity or None,
                        ORGANIZATION_FIELD: self._organization_of(alert, organizations)})  # fmt: skip
        self.context.state.set(SEVERITY_MEMO, current)
        return out

    def _series_severity(self, alert: dict[str, Any]) -> str | None:
        """The severity of the activity that triggered the alert's series; None when the
        instance keeps no such activity (the hub then treats the alert as a warning)."""
        try:
            response = self.client().get("/v2/activities", params={"seriesUid": str(alert["uid"]), "pageSize": 10})
        except (NotFoundError, PermissionDeniedError):
            return None
        try:
            body = response.json()
        except ValueError:
            raise self.client().error(response, "the activities answer is not JSON", VendorError) from None
        activities = body.get("activities") if isinstance(body, dict) else None
        if not isinstance(activities, list):
            return None
        return severity_of(alert, [a for a in activities if isinstance(a, dict)])

    def _organization_of(self, alert: dict[str, Any], seen: dict[int, Any]) -> Any:
        device = alert.get("device")
        if isinstance(device, dict) and device.get("organizationId") is not None:
            return device["organizationId"]
        device_id = int(alert["deviceId"])
        if device_id not in seen:
            try:
                seen[device_id] = self.get("device", str(device_id)).get("organizationId")
            except NotFoundError:  # deleted while the alert is still listed
                seen[device_id] = None
        return seen[device_id]

    def check(self) -> CheckResult:
        """Ask for a token, then read one organization and the active alerts."""
        client = self.client()
        organizations = list_body(client, client.get("/v2/organizations", params={"pageSize": 1}))
        alerts = list_body(client, client.get("/v2/alerts"))
        details = {
            "instance": self.settings.api_url,
            "token grant": "ok",
            "organizations readable": "yes" if organizations else "none found",
            "active alerts": str(len(alerts)),
        }
        token = self.auth.token
        if token is not None:
            details["scopes granted"] = token.scopes
            minutes = (token.ends - self.context.clock.monotonic()) / 60
            details["access token lifetime"] = f"{minutes:.0f} min"
        return CheckResult(ok=True, details=details)

    # -- actions ----------------------------------------------------------------------

    @action("reset_alert", params=ResetAlertParams)
    def reset_alert(self, params: ResetAlertParams, ctx: ActionContext) -> dict[str, Any]:
        """Reset a NinjaOne alert (``DELETE /v2/alert/{uid}``); safe to repeat.

        The reset applies by value: an alert reset twice stays reset, so the step may run
        again after a crash, and the HTTP layer may send it again after a lost answer. An
        alert no longer active (reset by a person, by its condition, or by an earlier
        attempt) answers 404 and counts as done, unchanged. The spec files the reset under its
        management operations: the client app needs the Management scope.
        """
        try:
            self.client().delete(f"/v2/alert/{params.alert_uid}")
        except NotFoundError:
            return {"alert_uid": params.alert_uid, "reset": True, "changed": False}
        return {"alert_uid": params.alert_uid, "reset": True, "changed": True}

    # -- sandbox ----------------------------------------------------------------------

    @classmethod
    def sandbox(cls, **options: Any) -> Sandbox:
        """The NinjaOne simulator; options: ``size``, ``seed``, ``alerts``, ``clock`` ..."""
        from .simulator import build_sandbox

        return build_sandbox(**options)
