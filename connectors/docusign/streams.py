"""The ``envelopes`` stream: DocuSign's listStatusChanges, read incrementally.

DocuSign limits how often one envelope may be polled (``HOURLY_ENVELOPE_POLLING_LIMIT``),
so status is never read envelope by envelope: one ``GET .../envelopes?from_date=``
returns every envelope whose status changed since the cursor, with its recipients
and custom fields (``include=recipients,custom_fields``).

Pages are ``start_position``/``count`` slices ordered by ``status_changed`` ascending,
so pages come in cursor order. The read pins ``to_date`` at its start (the resume
token carries it) so that a long read is not chased by envelopes changing meanwhile;
those are picked up by the next incremental read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from hub.sdk import Page, Stream

if TYPE_CHECKING:
    from .connector import DocuSignConnector

__all__ = ["PAGE_SIZE", "EnvelopesStream", "format_date"]

PAGE_SIZE = 100
#: ``from_date`` is required; a full read starts here
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def format_date(value: datetime) -> str:
    """ISO 8601 in UTC with an explicit zone, as DocuSign recommends for ``from_date``."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EnvelopesStream(Stream):
    """Envelopes whose status changed at or after ``since``."""

    name: ClassVar[str] = "envelopes"
    kind: ClassVar[str] = "signature_request"
    entity: ClassVar[str] = "envelopes"
    cursor_field: ClassVar[str | None] = "statusChangedDateTime"
    primary_key: ClassVar[str] = "envelopeId"
    sorted_by_cursor: ClassVar[bool] = True

    connector: DocuSignConnector

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        if resume:
            start = int(resume["start"])
            from_date, to_date = str(resume["from_date"]), str(resume["to_date"])
        else:
            start = 0
            from_date = format_date(since or EPOCH)
            to_date = format_date(self.connector.context.clock.now())
        while True:
            response = self.connector.list_status_changes(
                from_date=from_date, to_date=to_date, start_position=start, count=PAGE_SIZE
            )
            records, nxt = self._page(response, start)
            token = {"start": nxt, "from_date": from_date, "to_date": to_date} if nxt is not None else None
            yield Page(records, token)
            if nxt is None:
                return
            start = nxt

    @staticmethod
    def _page(response: httpx.Response, start: int) -> tuple[list[dict[str, Any]], int | None]:
        """The envelopes of one answer and the next ``start_position`` (None after the last)."""
        body = response.json()
        records = [e for e in body.get("envelopes") or [] if isinstance(e, dict)]
        if not records:
            return records, None
        end = int(body.get("endPosition") or start + len(records) - 1)
        total = int(body.get("totalSetSize") or 0)
        nxt = end + 1
        if nxt <= start or nxt >= total:
            return records, None
        return records, nxt
