"""Registers the Acronis connector with the hub (entry point ``acronis``)."""

from __future__ import annotations

from typing import Any

from hub.sdk import hookimpl

from .connector import AcronisConnector


@hookimpl
def hub_register_connectors(registry: Any) -> None:
    registry.add(AcronisConnector)
