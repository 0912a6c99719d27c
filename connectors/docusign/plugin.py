"""Entry point ``docusign = "connectors.docusign.plugin"`` of the ``msp_hub`` group."""

from __future__ import annotations

from typing import Any

from hub.sdk import hookimpl

from .connector import DocuSignConnector


@hookimpl
def hub_register_connectors(registry: Any) -> None:
    registry.add(DocuSignConnector)
