"""Noise rules for RMM alerts: which alerts open (or reopen) no ticket, and why.

From ``HubSettings.rmm_alerts``: a minimum severity, devices and customers excluded
(by name or RMM id, case-insensitive), and maintenance windows, one-off or recurring
(a UTC cron expression for when the window opens and how many minutes it lasts),
for everything or only for listed devices or customers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from croniter import croniter

from hub.models import Alert, AlertSeverity
from hub.settings import MaintenanceWindow, RmmAlertSettings

__all__ = ["NoiseRules", "window_open"]


def _norm(values: list[str]) -> set[str]:
    return {v.strip().casefold() for v in values if v.strip()}


def window_open(window: MaintenanceWindow, now: datetime) -> bool:
    """Whether ``now`` lies in the window (a recurring one: its latest opening + minutes)."""
    if window.start is not None and window.end is not None:
        return window.start <= now <= window.end
    assert window.cron is not None and window.minutes is not None
    moment = now.astimezone(UTC)
    opened: datetime = croniter(window.cron, moment + timedelta(microseconds=1)).get_prev(datetime)
    return opened <= moment < opened + timedelta(minutes=window.minutes)


class NoiseRules:
    """``suppressed(alert, now)`` is None for an alert that may open a ticket, else the reason.

    ``customer_name(id)`` resolves a customer id to its name, asked only when a rule
    names a customer by name (so polling costs no extra call otherwise).
    """

    def __init__(self, settings: RmmAlertSettings, customer_name: Callable[[str], str | None]) -> None:
        self.minimum = AlertSeverity(settings.minimum_severity)
        self.devices = _norm(settings.exclude_devices)
        self.customers = _norm(settings.exclude_customers)
        self.windows = settings.maintenance_windows
        self._customer_name = customer_name

    def _device_keys(self, alert: Alert) -> set[str]:
        return {v.casefold() for v in (alert.device.id if alert.device else None, alert.device_name) if v}

    def _customer_keys(self, alert: Alert, names: set[str]) -> set[str]:
        if alert.organization is None:
            return set()
        keys = {alert.organization.id.casefold()}
        if any(not n.isdigit() for n in names):
            name = self._customer_name(alert.organization.id)
            if name:
                keys.add(name.strip().casefold())
        return keys

    def suppressed(self, alert: Alert, now: datetime) -> str | None:
        if alert.severity.rank < self.minimum.rank:
            return f"severity {alert.severity.value} is below the minimum {self.minimum.value}"
        if self._device_keys(alert) & self.devices:
            return "the device is excluded"
        if self.customers and self._customer_keys(alert, self.customers) & self.customers:
            return "the customer is excluded"
        for window in self.windows:
            if not window_open(window, now):
                continue
            devices, customers = _norm(window.devices), _norm(window.customers)
            everything = not devices and not customers
            if (
                everything
                or self._device_keys(alert) & devices
                or (customers and self._customer_keys(alert, customers) & customers)
            ):
                return f"maintenance window {window.name!r}"
        return None
