"""(Re)registering the hub's webhooks with a vendor: a connector capability.

A connector that can create its webhooks through the vendor's API implements
``register_webhooks(url) -> list[str]``: create, update or re-activate the vendor's
webhook subscriptions so that they deliver to ``url`` (the receiver's
``/webhooks/<connector>`` route), idempotently (an existing subscription for ``url``
is reused and re-activated, never duplicated), and return one line per subscription
for the user. Autotask deactivates a webhook after repeated failed deliveries; this is
how it is brought back. Vendors that only allow it in their console (QuickBooks,
DocuSign Connect at account level) do not implement it, and ``hub webhooks register``
says so with the URL to paste there.
"""

from __future__ import annotations

from collections.abc import Callable

from hub.connector import Connector
from hub.errors import ConfigError

__all__ = ["can_register", "registrar", "webhook_url"]


def webhook_url(public_url: str | None, connector: str) -> str:
    """The receiver URL a vendor must call for ``connector``."""
    if not public_url:
        raise ConfigError("HUB_PUBLIC_URL: required (the URL at which vendors reach `hub serve`)")
    if not public_url.startswith(("https://", "http://")):
        raise ConfigError(f"HUB_PUBLIC_URL: must be an http(s) URL, got {public_url!r}")
    return f"{public_url.rstrip('/')}/webhooks/{connector}"


def can_register(cls: type[Connector]) -> bool:
    """Whether the connector class overrides ``register_webhooks`` (known without settings)."""
    method = getattr(cls, "register_webhooks", None)
    return method is not None and method is not getattr(Connector, "register_webhooks", None)


def registrar(connector: Connector) -> Callable[[str], list[str]] | None:
    """The connector's ``register_webhooks`` if it implements one, else None."""
    if not can_register(type(connector)):
        return None
    return connector.register_webhooks
