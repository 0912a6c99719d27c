"""Entry point ``itglue = "connectors.itglue.plugin"``: registers the IT Glue connector."""

from typing import Any

from connectors.itglue.connector import ITGlueConnector
from hub.sdk import hookimpl


@hookimpl
def hub_register_connectors(registry: Any) -> None:
    registry.add(ITGlueConnector)
