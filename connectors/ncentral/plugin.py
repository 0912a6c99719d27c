"""Registers the N-central connector with the hub (entry point ``ncentral``)."""

from __future__ import annotations

from typing import Any

from hub.sdk import hookimpl

from .connector import NcentralConnector


@hookimpl
def hub_register_connectors(registry: Any) -> None:
    registry.add(NcentralConnector)
