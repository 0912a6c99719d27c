"""Entry point ``quickbooks`` of the ``msp_hub`` group: registers the connector."""

from __future__ import annotations

from typing import Any

from connectors.quickbooks.connector import QuickBooksConnector
from hub.sdk import hookimpl


@hookimpl
def hub_register_connectors(registry: Any) -> None:
    registry.add(QuickBooksConnector)
