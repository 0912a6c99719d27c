"""Streams of the QuickBooks connector.

Reading changes: inside Change Data Capture's 30-day look-back, ``read(since)`` asks
``/cdc?entities=...&changedSince=...`` (one call, deleted objects included). When the
cursor is older than that window - or when a CDC answer reaches its 1,000-object cap and
may be cut short - it falls back to the query endpoint, paged with STARTPOSITION and
MAXRESULTS and ordered by Id (ids never move, so a record changed during the read
cannot shift the pages), filtered on ``MetaData.LastUpdatedTime >= since``. With no
cursor it is a full read. Neither CDC nor the query returns records in cursor order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from connectors.quickbooks.query import MAX_RESULTS, quote, select, timestamp
from connectors.quickbooks.records import invoice_email_records, recipient_records
from hub.sdk import Answer, OffsetPaginator, Page, Stream, get_logger, parse_timestamp

if TYPE_CHECKING:
    from connectors.quickbooks.connector import QuickBooksConnector

log = get_logger("hub.connectors.quickbooks")

#: how far back Change Data Capture looks (Intuit: "changes within the last 30 days")
CDC_WINDOW = timedelta(days=30)
#: keep clear of the window's edge (clock skew between the hub and Intuit)
CDC_MARGIN = timedelta(hours=1)
#: the most objects one CDC answer holds; an answer this big may be incomplete
CDC_CAP = 1000
#: what "recent invoices" means when a read has no cursor
RECENT_INVOICE_DAYS = 90
#: the Customer query returns only active customers unless Active is filtered
ALL_CUSTOMERS = "Active IN (true, false)"


class ChangeReader:
    """Pages of one entity's objects changed at or after ``since`` (CDC or query)."""

    def __init__(
        self,
        connector: QuickBooksConnector,
        entity: str,
        *,
        page_size: int,
        base_where: tuple[str, ...] = (),
        full_where: Callable[[], list[str]] | None = None,
    ) -> None:
        self.connector = connector
        self.entity = entity
        self.page_size = page_size
        self.base_where = list(base_where)
        self.full_where = full_where
        self.deleted: list[str] = []

    def pages(
        self, since: datetime | None, resume: dict[str, Any] | None
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any] | None]]:
        if resume is None and since is not None and self._inside_cdc_window(since):
            records = self.connector.api.cdc([self.entity], since)[self.entity]
            if len(records) < CDC_CAP:
                yield self._drop_deleted(records), None
                return
            log.info("quickbooks.cdc_capped", entity=self.entity, objects=len(records))
        yield from self._query_pages(since, resume)

    def _inside_cdc_window(self, since: datetime) -> bool:
        return since >= self.connector.context.clock.now() - CDC_WINDOW + CDC_MARGIN

    def _query_pages(
        self, since: datetime | None, resume: dict[str, Any] | None
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any] | None]]:
        where = list(self.base_where)
        if since is not None:
            where.append(f"MetaData.LastUpdatedTime >= {quote(timestamp(since))}")
        elif self.full_where is not None:
            where.extend(self.full_where())

        def fetch(start: int) -> Answer:
            answer = self.connector.api.query(select(self.entity, where, start=start, max_results=self.page_size))
            return Answer(answer, [r for r in answer.get(self.entity) or [] if isinstance(r, dict)])

        for page in StartPositions(self.page_size).pages(fetch, resume):
            yield page.records, page.resume

    def _drop_deleted(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for record in records:
            if record.get("status") == "Deleted":
                self.deleted.append(str(record.get("Id")))
            else:
                kept.append(record)
        if len(kept) != len(records):
            log.info("quickbooks.cdc_deleted", entity=self.entity, ids=self.deleted[-20:])
        return kept


class StartPositions(OffsetPaginator):
    """``STARTPOSITION`` from 1 until a short page (it only grows, so the pages cannot loop);
    the resume token says the read goes on in query mode, from the next start position."""

    def __init__(self, page_size: int) -> None:
        super().__init__(page_size, start=1)

    def restart(self, resume: Mapping[str, Any]) -> int:
        return int(resume.get("start") or 1)

    def resume(self, response: Any, records: list[dict[str, Any]], token: Any, next_token: Any) -> dict[str, Any]:
        return {"mode": "query", "start": next_token}


class QuickBooksStream(Stream):
    """Base of the QuickBooks streams: ``Id`` keys, ``MetaData.LastUpdatedTime`` cursor."""

    primary_key: ClassVar[str] = "Id"
    cursor_field: ClassVar[str | None] = "MetaData.LastUpdatedTime"
    sorted_by_cursor: ClassVar[bool] = False
    page_size: ClassVar[int] = MAX_RESULTS
    connector: QuickBooksConnector

    def cursor_value(self, record: Mapping[str, Any]) -> datetime | None:
        return parse_timestamp((record.get("MetaData") or {}).get("LastUpdatedTime"))


def _recent_invoices(connector: QuickBooksConnector) -> list[str]:
    # TxnDate is a calendar date of the MSP's books: counted in its time zone
    since = connector.context.clock.now() - timedelta(days=RECENT_INVOICE_DAYS)
    first_day = since.astimezone(connector.context.zone).date().isoformat()
    return [f"TxnDate >= {quote(first_day)}"]


class CustomersStream(QuickBooksStream):
    """Customers (active and inactive), as QuickBooks sends them."""

    name = "customers"
    kind = "organization"
    entity = "Customer"

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        reader = ChangeReader(
            self.connector, "Customer", page_size=self.page_size, base_where=(ALL_CUSTOMERS,)
        )
        for records, token in reader.pages(since, resume):
            yield Page(records, token)


class InvoiceRecipientsStream(QuickBooksStream):
    """One record per address in a customer's PrimaryEmailAddr (who should get invoices)."""

    name = "invoice_recipients"
    kind = "invoice_recipient"
    entity = "InvoiceRecipient"

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        reader = ChangeReader(
            self.connector, "Customer", page_size=self.page_size, base_where=(ALL_CUSTOMERS,)
        )
        for customers, token in reader.pages(since, resume):
            yield Page([r for c in customers for r in recipient_records(c)], token)


class InvoiceEmailsStream(QuickBooksStream):
    """One record per address recent invoices were e-mailed to (BillEmail, Cc, Bcc)."""

    name = "invoice_emails"
    kind = "invoice_recipient"
    entity = "InvoiceEmail"

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        reader = ChangeReader(
            self.connector,
            "Invoice",
            page_size=self.page_size,
            full_where=lambda: _recent_invoices(self.connector),
        )
        for invoices, token in reader.pages(since, resume):
            yield Page([r for i in invoices for r in invoice_email_records(i)], token)
