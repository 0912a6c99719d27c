"""The ``envelopes`` stream: DocuSign's listStatusChanges, read incrementally.

DocuSign limits how often one envelope may be polled (``HOURLY_ENVELOPE_POLLING_LIMIT``),
so status is never read envelope by envelope: one ``GET .../envelopes?from_date=``
returns every envelope whose status changed since the cursor, with its recipients
and custom fields (``include=recipients,custom_fields``).

Pages are ``start_position``/``count`` slices ordered by ``status_changed`` ascending,
so pages come in cursor order. The read pins ``to_date`` at its start (the resume
token carries it with the next start position, :class:`StartPositions`) so that a long
read is not chased by envelopes changing meanwhile; those are picked up by the next
incremental read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from hub.sdk import Answer, Page, Paginator, Stream

if TYPE_CHECKING:
    from .connector import DocuSignConnector

__all__ = ["PAGE_SIZE", "EnvelopesStream", "StartPositions", "envelopes_of", "format_date"]

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
            from_date, to_date = str(resume["from_date"]), str(resume["to_date"])
        else:
            from_date = format_date(since or EPOCH)
            to_date = format_date(self.connector.context.clock.now())

        def fetch(start: int) -> Answer:
            return envelopes_of(
                self.connector.list_status_changes(
                    from_date=from_date, to_date=to_date, start_position=start, count=PAGE_SIZE
                )
            )

        yield from StartPositions({"from_date": from_date, "to_date": to_date}).pages(fetch, resume)


def envelopes_of(response: httpx.Response) -> Answer:
    """The envelopes of one listStatusChanges answer."""
    return Answer(response, [e for e in response.json().get("envelopes") or [] if isinstance(e, dict)])


class StartPositions(Paginator):
    """``start_position`` slices of one listStatusChanges query; the resume token keeps the
    query's ``window`` (its pinned dates) with the next start, so a resumed read asks for the
    same window."""

    def __init__(self, window: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.window = dict(window or {})

    def first(self) -> int:
        return 0

    def restart(self, resume: Mapping[str, Any]) -> int:
        return int(resume["start"])

    def next_token(self, response: httpx.Response, records: list[dict[str, Any]], token: Any) -> int | None:
        """The next ``start_position``: after ``endPosition``, while below ``totalSetSize``."""
        if not records:
            return None
        body = response.json()
        start = int(token)
        nxt = int(body.get("endPosition") or start + len(records) - 1) + 1
        total = int(body.get("totalSetSize") or 0)
        return None if nxt <= start or nxt >= total else nxt

    def resume(
        self, response: httpx.Response, records: list[dict[str, Any]], token: Any, next_token: Any
    ) -> dict[str, Any]:
        return {"start": next_token, **self.window}
