"""The ticket rules of the co-managed help desk (shared/procedures/co-managed-helpdesk-setup.txt, step 14).

* A ticket in "Waiting Customer" with no customer response for eight business days
  becomes "Client No Response".
* A ticket in "Waiting Vendor" for eight business days becomes "Vendor No Response"
  (the procedure states the rule for this status with the same eight days).
* A ticket in "Auto-Complete in 2 Days" becomes "Complete" two days later, unless the
  customer replied in the meantime.
* A customer note on a "Complete" ticket sets "Ticket Reopened".
* A customer's answer on an open ticket sets "Feedback Received" (except on tickets
  already waiting for the MSP: New, Feedback Received, Ticket Reopened); answers older
  than the first run of the rules are history, not news.
* A "New" ticket someone was assigned to becomes "Assigned".

"Waiting Internal Review" has no rule: the procedure says who sets it, not when it ends.

Statuses are PSA labels and every number is configurable (:class:`LifecycleSettings`);
a status set to none turns its rule off. ``dry_run`` applies nothing and records
nothing: it says what a run would change (``hub lifecycle run --dry-run``).
The rules are written against the core :class:`~hub.models.Ticket` and a small
:class:`TicketPort`, so they do not know which PSA they run on.

How they work without a "status changed at" field (Autotask has none): each run reads
the tickets changed since the previous run and keeps, for each ticket in a *timed*
status, when the hub first saw it there (one ``kv`` row per watched ticket, namespace
``lifecycle:<psa>``; removed when the ticket leaves the status, so the state stays as
small as the set of waiting tickets). A ticket first seen during the initial scan
counts from its last change, which is never earlier than the real status change.
Before any write the ticket is read again, so a stale list never closes a ticket
the customer just answered.

Each change is one PSA update and one audit row (actor ``lifecycle``) whose ``after``
names the rule and the *episode* (when the ticket entered the status). The audit log
is the record of what was applied: a rule never fires twice for one episode, even if
the PSA still shows the old status for a while.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select

from hub import metrics
from hub.clock import Clock, SystemClock
from hub.errors import HubError
from hub.events.calendar import BusinessCalendar, public_holidays
from hub.logging import get_logger
from hub.models import Ticket
from hub.settings import LifecycleSettings
from hub.state import tables as t
from hub.state.store import StateStore

__all__ = [
    "ASSIGNED",
    "AUTO_COMPLETE",
    "FEEDBACK",
    "NO_RESPONSE",
    "REOPEN",
    "VENDOR_NO_RESPONSE",
    "Change",
    "LifecycleRules",
    "TicketActivity",
    "TicketPort",
]

NO_RESPONSE, AUTO_COMPLETE, REOPEN = "no_response", "auto_complete", "reopen"
VENDOR_NO_RESPONSE, FEEDBACK, ASSIGNED = "vendor_no_response", "feedback", "assigned"
ACTOR = "lifecycle"

log = get_logger("hub.events.lifecycle")


@dataclass(frozen=True)
class TicketActivity:
    """A PSA ticket as the rules see it.

    ``last_customer_activity``: when the customer last acted on it (a note, a reply);
    ``status_since``: when it entered its status, if the PSA knows; ``changed_at``: its
    change timestamp (the cursor of the read); ``assigned``: someone is assigned to it.
    """

    id: str
    ticket: Ticket
    last_customer_activity: datetime | None = None
    status_since: datetime | None = None
    changed_at: datetime | None = None
    assigned: bool = False


class TicketPort(Protocol):
    """What the rules need of a PSA."""

    system: str

    def changed_tickets(self, since: datetime | None) -> Iterable[TicketActivity]:
        """Tickets changed at or after ``since`` (all tickets if None)."""
        ...

    def ticket(self, ticket_id: str) -> TicketActivity | None:
        """The ticket as it is now, or None if it no longer exists."""
        ...

    def set_status(self, ticket_id: str, status: str) -> None:
        """Set the ticket's status (a label) in one update."""
        ...


@dataclass(frozen=True)
class Change:
    """One status change the rules made."""

    ticket_id: str
    rule: str
    before: str
    after: str
    episode: str


class LifecycleFailed(HubError):
    """Some tickets could not be updated; the others were (``changes``), and the next run retries these."""

    def __init__(self, message: str, changes: list[Change]) -> None:
        super().__init__(message)
        self.changes = changes


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


