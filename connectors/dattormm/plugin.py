"""Registers the Datto RMM connector with the hub (entry point ``dattormm``)."""

from __future__ import annotations

from typing import Any

from hub.sdk import hookimpl

from .connector import DattormmConnector


@hookimpl
def hub_register_connectors(registry: Any) -> None:
    registry.add(DattormmConnector)
