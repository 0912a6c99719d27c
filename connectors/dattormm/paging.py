"""Datto RMM's pages: ``pageDetails.nextPageUrl``, followed on the configured platform only.

Every list answers ``{"pageDetails": {"count", "totalCount", "prevPageUrl",
"nextPageUrl"}, "<items>": [...]}`` (the spec's ``PaginationData``). The next page is
the URL in ``nextPageUrl``; on the last page it is null (the spec types it as a string,
public clients loop until it is null) or absent. The URL is absolute, on the platform's
own host. The connector keeps only its path and query (under ``/api``) and sends them to
``HUB_DATTORMM__API_URL``: the bearer token never goes to a host the user did not
configure, and a resume token stays valid if the platform's host name is spelled
differently (a proxy, a port). The resume token is that relative URL, so state stays a
few dozen bytes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from hub.sdk import HttpClient, Paginator, VendorError

__all__ = ["API_PREFIX", "NextPageUrl", "list_records"]

#: where the spec's server puts every path (``https://syrah-api.centrastage.net/api``)
API_PREFIX = "/api"


def _body(client: HttpClient, response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise client.error(response, "the answer is not JSON") from None
    if not isinstance(body, dict):
        raise client.error(response, "the answer is not a JSON object")
    return body


def list_records(client: HttpClient, response: httpx.Response, key: str) -> list[dict[str, Any]]:
    """The records of one page (``sites``, ``devices``, ``alerts``), as Datto sent them."""
    items = _body(client, response).get(key)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise client.error(response, f"the page's {key!r} is not a list of records")
    return items


class NextPageUrl(Paginator):
    """The next page's URL relative to the API root, from ``pageDetails.nextPageUrl``."""

    def __init__(self, client: HttpClient) -> None:
        super().__init__()
        self._client = client

    def next_token(self, response: httpx.Response, records: list[dict[str, Any]], token: Any) -> Any:
        details = _body(self._client, response).get("pageDetails") or {}
        url = details.get("nextPageUrl") if isinstance(details, dict) else None
        if not url:
            return None
        return self.relative(response, str(url))

    def relative(self, response: httpx.Response, url: str) -> str:
        parts = urlsplit(url)
        if not (parts.path == API_PREFIX or parts.path.startswith(API_PREFIX + "/")):
            raise self._client.error(
                response, f"the next page URL {parts.path!r} is not under {API_PREFIX}/; not followed", VendorError
            )
        path = parts.path[len(API_PREFIX) :] or "/"
        return f"{path}?{parts.query}" if parts.query else path
