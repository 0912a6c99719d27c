"""Entry point ``itglue = "connectors.itglue.plugin"``: registers the IT Glue connector."""

from typing import Any

from hub.sdk import hookimpl

from connectors.itglue.connector import ITGlueConnector


@hookimpl
def hub_register_connectors(registry: Any) -> None:
    registry.add(ITGlueConnector)
