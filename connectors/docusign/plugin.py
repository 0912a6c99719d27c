"""Entry point ``docusign = "connectors.docusign.plugin"`` of the ``msp_hub`` group."""

from __future__ import annotations

from pathlib import Path

from hub.sdk import ConnectorRegistry, hookimpl

from .connector import DocuSignConnector

#: the folder of the mapping file this connector ships (``docusign.yaml``); a file of that name
#: in ``HUB_MAPPINGS_DIR`` replaces it
MAPPINGS = Path(__file__).parent / "mappings"


@hookimpl
def hub_register_connectors(registry: ConnectorRegistry) -> None:
    registry.add(DocuSignConnector)


@hookimpl
def hub_mapping_dirs() -> list[Path]:
    return [MAPPINGS]
