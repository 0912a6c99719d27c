"""IT Glue streams: organizations, contacts and Site Summary flexible assets.

Incremental reads: IT Glue documents ``sort=updated_at`` (and ``-updated_at``) on all
three index routes, but a ``filter[updated_at]`` date range only on organizations,
and even there "date ranges longer than a week may be disallowed for performance
reasons". So every stream asks for the newest first (``sort=-updated_at``) and stops
at the first record older than ``since``: one uniform, filter-free read.

Newest-first also makes ``page[number]`` pagination safe while records change: a
record edited mid-read jumps to page 1, which shifts the rest *down*, so a record
may be read twice but never skipped (oldest-first would shift them up and skip one).
The pages are therefore not in ascending cursor order (``sorted_by_cursor = False``);
the resume token is the next page number (:class:`PageNumbers`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from connectors.itglue.jsonapi import next_page, resources
from hub.sdk import Answer, Page, Paginator, Stream, parse_timestamp

if TYPE_CHECKING:
    from connectors.itglue.connector import ITGlueConnector

__all__ = ["ContactsStream", "ITGlueStream", "OrganizationsStream", "PageNumbers", "SiteSummariesStream"]


class ITGlueStream(Stream):
    """One IT Glue index route read newest-first, page by page, down to ``since``."""

    path: ClassVar[str]
    cursor_field: ClassVar[str | None] = "updated-at"
    sorted_by_cursor: ClassVar[bool] = False
    connector: ITGlueConnector

    def cursor_value(self, record: dict[str, Any]) -> datetime | None:  # type: ignore[override]
        return parse_timestamp((record.get("attributes") or {}).get("updated-at"))

    def filters(self) -> dict[str, Any]:
        """Extra query parameters of this route (``filter[...]``)."""
        return {}

    def shape(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records as the mapping reads them (the resource objects, unchanged by default)."""
        return records

    def _page(self, page: int) -> httpx.Response:
        params: dict[str, Any] = {
            "page[size]": self.connector.settings.page_size,
            "page[number]": page,
            "sort": "-updated_at",
            **self.filters(),
        }
        return self.connector.client().get(self.path, params=params)

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        def fetch(page: int) -> Answer:
            response = self._page(page)
            try:
                records = resources(response)
            except ValueError as exc:
                raise self.connector.client().error(response, f"malformed {self.name} page {page}: {exc}") from None
            keep = records
            if since is not None:
                keep = [r for r in records if (self.cursor_value(r) or since) >= since]
            # the total counts every record; a read since a time stops early (newest first)
            total = (response.json().get("meta") or {}).get("total-count") if since is None else None
            # newest first: a record older than since means every later page is older too
            return Answer(response, self.shape(keep), more=len(keep) == len(records),
                          total=total if isinstance(total, int) else None)  # fmt: skip

        yield from PageNumbers(self).pages(fetch, resume)


class PageNumbers(Paginator):
    """``page[number]`` from 1, as ``meta`` says (:func:`next_page`); the resume token is the next
    page's number."""

    def __init__(self, stream: ITGlueStream) -> None:
        super().__init__()
        self.stream = stream

    def first(self) -> int:
        return 1

    def restart(self, resume: Mapping[str, Any]) -> int:
        return int(resume.get("page") or 1)

    def next_token(self, response: httpx.Response, records: list[dict[str, Any]], token: Any) -> int | None:
        try:
            return next_page(response.json(), int(token))
        except ValueError as exc:
            raise self.stream.connector.client().error(
                response, f"malformed {self.stream.name} page {token}: {exc}"
            ) from None

    def resume(
        self, response: httpx.Response, records: list[dict[str, Any]], token: Any, next_token: Any
    ) -> dict[str, Any]:
        return {"page": next_token}


class OrganizationsStream(ITGlueStream):
    name = "organizations"
    kind = "organization"
    path = "/organizations"


class ContactsStream(ITGlueStream):
    name = "contacts"
    kind = "contact"
    path = "/contacts"


class SiteSummariesStream(ITGlueStream):
    """Flexible assets of the tenant's Site Summary type, with traits also keyed by label."""

    name = "site_summaries"
    kind = "site_summary"
    path = "/flexible_assets"

    def filters(self) -> dict[str, Any]:
        return {"filter[flexible_asset_type_id]": self.connector.site_summary_type().id}

    def shape(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.connector.with_labels(r) for r in records]
