"""The Datto RMM connector (sites, devices, open alerts as alerts; resolving an alert)."""

from .connector import DattormmConnector

__all__ = ["DattormmConnector"]
