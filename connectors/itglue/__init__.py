"""IT Glue connector: organizations, contacts and the Site Summary flexible asset."""

from connectors.itglue.connector import ITGlueConnector, ITGlueSettings

__all__ = ["ITGlueConnector", "ITGlueSettings"]
