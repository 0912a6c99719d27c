"""The co-managed help desk's ticket rules on a fake clock, with weekends and holidays."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import pytest

from hub.clock import FakeClock
from hub.events.calendar import BusinessCalendar
from hub.events.lifecycle import (
    ASSIGNED,
    AUTO_COMPLETE,
    FEEDBACK,
    NO_RESPONSE,
    REOPEN,
    VENDOR_NO_RESPONSE,
    LifecycleFailed,
    LifecycleRules,
    TicketActivity,
)
from hub.models import Ticket
from hub.settings import LifecycleSettings

# Monday 5 January 2026, 10:00 UTC
MON = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
WAITING, NO_RESP, AUTO, COMPLETE, REOPENED = (
    "Waiting Customer",
    "Client No Response",
    "Auto-Complete in 2 Days",
    "Complete",
    "Ticket Reopened",
)


@dataclass
class FakePsa:
    """An in-memory PSA: tickets by id; counts updates; can keep answering stale data."""

    system: str = "autotask"
    tickets: dict[str, TicketActivity] = field(default_factory=dict)
    updates: list[tuple[str, str]] = field(default_factory=list)
    stale: bool = False
    fail_on: set[str] = field(default_factory=set)
    clock: FakeClock | None = None

    def put(
        self,
        ticket_id: str,
        status: str,
        *,
        customer: datetime | None = None,
        completed: datetime | None = None,
        assigned: bool = False,
    ) -> None:
        assert self.clock is not None
        t = Ticket(title=f"ticket {ticket_id}", status=status, completed_at=completed)
        self.tickets[ticket_id] = TicketActivity(ticket_id, t, customer, None, self.clock.now(), assigned)

    def changed_tickets(self, since: datetime | None) -> Iterator[TicketActivity]:
        for a in list(self.tickets.values()):
            if since is None or (a.changed_at and a.changed_at >= since):
                yield a

    def ticket(self, ticket_id: str) -> TicketActivity | None:
        return self.tickets.get(ticket_id)

    def set_status(self, ticket_id: str, status: str) -> None:
        if ticket_id in self.fail_on:
            from hub.errors import TransientError

            raise TransientError("503 Service Unavailable", connector="autotask")
        self.updates.append((ticket_id, status))
        if not self.stale:
            a = self.tickets[ticket_id]
            assert self.clock is not None
            self.tickets[ticket_id] = replace(
                a, ticket=a.ticket.model_copy(update={"status": status}), changed_at=self.clock.now()
            )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MON)


@pytest.fixture
def psa(clock) -> FakePsa:
    return FakePsa(clock=clock)


def rules(hub, psa, clock, dry_run: bool = False, **settings) -> LifecycleRules:
    values = {"enabled": True, "holidays": [date(2026, 1, 14)]}
    values.update(settings)
    return LifecycleRules(psa, hub.store, LifecycleSettings(**values), clock, dry_run=dry_run)


def at(clock: FakeClock, when: datetime) -> None:
    clock.advance((when - clock.now()).total_seconds())


# -- business calendar --------------------------------------------------------------


def test_business_days_skip_weekends_and_holidays():
    cal = BusinessCalendar(holidays=[date(2026, 1, 14)])
    # Mon 5 Jan + 8 business days: Tue..Fri (4), Mon 12, Tue 13, [Wed 14 holiday], Thu 15, Fri 16
    assert cal.add_business_days(MON, 8) == datetime(2026, 1, 16, 10, 0, tzinfo=UTC)
    assert BusinessCalendar().add_business_days(MON, 8) == datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    sat = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)
    fri = datetime(2026, 1, 9, 10, 0, tzinfo=UTC)
    assert (
        cal.add_business_days(sat, 1)
        == cal.add_business_days(fri, 1)
        == datetime(2026, 1, 12, 10, 0, tzinfo=UTC)
    )


def test_business_days_are_counted_in_the_msps_zone():
    # Friday 21:00 in New York is Saturday 02:00 UTC: one business day later is Monday 21:00 New York.
    cal = BusinessCalendar(zone="America/New_York")
    fri_evening = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)
    assert cal.add_business_days(fri_evening, 1) == datetime(2026, 1, 13, 2, 0, tzinfo=UTC)
    assert BusinessCalendar().add_business_days(fri_evening, 1) == datetime(2026, 1, 12, 2, 0, tzinfo=UTC)


# -- Waiting Customer -> Client No Response ----------------------------------------------


def test_waiting_customer_becomes_client_no_response_after_8_business_days(hub, psa, clock):
    r = rules(hub, psa, clock)
    psa.put("100", WAITING)
    assert r.run() == []
    at(clock, datetime(2026, 1, 16, 9, 59, tzinfo=UTC))  # a minute early (weekend and holiday skipped)
    assert r.run() == []
    clock.advance(60)
    (change,) = r.run()
    assert (change.ticket_id, change.rule, change.before, change.after) == (
        "100",
        NO_RESPONSE,
        WAITING,
        NO_RESP,
    )
    assert psa.updates == [("100", NO_RESP)]
    (audit,) = hub.store.audit_rows()
    assert (audit["actor"], audit["system"], audit["entity"], audit["record_id"]) == (
        "lifecycle",
        "autotask",
        "ticket",
        "100",
    )
    assert audit["before"] == {"status": WAITING}
    assert audit["after"] == {"status": NO_RESP, "rule": NO_RESPONSE, "episode": MON.isoformat()}
    clock.advance(86400)
    assert r.run() == []
    assert psa.updates == [("100", NO_RESP)]


def test_customer_response_restarts_the_count(hub, psa, clock):
    r = rules(hub, psa, clock, feedback_received=None)  # without the Feedback Received rule
    psa.put("100", WAITING)
    r.run()
    at(clock, datetime(2026, 1, 12, 10, 0, tzinfo=UTC))
    psa.put("100", WAITING, customer=clock.now())  # the customer wrote, still Waiting Customer
    r.run()
    at(clock, datetime(2026, 1, 16, 10, 0, tzinfo=UTC))  # 8 business days after the first wait
    assert r.run() == []
    at(clock, datetime(2026, 1, 23, 10, 0, tzinfo=UTC))  # Mon 12 + 8 business days (14th a holiday)
    assert [c.rule for c in r.run()] == [NO_RESPONSE]


def test_a_ticket_that_leaves_the_status_is_forgotten(hub, psa, clock):
    r = rules(hub, psa, clock)
    psa.put("100", WAITING)
    r.run()
    clock.advance(3600)
    psa.put("100", "In Progress")
    r.run()
    assert r._watched() == []
    at(clock, datetime(2026, 2, 1, tzinfo=UTC))
    assert r.run() == []
    assert psa.updates == []


def test_never_repeated_even_when_the_psa_answers_stale(hub, psa, clock):
    psa.stale = True  # the PSA keeps showing Waiting Customer after our update
    r = rules(hub, psa, clock)
    psa.put("100", WAITING)
    r.run()
    at(clock, datetime(2026, 1, 20, tzinfo=UTC))
    assert len(r.run()) == 1
    clock.advance(3600)
    assert r.run() == []
    clock.advance(86400 * 10)
    assert r.run() == []
    assert psa.updates == [("100", NO_RESP)]
    assert len(hub.store.audit_rows()) == 1


def test_a_failed_update_is_reported_and_retried_next_run(hub, psa, clock):
    r = rules(hub, psa, clock)
    psa.put("100", WAITING)
    psa.put("101", WAITING)
    r.run()
    at(clock, datetime(2026, 1, 20, tzinfo=UTC))
    psa.fail_on = {"100"}
    with pytest.raises(LifecycleFailed, match="1 ticket"):
        r.run()
    assert psa.updates == [("101", NO_RESP)]
    psa.fail_on = set()
    assert [c.ticket_id for c in r.run()] == ["100"]


# -- Auto-Complete in 2 Days -> Complete ----------------------------------------------------


def test_auto_complete_two_days_later(hub, psa, clock):
    r = rules(hub, psa, clock)
    psa.put("200", AUTO)
    r.run()
    clock.advance(2 * 86400 - 1)
    assert r.run() == []
    clock.advance(1)
    (change,) = r.run()
    assert (change.rule, change.after) == (AUTO_COMPLETE, COMPLETE)


def test_auto_complete_waits_when_the_customer_replied(hub, psa, clock):
    r = rules(hub, psa, clock, feedback_received=None)  # without the Feedback Received rule
    psa.put("200", AUTO)
    r.run()
    clock.advance(86400)
    psa.put("200", AUTO, customer=clock.now())
    r.run()
    clock.advance(30 * 86400)
    assert r.run() == []
    assert psa.updates == []


def test_auto_complete_in_business_days_when_configured(hub, psa, clock):
    at(clock, datetime(2026, 1, 9, 10, 0, tzinfo=UTC))  # Friday
    r = rules(hub, psa, clock, auto_complete_business_days=True)
    psa.put("200", AUTO)
    r.run()
    at(clock, datetime(2026, 1, 13, 9, 0, tzinfo=UTC))  # Tuesday 09:00: only 1 business day and 23 hours
    assert r.run() == []
    at(clock, datetime(2026, 1, 13, 10, 0, tzinfo=UTC))
    assert [c.rule for c in r.run()] == [AUTO_COMPLETE]


def test_the_fresh_read_wins_over_the_stored_observation(hub, psa, clock):
    r = rules(hub, psa, clock, feedback_received=None)
    psa.put("200", AUTO)
    r.run()
    clock.advance(86400)
    # The customer replied but the PSA's change feed did not carry it (no run in between).
    a = psa.tickets["200"]
    psa.tickets["200"] = replace(a, last_customer_activity=clock.now(), changed_at=MON)
    clock.advance(86400 * 2)
    assert r.run() == []
    assert psa.updates == []


# -- customer note on a Complete ticket -> Ticket Reopened ------------------------------------


def test_customer_note_on_completed_ticket_reopens_it(hub, psa, clock):
    r = rules(hub, psa, clock)
    psa.put("300", COMPLETE, completed=MON - timedelta(days=3))
    assert r.run() == []
    clock.advance(3600)
    psa.put("300", COMPLETE, completed=MON - timedelta(days=3), customer=clock.now())
    (change,) = r.run()
    assert (change.rule, change.before, change.after) == (REOPEN, COMPLETE, REOPENED)


def test_reopen_from_a_ticket_event_is_applied_once(hub, psa, clock):
    psa.stale = True
    r = rules(hub, psa, clock)
    psa.put("300", COMPLETE, completed=MON - timedelta(days=1), customer=MON)
    assert [c.rule for c in r.check_ticket("300")] == [REOPEN]
    assert r.check_ticket("300") == []
    assert r.run() == []
    assert psa.updates == [("300", REOPENED)]


def test_labels_and_days_are_configurable(hub, psa, clock):
    r = rules(
        hub,
        psa,
        clock,
        waiting_customer="Awaiting Client",
        no_response="No Reply",
        no_response_business_days=1,
    )
    psa.put("400", "Awaiting Client")
    r.run()
    at(clock, datetime(2026, 1, 6, 10, 0, tzinfo=UTC))
    (change,) = r.run()
    assert change.after == "No Reply"


def test_bad_lifecycle_settings_name_the_field():
    with pytest.raises(ValueError, match="unknown time zone"):
        LifecycleSettings(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="weekend days"):
        LifecycleSettings(weekend=[7])
    with pytest.raises(ValueError, match="holidays: Country XX not available"):
        LifecycleSettings(holiday_country="XX")
    with pytest.raises(ValueError, match="does not have subdivision ZZ"):
        LifecycleSettings(holiday_country="US", holiday_subdivision="ZZ")
    with pytest.raises(ValueError, match="holiday_subdivision needs holiday_country"):
        LifecycleSettings(holiday_subdivision="NY")


# -- the statuses the procedure names, and their rules ---------------------------------------


def test_a_customer_answer_sets_feedback_received(hub, psa, clock):
    r = rules(hub, psa, clock)
    psa.put("500", "In Progress", customer=MON - timedelta(days=30))  # an old answer: history, not news
    psa.put("501", WAITING)
    psa.put("502", AUTO)
    psa.put("503", "New")
    assert r.run() == []
    clock.advance(3600)
    for ticket, status in (("500", "In Progress"), ("501", WAITING), ("502", AUTO), ("503", "New")):
        psa.put(ticket, status, customer=clock.now())
    changes = {c.ticket_id: (c.rule, c.before, c.after) for c in r.run()}
    assert changes == {
        "500": (FEEDBACK, "In Progress", "Feedback Received"),
        "501": (FEEDBACK, WAITING, "Feedback Received"),
        "502": (FEEDBACK, AUTO, "Feedback Received"),  # not auto-completed: a person decides
    }  # a New ticket stays New: it is in the inbox already
    clock.advance(30 * 86400)
    assert r.run() == [] and len(psa.updates) == 3


def test_waiting_vendor_becomes_vendor_no_response_after_8_business_days(hub, psa, clock):
    r = rules(hub, psa, clock)
    psa.put("600", "Waiting Vendor")
    r.run()
    at(clock, datetime(2026, 1, 16, 9, 59, tzinfo=UTC))
    assert r.run() == []
    clock.advance(60)
    assert [(c.rule, c.after) for c in r.run()] == [(VENDOR_NO_RESPONSE, "Vendor No Response")]


def test_an_assigned_new_ticket_becomes_assigned(hub, psa, clock):
    r = rules(hub, psa, clock)
    psa.put("700", "New", assigned=True)
    psa.put("701", "New")
    psa.put("702", "In Progress", assigned=True)
    assert [(c.ticket_id, c.rule, c.after) for c in r.run()] == [("700", ASSIGNED, "Assigned")]
    assert r.run() == []


def test_rules_are_off_where_their_status_is_none(hub, psa, clock):
    r = rules(hub, psa, clock, assigned=None, vendor_no_response=None, feedback_received=None)
    psa.put("700", "New", assigned=True)
    psa.put("600", "Waiting Vendor")
    r.run()
    at(clock, datetime(2026, 3, 1, tzinfo=UTC))
    psa.put("702", "In Progress", customer=clock.now())
    assert r.run() == [] and psa.updates == []


def test_public_holidays_of_a_country_and_region_are_not_business_days(hub, psa, clock):
    # Monday 12 January + 5 business days in New York: Martin Luther King Jr. Day (Mon 19) skipped
    at(clock, datetime(2026, 1, 12, 15, 0, tzinfo=UTC))
    r = rules(hub, psa, clock, holidays=[], holiday_country="US", holiday_subdivision="NY",
              timezone="America/New_York", no_response_business_days=5, feedback_received=None)  # fmt: skip
    psa.put("800", WAITING)
    r.run()
    at(clock, datetime(2026, 1, 19, 15, 0, tzinfo=UTC))
    assert r.run() == []
    at(clock, datetime(2026, 1, 20, 15, 0, tzinfo=UTC))
    assert [c.rule for c in r.run()] == [NO_RESPONSE]


def test_business_days_use_the_msps_zone_unless_the_rules_name_one(hub, psa, clock):
    # Friday 9 January 23:30 in New York is Saturday in UTC: 1 business day later is Monday 23:30 New York
    at(clock, datetime(2026, 1, 10, 4, 30, tzinfo=UTC))
    r = LifecycleRules(psa, hub.store, LifecycleSettings(no_response_business_days=1, feedback_received=None), clock,
                       zone="America/New_York")  # fmt: skip
    psa.put("900", WAITING)
    r.run()
    at(clock, datetime(2026, 1, 13, 4, 29, tzinfo=UTC))
    assert r.run() == []
    clock.advance(60)
    assert [c.rule for c in r.run()] == [NO_RESPONSE]


def test_a_dry_run_changes_and_records_nothing(hub, psa, clock):
    dry = rules(hub, psa, clock, dry_run=True)
    psa.put("700", "New", assigned=True)
    psa.put("100", WAITING)
    assert [(c.ticket_id, c.rule) for c in dry.run()] == [("700", ASSIGNED)]
    assert psa.updates == [] and hub.store.audit_rows() == [] and dry._watched() == []
    at(clock, datetime(2026, 1, 20, tzinfo=UTC))
    assert sorted(c.rule for c in dry.run()) == [ASSIGNED, NO_RESPONSE]  # counted from the last change
    assert psa.updates == []


def test_a_ticket_event_rechecks_that_ticket_at_once(hub, psa, clock):
    from hub.connector import Event
    from hub.events.runtime import Runtime

    r = rules(hub, psa, clock)
    runtime = Runtime(hub, workflow=None, sync=None, lifecycle=r)
    psa.put("300", COMPLETE, completed=MON - timedelta(days=1), customer=MON)
    event = Event("autotask", "ticketnote.create", "n:1", "TicketNote", "77", correlation={"ticket_id": "300"})
    runtime.events.record("autotask", [event], b"{}")
    assert runtime.processor.drain().processed == 1
    assert psa.updates == [("300", REOPENED)]
