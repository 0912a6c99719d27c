"""Connector health: the last ``hub check`` of each connector, credential expiry, rate budget use.

``check_connector`` is what ``hub check`` and the console's "Check now" both run: the
connector's own check, whose outcome (ok or the one-line error, the labelled details,
when and by whom) is kept in the state store, so the console shows the last check
whichever process made it. Details whose label speaks of expiry (a QuickBooks refresh
token's end, say) are the credential expiry the console lists.

Rate budget use is read from this process's limiters: what the connectors used here
in each of their vendor's published windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.connector import CheckResult, Connector
from hub.errors import ConfigError, HubError
from hub.http import secret_values
from hub.logging import Redactor

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["ConnectorHealth", "check_connector", "connector_health", "last_check"]

NAMESPACE = "connector-health"


@dataclass
class ConnectorHealth:
    name: str
    title: str
    #: the missing or invalid setting, when the connector cannot even be built
    config_error: str | None
    last_check: dict[str, Any] | None
    #: (label, value) details of the last check that say when a credential expires
    expiry: list[tuple[str, str]] = field(default_factory=list)
    #: one entry per published window: requests used, limit, window seconds
    budgets: list[dict[str, Any]] = field(default_factory=list)


def _scrub(connector: Connector, text: str) -> str:
    """One line with the connector's secret values masked (a vendor may echo one back)."""
    redactor = Redactor()
    for secret in secret_values(connector.settings):
        redactor.add(secret)
    return redactor.text(text.splitlines()[0] if text else text)


def check_connector(hub: Hub, name: str, *, actor: str) -> CheckResult:
    """Run connector ``name``'s check and keep its outcome; its errors are raised after being kept."""
    connector = hub.connector(name)  # a configuration error is not a check result: raised as is
    now = hub.clock.now()
    try:
        result = connector.check()
    except HubError as exc:
        record = {"ok": False, "error": _scrub(connector, str(exc) or type(exc).__name__), "details": {}}
        hub.store.kv(NAMESPACE).set(name, {**record, "at": now.isoformat(), "by": actor})
        raise
    details = {str(k): _scrub(connector, str(v)) for k, v in result.details.items()}
    hub.store.kv(NAMESPACE).set(
        name, {"ok": result.ok, "error": None, "details": details, "at": now.isoformat(), "by": actor}
    )
    return result


def last_check(hub: Hub, name: str) -> dict[str, Any] | None:
    value = hub.store.kv(NAMESPACE).get(name)
    return value if isinstance(value, dict) else None


def connector_health(hub: Hub) -> list[ConnectorHealth]:
    """Every installed connector: configured or not, last check, expiry, budget use here."""
    rows: list[ConnectorHealth] = []
    for name, cls in sorted(hub.plugins.connector_classes().items()):
        config_error = None
        budgets: list[dict[str, Any]] = []
        try:
            connector = hub.connector(name)
        except ConfigError as exc:
            config_error = str(exc)
        else:
            for limiter in connector.rate_limiters():
                for limit, used in limiter.usage():
                    budgets.append({"used": used, "limit": limit.requests, "per_seconds": limit.per_seconds})
        check = last_check(hub, name)
        details = (check or {}).get("details") or {}
        expiry = [(k, str(v)) for k, v in details.items() if "expir" in k.lower()]
        rows.append(ConnectorHealth(name, cls.title or name, config_error, check, expiry, budgets))
    return rows