class LifecycleRules:
    """Runs the rules over one PSA through its :class:`TicketPort`."""

    def __init__(
        self,
        port: TicketPort,
        store: StateStore,
        settings: LifecycleSettings,
        clock: Clock | None = None,
        *,
        zone: str = "UTC",
        dry_run: bool = False,
    ) -> None:
        self.port = port
        self.store = store
        self.settings = settings
        self.clock = clock or SystemClock()
        self.dry_run = dry_run
        public = public_holidays(settings.holiday_country, settings.holiday_subdivision)
        self.calendar = BusinessCalendar(settings.holidays, settings.weekend, settings.timezone or zone, public)
        self._watch_ns = f"lifecycle:{port.system}"
        self._cursor = store.kv(f"lifecycle-cursor:{port.system}")
        #: rows of the watched tickets as a dry run would have left them (nothing is stored)
        self._dry_rows: dict[str, dict[str, Any]] = {}

    # -- entry points -----------------------------------------------------------------

    def run(self) -> list[Change]:
        """Read what changed since the last run, then apply every rule that is due."""
        changes: list[Change] = []
        errors: list[str] = []
        newest: datetime | None = None
        seen: set[str] = set()
        since = _parse(self._cursor.get("cursor"))
        if self._cursor.get("started") is None and not self.dry_run:
            self._cursor.set("started", _iso(self.clock.now()))
        for activity in self.port.changed_tickets(since):
            seen.add(activity.id)
            changes += self._guarded(activity.id, errors, lambda a=activity: self._observe(a, fresh=False))
            newest = _later(newest, activity.changed_at)
        if newest is not None and not self.dry_run:
            self._cursor.set("cursor", _iso(min(newest, self.clock.now())))
        for ticket_id, row in self._watched():
            if ticket_id not in seen and self._timed_due(row):
                changes += self._guarded(ticket_id, errors, lambda i=ticket_id: self.check_ticket(i))
        if errors:
            raise LifecycleFailed(f"{len(errors)} ticket(s) not updated: {'; '.join(errors[:5])}", changes)
        return changes

    def check_ticket(self, ticket_id: str) -> list[Change]:
        """Re-read one ticket and apply what is due (also called for a ticket's webhook event)."""
        activity = self.port.ticket(ticket_id)
        if activity is None:
            self._forget(ticket_id)
            return []
        return self._observe(activity, fresh=True)

    # -- observing ----------------------------------------------------------------------

    def _timed(self) -> dict[str, tuple[str, str]]:
        """Timed statuses -> (rule, status it leads to)."""
        s = self.settings
        timed = {s.waiting_customer: (NO_RESPONSE, s.no_response), s.auto_complete: (AUTO_COMPLETE, s.complete)}
        if s.vendor_no_response:
            timed[s.waiting_vendor] = (VENDOR_NO_RESPONSE, s.vendor_no_response)
        return timed

    def _observe(self, activity: TicketActivity, *, fresh: bool) -> list[Change]:
        """Apply the rule that is due for ``activity``; a stale read (``fresh`` false) is read again first."""
        due = self._due(activity)
        if due is None:
            return []
        if not fresh:
            return self.check_ticket(activity.id)
        rule, episode = due
        return self._apply(activity, rule, episode)

    def _due(self, activity: TicketActivity) -> tuple[str, str] | None:
        """The rule due for the ticket, with its episode (what makes it due once), or None."""
        s = self.settings
        status = activity.ticket.status
        reply = activity.last_customer_activity
        if status in self._timed():
            row = self._watch(activity)
            answered = _parse(row.get("customer_at"))
            entered = _parse(row["since"])
            if s.feedback_received and self._news(reply) and answered and entered and answered > entered:
                return FEEDBACK, _iso(answered)  # the customer answered: a person decides, not the clock
            if self._timed_due(row):
                return self._timed()[status][0], row["since"]
            return None
        self._forget(activity.id)
        if status == s.complete:
            completed = activity.ticket.completed_at or activity.status_since
            if completed is not None and reply is not None and reply > completed:
                return REOPEN, _iso(completed)
            return None
        if s.feedback_received and status not in s.feedback_not_from and self._news(reply):
            assert reply is not None
            return FEEDBACK, _iso(reply)
        if s.assigned and status in s.assign_from and activity.assigned:
            return ASSIGNED, _iso(activity.changed_at or self.clock.now())
        return None

    def _news(self, reply: datetime | None) -> bool:
        """Whether a customer's answer came after the rules first ran (older ones are history)."""
        started = _parse(self._cursor.get("started")) or self.clock.now()
        return reply is not None and reply >= started

    def _watch(self, activity: TicketActivity) -> dict[str, Any]:
        """Record (or keep) when the ticket entered its timed status; returns the row."""
        kv = self.store.kv(self._watch_ns)
        row = self._dry_rows.get(activity.id) or kv.get(activity.id)
        status = activity.ticket.status
        if not row or row.get("status") != status:
            entered = activity.status_since or activity.changed_at or self.clock.now()
            row = {"status": status, "since": _iso(entered)}
        customer = _later(_parse(row.get("customer_at")), activity.last_customer_activity)
        row["customer_at"] = _iso(customer) if customer else None
        if self.dry_run:
            self._dry_rows[activity.id] = row
        else:
            kv.set(activity.id, row)
        return row

    def _forget(self, ticket_id: str) -> None:
        if not self.dry_run:
            self.store.kv(self._watch_ns).delete(ticket_id)

    def _watched(self) -> list[tuple[str, dict[str, Any]]]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(t.kv.c.key, t.kv.c.value)
                .where(t.kv.c.namespace == self._watch_ns)
                .order_by(t.kv.c.key)
            ).all()
        return [(key, dict(value)) for key, value in rows if value]

    # -- rules --------------------------------------------------------------------------

    def _timed_due(self, row: dict[str, Any]) -> bool:
        s = self.settings
        since = _parse(row["since"])
        assert since is not None
        customer = _parse(row.get("customer_at"))
        now = self.clock.now()
        if row["status"] == s.waiting_customer:
            start = _later(since, customer) or since
            return now >= self.calendar.add_business_days(start, s.no_response_business_days)
        if row["status"] == s.waiting_vendor and s.vendor_no_response:
            return now >= self.calendar.add_business_days(since, s.vendor_no_response_business_days)
        if row["status"] == s.auto_complete:
            if customer is not None and customer > since:
                return False  # the customer replied: a person decides, not the clock
            if s.auto_complete_business_days:
                return now >= self.calendar.add_business_days(since, s.auto_complete_days)
            return now >= since + timedelta(days=s.auto_complete_days)
        return False

    def _target(self, rule: str) -> str:
        s = self.settings
        targets = {NO_RESPONSE: s.no_response, AUTO_COMPLETE: s.complete, REOPEN: s.reopened,
                   VENDOR_NO_RESPONSE: s.vendor_no_response, FEEDBACK: s.feedback_received, ASSIGNED: s.assigned}
        target = targets[rule]
        assert target is not None  # a rule without its status never becomes due
        return target

    def _apply(self, activity: TicketActivity, rule: str, episode: str) -> list[Change]:
        if self._applied(activity.id, rule, episode):
            return []
        before = activity.ticket.status or ""
        after = self._target(rule)
        if self.dry_run:
            return [Change(activity.id, rule, before, after, episode)]
        self.port.set_status(activity.id, after)
        with self.store.transaction() as conn:
            self.store.audit(
                conn,
                actor=ACTOR,
                system=self.port.system,
                entity="ticket",
                operation="update",
                record_id=activity.id,
                before={"status": before},
                after={"status": after, "rule": rule, "episode": episode},
            )
            conn.execute(delete(t.kv).where(t.kv.c.namespace == self._watch_ns, t.kv.c.key == activity.id))
        metrics.LIFECYCLE_CHANGES.labels(rule=rule).inc()
        log.info("ticket status changed by rule", ticket=activity.id, rule=rule, before=before, after=after)
        return [Change(activity.id, rule, before, after, episode)]

    def _applied(self, ticket_id: str, rule: str, episode: str) -> bool:
        stmt = select(t.audit_log.c.after).where(
            t.audit_log.c.system == self.port.system,
            t.audit_log.c.entity == "ticket",
            t.audit_log.c.record_id == ticket_id,
            t.audit_log.c.actor == ACTOR,
        )
        with self.store.engine.connect() as conn:
            return any(
                (a or {}).get("rule") == rule and (a or {}).get("episode") == episode
                for a in conn.execute(stmt).scalars()
            )

    @staticmethod
    def _guarded(ticket_id: str, errors: list[str], fn: Any) -> list[Change]:
        try:
            result: list[Change] = fn()
        except HubError as exc:
            log.error("ticket lifecycle rule failed", ticket=ticket_id, error=str(exc))
            errors.append(f"{ticket_id}: {exc}")
            return []
        return result
