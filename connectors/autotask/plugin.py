"""Registers the Autotask connector through the ``msp_hub`` entry-point group."""

from __future__ import annotations

from pathlib import Path

from hub.sdk import ConnectorRegistry, hookimpl

from .connector import AutotaskConnector

#: the folder of the mapping file this connector ships (``autotask.yaml``); a file of that name
#: in ``HUB_MAPPINGS_DIR`` replaces it
MAPPINGS = Path(__file__).parent / "mappings"


@hookimpl
def hub_register_connectors(registry: ConnectorRegistry) -> None:
    registry.add(AutotaskConnector)


@hookimpl
def hub_mapping_dirs() -> list[Path]:
    return [MAPPINGS]
