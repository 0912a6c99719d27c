"""JSON:API plumbing for IT Glue: documents in, documents out, errors as one line.

IT Glue follows the JSON:API spec (https://api.itglue.com/developer): every response
is ``{"data": ..., "meta": ..., "links": ...}`` with resources shaped
``{"id", "type", "attributes", "relationships"}``, and every error is
``{"errors": [{"status", "title", "detail", "source": {"pointer"}}]}``. Records
travel through the hub as those resource objects, unchanged, so the mapping names
vendor fields as ``attributes.<dasherized-name>``.
"""

from __future__ import annotations

from typing import Any

import httpx

from hub.sdk import message_from

__all__ = [
    "MEDIA_TYPE",
    "document",
    "error_message",
    "next_page",
    "resource",
    "resources",
]

#: the JSON:API media type IT Glue requires on request bodies (415 otherwise)
MEDIA_TYPE = "application/vnd.api+json"


def document(type_: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """A request body for one resource: ``{"data": {"type", "attributes"}}``."""
    return {"data": {"type": type_, "attributes": attributes}}


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ValueError(f"IT Glue answered {response.status_code} with a body that is not JSON") from None
    if not isinstance(body, dict):
        raise ValueError("IT Glue answered with a JSON document that is not an object")
    return body


def resources(response: httpx.Response) -> list[dict[str, Any]]:
    """The resource objects of a list response; a malformed page raises ``ValueError``."""
    data = _body(response).get("data")
    if data is None:
        return []
    if isinstance(data, dict):  # the docs' own flexible_assets example returns one object
        data = [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) and "id" in r for r in data):
        raise ValueError("IT Glue list response has no list of resources in 'data'")
    return data


def resource(response: httpx.Response) -> dict[str, Any]:
    """The single resource of a show/create/update response."""
    data = _body(response).get("data")
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict) or "id" not in data:
        raise ValueError("IT Glue response has no resource in 'data'")
    return data


def next_page(body: dict[str, Any], page: int) -> int | None:
    """The page after ``page``: ``meta.total-pages`` decides, ``links.next`` if it is absent."""
    meta = body.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    total = meta.get("total-pages")
    if isinstance(total, int):
        return page + 1 if page < total else None
    nxt = meta.get("next-page")
    if isinstance(nxt, int):
        return nxt if nxt > page else None
    links = body.get("links")
    return page + 1 if isinstance(links, dict) and links.get("next") else None


#: the vendor's words from a JSON:API ``errors`` body (``detail`` first, then ``title``), each
#: error prefixed with the attribute its ``source.pointer`` names
error_message = message_from(
    "{source.pointer:last}: {detail|title|code|status}", "{detail|title|code|status}", "{message}", each="errors"
)
