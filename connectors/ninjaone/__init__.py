"""The NinjaOne connector (organizations, devices, active alerts as alerts; resetting an alert)."""

from .connector import NinjaoneConnector

__all__ = ["NinjaoneConnector"]
