"""Registers the Acronis connector with the hub (entry point ``acronis``)."""

from __future__ import annotations

from pathlib import Path

from hub.sdk import ConnectorRegistry, hookimpl

from .connector import AcronisConnector

#: the folder of the mapping file this connector ships (``acronis.yaml``); a file of that name
#: in ``HUB_MAPPINGS_DIR`` replaces it
MAPPINGS = Path(__file__).parent / "mappings"


@hookimpl
def hub_register_connectors(registry: ConnectorRegistry) -> None:
    registry.add(AcronisConnector)


@hookimpl
def hub_mapping_dirs() -> list[Path]:
    return [MAPPINGS]
