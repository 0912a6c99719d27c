"""Readable Acronis collections: the partner's customer tenants.

``GET /api/2/tenants?subtree_root_id=<partner>`` returns the partner's whole subtree
(the partner itself, folders, customers and their units) sorted by level; only
customers are yielded. The next page is asked for with ``after`` alone, the cursor
that "encodes all the filtering and sorting arguments" (spec), so the cursor is also
the resume token.

``updated_since`` is documented as "updated after the specified timestamp": a tenant
changed at exactly ``since`` might be left out, so the request asks from one second
earlier and the stream keeps the tenants changed at or after ``since`` (the sync
engine handles that boundary).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.sdk import Page, Stream, parse_timestamp

from .api import is_customer

if TYPE_CHECKING:
    from .connector import AcronisConnector

__all__ = ["TenantsStream"]


class TenantsStream(Stream):
    """Customer tenants under the partner, with their contacts (``with_contacts``)."""

    name = "tenants"
    kind = "organization"
    cursor_field = "updated_at"
    sorted_by_cursor = False

    connector: AcronisConnector

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        api = self.connector.api
        after = str(resume["token"]) if resume and resume.get("token") else None
        updated_since = None
        if after is None and since is not None:
            updated_since = (since.astimezone(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        while True:
            items, after = api.tenant_page(after=after, updated_since=updated_since)
            records = [t for t in items if is_customer(t) and _changed_since(t, since)]
            yield Page(records, {"token": after} if after else None)
            if after is None:
                return


def _changed_since(tenant: dict[str, Any], since: datetime | None) -> bool:
    if since is None:
        return True
    changed = parse_timestamp(tenant.get("updated_at"))
    return changed is None or changed >= since
