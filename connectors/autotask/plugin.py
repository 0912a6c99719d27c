"""Registers the Autotask connector through the ``msp_hub`` entry-point group."""

from __future__ import annotations

from typing import Any

from hub.sdk import hookimpl

from .connector import AutotaskConnector


@hookimpl
def hub_register_connectors(registry: Any) -> None:
    registry.add(AutotaskConnector)
