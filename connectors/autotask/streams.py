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

from hub.sdk import Answer, Page, Paginator, Stream, VendorError

from .entities import STREAMED, EntitySpec
from .query import all_of, cond, query_body

if TYPE_CHECKING:
    from .connector import AutotaskConnector

__all__ = ["STREAM_CLASSES", "AutotaskStream", "QueryPages", "query_items"]


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


class QueryPages(Paginator):
    """The pages of one query: the page token is ``pageDetails.nextPageUrl`` (on the host of
    the ``zone()``, asked per page: the connector follows a zone move); the resume token is the
    last id of the page, since a stored ``nextPageUrl`` does not outlive the query (see the
    module doc): a read resumed from it is a fresh query for ``id >`` that id."""

    def __init__(self, zone: Callable[[], dict[str, Any]]) -> None:
        super().__init__()
        self.zone = zone

    def next_token(self, response: httpx.Response, records: list[dict[str, Any]], token: Any) -> Any:
        details = response.json().get("pageDetails") or {}
        next_url = details.get("nextPageUrl") or None
        if next_url is None:
            return None
        zone_url = self.zone()["url"]
        next_url = urljoin(zone_url, next_url)  # a relative link is the zone's
        target, here = urlsplit(next_url), urlsplit(zone_url)
        if (target.scheme.lower(), target.netloc.lower()) != (here.scheme.lower(), here.netloc.lower()):
            raise VendorError(
                f"nextPageUrl points away from the zone ({target.netloc})", connector="autotask", url=next_url
            )
        return next_url

    def resume(
        self, response: httpx.Response, records: list[dict[str, Any]], token: Any, next_token: Any
    ) -> dict[str, Any] | None:
        ids = [int(r["id"]) for r in records if isinstance(r, dict) and "id" in r]
        return {"after_id": max(ids)} if ids else None


def query_items(response: httpx.Response) -> Answer:
    """The records of one query answer (``items``)."""
    body = response.json()
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise VendorError("query answer has no items list", connector="autotask", url=str(response.request.url))
    return Answer(response, items)
