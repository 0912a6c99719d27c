"""Entry point ``quickbooks`` of the ``msp_hub`` group: registers the connector."""

from __future__ import annotations

from pathlib import Path

from hub.sdk import ConnectorRegistry, hookimpl

from .connector import QuickBooksConnector

#: the folder of the mapping file this connector ships (``quickbooks.yaml``); a file of that name
#: in ``HUB_MAPPINGS_DIR`` replaces it
MAPPINGS = Path(__file__).parent / "mappings"


@hookimpl
def hub_register_connectors(registry: ConnectorRegistry) -> None:
    registry.add(QuickBooksConnector)


@hookimpl
def hub_mapping_dirs() -> list[Path]:
    return [MAPPINGS]
