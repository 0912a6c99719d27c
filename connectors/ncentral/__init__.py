"""The N-able N-central RMM connector (devices, org units, active issues as alerts)."""

from .connector import NcentralConnector

__all__ = ["NcentralConnector"]
