"""Incremental Autotask streams: one query per entity, followed page by page.

Autotask answers a query in pages of at most 500 records ordered by ``id`` ascending,
with ``pageDetails.nextPageUrl`` (a complete ``.../query/next?paging=...`` URL) until it
is null. How the next page is fetched depends on how the query was sent (Autotask
Developer Help, "Advanced query features of the REST API" > Paginating results): after
``POST {Entity}/query`` the next page is a POST of the same query body to
``nextPageUrl``, which carries only the paging token; a GET there answers 405 "The
requested resource does not support http method 'GET'." (reproduced against live
Autotask in WYRE-AI/autotask-mcp pull request 170). After ``GET {Entity}/query?search=``
the URL carries the search too and is fetched with GET. The hub always queries with
POST (a filter never hits the length limit of a URL). The paging token inside that URL
is keyset paging on ``id`` and Autotask keeps only recent pages, so a stored
``nextPageUrl`` is not a safe resume point. The resume token is therefore the last
``id`` of the page: after a crash the read starts a fresh query with the same change
filter plus ``id > last id``, which - because results are ordered by id - continues
exactly after the last page handed out, with no gap and no duplicate.

Pages are ordered by id, not by the change cursor: ``sorted_by_cursor`` is False.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin, urlsplit

import httpx

from hub.sdk import Page, PaginationLoop, Stream, VendorError

from .entities import STREAMED, EntitySpec
from .query import all_of, cond, query_body

if TYPE_CHECKING:
    from .connector import AutotaskConnector

__all__ = ["STREAM_CLASSES", "AutotaskStream"]


class AutotaskStream(Stream):
    """Records of one entity changed at or after ``since``, in id order."""

    spec: ClassVar[EntitySpec]
    connector: AutotaskConnector

    def query_filter(self, since: datetime | None, after_id: int | None) -> dict[str, Any]:
        items = []
        cursor = self.spec.cursor  # None: the entity has no change timestamp and is read in full
        if since is not None and cursor is not None:
            items.append(cond("gte", cursor, since))
        if after_id is not None:
            items.append(cond("gt", "id", after_id))
        if not items:
            # Autotask refuses a query without a filter; this one matches every record
            items.append(cond("gte", "id", 0))
        return items[0] if len(items) == 1 else all_of(*items)

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        after = resume.get("after_id") if resume else None
        body = query_body(self.query_filter(since, int(after) if after is not None else None))
        yield from self.connector.query_pages(self.spec.name, body)


def _stream_class(spec: EntitySpec) -> type[AutotaskStream]:
    return type(
        f"{spec.name}Stream",
        (AutotaskStream,),
        {
            "__doc__": f"Autotask {spec.name}, "
            + (f"incremental on {spec.cursor}." if spec.cursor else "read in full (no change timestamp)."),
            "name": spec.name,
            "entity": spec.name,
            "kind": spec.kind,
            "cursor_field": spec.cursor,
            "sorted_by_cursor": False,
            "spec": spec,
        },
    )


STREAM_CLASSES: list[type[Stream]] = [_stream_class(spec) for spec in STREAMED]


def follow_pages(
    first: httpx.Response,
    fetch_next: Callable[[str], httpx.Response],
    zone: Callable[[], dict[str, Any]],
    entity: str,
) -> Iterator[Page]:
    """Pages from ``first`` on; ``fetch_next(url)`` fetches each ``nextPageUrl`` the way the
    query was sent (see the module doc). The URL must stay on the host of the ``zone()``
    (asked per page: the connector follows a zone move)."""
    response = first
    seen: set[str] = set()
    while True:
        body = response.json()
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise VendorError(
                "query answer has no items list", connector="autotask", url=str(response.request.url)
            )
        details = body.get("pageDetails") or {}
        next_url = details.get("nextPageUrl") or None
        ids = [int(r["id"]) for r in items if isinstance(r, dict) and "id" in r]
        resume = {"after_id": max(ids)} if next_url and ids else None
        yield Page(items, resume)
        if not next_url:
            return
        zone_url = zone()["url"]
        next_url = urljoin(zone_url, next_url)  # a relative link is the zone's
        target, here = urlsplit(next_url), urlsplit(zone_url)
        if (target.scheme.lower(), target.netloc.lower()) != (here.scheme.lower(), here.netloc.lower()):
            raise VendorError(
                f"nextPageUrl points away from the zone ({target.netloc})", connector="autotask", url=next_url
            )
        if next_url in seen:
            raise PaginationLoop(f"autotask {entity}: nextPageUrl was already followed")
        seen.add(next_url)
        response = fetch_next(next_url)
