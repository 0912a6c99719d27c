"""Autotask PSA connector (REST API v1.0) and its simulator."""

from .connector import AutotaskConnector, AutotaskSettings

__all__ = ["AutotaskConnector", "AutotaskSettings"]
