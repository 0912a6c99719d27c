"""Entry point ``itglue = "connectors.itglue.plugin"``: registers the IT Glue connector."""

from __future__ import annotations

from pathlib import Path

from hub.sdk import ConnectorRegistry, hookimpl

from .connector import ITGlueConnector

#: the folder of the mapping file this connector ships (``itglue.yaml``); a file of that name
#: in ``HUB_MAPPINGS_DIR`` replaces it
MAPPINGS = Path(__file__).parent / "mappings"


@hookimpl
def hub_register_connectors(registry: ConnectorRegistry) -> None:
    registry.add(ITGlueConnector)


@hookimpl
def hub_mapping_dirs() -> list[Path]:
    return [MAPPINGS]
