"""``rmm-alerts``: RMM alerts -> PSA tickets, exactly one ticket per problem.

Every run polls the RMM's active issues completely, then for each problem (the
alert's ``dedup_key``: device, service and condition, never text or timestamps):

* a new problem opens one ticket in the configured queue, priority from severity, the
  device as configuration item and the customer as company (both through the
  crosswalk that ``rmm-devices`` keeps), external key = the dedup key;
* a problem still active changes nothing (an escalation adds a note, and raises the
  priority of a ticket nobody has worked yet);
* a problem that returns reopens the same ticket with a note when a person completed it
  (the co-managed procedure: a note the RMM adds to a completed ticket sets "Ticket
  Reopened"), at any time; within the reopen window it also reopens a ticket the hub had
  auto-resolved and nobody touched, and adds a note to one a person is still working;
  after the window only a ticket the hub itself auto-resolved gives way to a new one;
* a problem missing from a complete poll has cleared: its ticket moves to the
  auto-resolved status unless a person already worked it (status no longer the one the
  hub set, or someone assigned), in which case only a note is added.

Crash safety: the key is committed as ``creating`` before the ticket is created; a run
that finds a ``creating`` key first looks the ticket up by its external key (skipping
tickets of earlier occurrences) and adopts it, so a kill between the create and the
commit never opens a second ticket. Every ticket write is audited; a write the PSA
refuses is dead-lettered (kind ``alert``, id the dedup key) and retried by the next poll.
Noise rules (:mod:`hub.sync.alert_rules`) only keep tickets from being opened or
reopened.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.connector import Connector, Stream, WriteResult
from hub.errors import ConfigError, NotFoundError, RecordRejected
from hub.logging import get_logger
from hub.mapping import BoundMapping, UnresolvedRef
from hub.models import Alert, AlertSeverity, AlertState, ExternalRef, Note, Ticket
from hub.sync.alert_rules import NoiseRules
from hub.sync.alert_state import CLEARED, CREATING, OPEN, AlertTicket, AlertTickets
from hub.sync.engine import PlanEntry, SyncRun
from hub.sync.jobs import Roles, SyncJob
from hub.writes import Outcome, PlannedWrite, WriteOutcome, Writer, write_key

if TYPE_CHECKING:
    from hub.settings import RmmAlertSettings

__all__ = ["RMM_ALERTS", "AlertTicketStep", "rmm_alerts_job"]

RMM_ALERTS = "rmm-alerts"
log = get_logger("hub.sync.alerts")


@dataclass(frozen=True)
class AlertTicketStep:
    """Poll ``rmm``'s ``stream`` of alerts; open and follow tickets in ``psa``.

    ``customers_stream`` gives customer names for noise rules that name customers. Each
    name left empty is the role's (:meth:`bind`): the connectors filling the RMM and PSA
    roles, the RMM's alerts and customers, the PSA's tickets and ticket notes.
    """

    rmm: str = ""
    stream: str = ""
    customers_stream: str = ""
    psa: str = ""
    tickets: str = ""
    notes: str = ""

    def bind(self, roles: Roles) -> AlertTicketStep:
        rmm = self.rmm or roles.connector("rmm")
        psa = self.psa or roles.connector("psa")
        return replace(
            self,
            rmm=rmm,
            stream=self.stream or roles.stream("rmm", "alerts", rmm),
            customers_stream=self.customers_stream or roles.stream("rmm", "customers", rmm),
            psa=psa,
            tickets=self.tickets or roles.entity("psa", "tickets", psa),
            notes=self.notes or roles.entity("psa", "ticket_notes", psa),
        )

    @property
    def label(self) -> str:
        return f"{self.rmm}.{self.stream} -> {self.psa}.{self.tickets}"

    @property
    def sources(self) -> list[tuple[str, str]]:
        return [(self.rmm, self.stream)]

    @property
    def connectors(self) -> list[str]:
        return [self.rmm, self.psa]

    def run(self, run: SyncRun) -> None:
        AlertSync(run, self).poll()


def rmm_alerts_job() -> SyncJob:
    """The job over the RMM and PSA roles."""
    return SyncJob(RMM_ALERTS, "RMM alerts -> PSA tickets, one per problem; cleared alerts set Auto-Resolved",
                   [AlertTicketStep()])  # fmt: skip


@dataclass
class _TicketView:
    """What the hub needs to know of a ticket before touching it."""

    status: str | None
    assigned: bool


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


class AlertSync:
    """One poll of one :class:`AlertTicketStep`."""

    def __init__(self, run: SyncRun, step: AlertTicketStep) -> None:
        self.run = run
        self.step = step
        self.hub = run.hub
        self.store = run.hub.store
        self.job = run.job.name
        self.settings: RmmAlertSettings = self.hub.settings.rmm_alerts
        self.source: Connector = self.hub.connector(step.rmm)
        self.stream: Stream = self.source.stream(step.stream)
        self.amap: BoundMapping = self.hub.mapping(step.rmm).entity(self.stream.mapping_entity)
        self.target: Connector = self.hub.connector(step.psa)
        psa_mapping = self.hub.mapping(step.psa)
        self.tmap: BoundMapping = psa_mapping.entity(step.tickets)
        self.nmap: BoundMapping = psa_mapping.entity(step.notes)
        self.rows = AlertTickets(self.store, self.job)
        self.writer = Writer(self.hub, self.job)
        self.now: datetime = self.hub.clock.now()
        self.rules = NoiseRules(self.settings, self._customer_name)
        self._customers: dict[str, str] | None = None
        self.complete = True

    # -- the poll -----------------------------------------------------------------------

    def poll(self) -> None:
        alerts = self._poll()
        for key, alert in alerts.items():
            self._present(key, alert)
        if not self.complete:
            log.warning("alerts.incomplete_poll", job=self.job, detail="an alert could not be read; nothing cleared")
            return
        for row in list(self.rows.with_state(OPEN, CREATING)):
            if row.dedup_key not in alerts:
                self._gone(row)

    def _poll(self) -> dict[str, Alert]:
        """Every active alert, by problem (the most severe notification of each)."""
        alerts: dict[str, Alert] = {}
        read = 0
        for page in self.stream.read():
            for raw in page.records:
                read += 1
                self.run.count("read")
                alert_id = self.stream.record_id(raw)
                try:
                    core = self.amap.to_core(raw, self.source)
                except RecordRejected as exc:
                    self.complete = False
                    self._fail(f"{self.step.rmm}:{alert_id}", raw, "read", str(exc))
                    continue
                core = self.hub.plugins.transform_record(self.job, self.step.rmm, core)
                assert isinstance(core, Alert)
                if core.state is AlertState.cleared:
                    continue
                known = alerts.get(core.dedup_key)
                if known is None or core.severity.rank > known.severity.rank:
                    alerts[core.dedup_key] = core
            self.run.tick(self.step.label, read)
        return alerts

    def _present(self, key: str, alert: Alert) -> None:
        row = self.rows.current(key)
        if row is None:
            self._open(key, alert)
        elif row.state == CREATING:
            self._recover(row, alert)
        elif row.state == OPEN:
            self._still_open(row, alert)
        elif row.cleared_at is not None and (
            self.now - row.cleared_at <= self.settings.reopen_window or self._worked(row)
        ):
            self._returned(row, alert)
        else:
            self._open(key, alert)

    def _gone(self, row: AlertTicket) -> None:
        if row.state == CREATING:
            self._recover(row, None)
        else:
            self._clear(row)

    # -- opening ------------------------------------------------------------------------

    def _open(self, key: str, alert: Alert, row_id: int | None = None) -> None:
        """A new problem (or a ``creating`` row with no ticket yet): one ticket."""
        name = alert.device_name or (alert.device.id if alert.device else None)
        reason = self.rules.suppressed(alert, self.now)
        if reason:
            self.run.count("skipped")
            self.run.record(PlanEntry("skip", self.step.psa, self.step.tickets, key, None, name, reason=reason))
            if row_id is not None:
                with self.run.transaction() as conn:
                    self.rows.drop(conn, row_id)
            return
        try:
            ticket, payload = self._new_ticket(key, alert)
        except RecordRejected as exc:
            self._fail(key, alert, "create", str(exc))
            return
        if self.run.dry_run:
            self.run.count("created")
            self.run.record(PlanEntry("create", self.step.psa, self.step.tickets, key, None, ticket.title,
                                      after=payload))  # fmt: skip
            return
        if row_id is None:
            row_id = self.rows.begin(key, alert.ref_id(self.step.rmm), alert.severity.value, self.now)
        # the problem's key is the ticket's external key: a create whose answer was lost is found by it
        write = PlannedWrite(self.step.psa, self.step.tickets, "create", payload, ticket,
                             key=write_key(self.job, key, row_id), find=lambda _w: self._found(key))  # fmt: skip
        outcome = self._write(write, key, alert, "create")
        if outcome.outcome is Outcome.unknown:
            return  # the row stays ``creating``: the next poll looks the ticket up by its key first
        if not outcome.ok:
            with self.run.transaction() as conn:
                self.rows.drop(conn, row_id)
            return
        result = outcome.result
        assert result is not None
        with self.run.transaction() as conn:
            self.rows.set(conn, row_id, self.now, state=OPEN, ticket_id=result.id, hub_status=self.settings.new_status)
            self._audit(conn, self.step.tickets, "create", result.id, None, payload)
            self.store.resolve_dead_letter(conn, self.job, self.step.psa, Alert.kind, key)
        self.run.count("created")

    def _new_ticket(self, key: str, alert: Alert) -> tuple[Ticket, dict[str, Any]]:
        s = self.settings
        device = alert.device_name or (alert.device.id if alert.device else "unknown device")
        condition = "" if alert.condition.casefold() == "default" else f" ({alert.condition})"
        title = f"{device}: {alert.service}{condition} - {alert.severity.value}"[:255]
        when = alert.triggered_at.astimezone(self.hub.settings.zone) if alert.triggered_at else None
        since = f" since {when:%Y-%m-%d %H:%M} ({self.hub.settings.timezone})" if when else ""
        description = (
            f"{self.step.rmm} reports {alert.service}{condition} on {device} as {alert.severity.value}{since}.\n"
            f"{alert.message or ''}\nThe hub follows this ticket by its external key {key}: it is set to "
            f"{s.auto_resolved_status!r} when the alert clears, unless someone has worked it."
        ).replace("\n\n", "\n")
        linked_device = alert.device if alert.device and self._counterpart(alert.device) else None
        ticket = Ticket(
            organization=alert.organization, configuration_item=linked_device, title=title,
            description=description, status=s.new_status, priority=s.priorities[alert.severity.value],
            queue=s.queue, ticket_type=s.ticket_type, source=s.source, external_key=key,
        )  # fmt: skip
        fields = ["organization", "configuration_item", "title", "description", "status", "priority", "queue",
                  "external_key"] + [f for f in ("ticket_type", "source") if getattr(ticket, f)]  # fmt: skip
        try:
            payload = self.tmap.to_vendor(ticket, self.target, fields=fields, resolve_ref=self._counterpart,
                                          create=True)  # fmt: skip
        except UnresolvedRef as exc:
            raise RecordRejected(
                f"{exc}: link the {self.step.rmm} customer to a {self.step.psa} company (hub sync rmm-devices)"
            ) from None
        except ConfigError as exc:  # a label of HUB_RMM_ALERTS__* this PSA does not have
            raise ConfigError(f"{exc} (named by the HUB_RMM_ALERTS__* settings; hub check {self.step.psa} lists "
                              "what is missing)") from None  # fmt: skip
        return ticket, payload

    def _counterpart(self, ref: ExternalRef) -> str | None:
        return self.store.counterpart(ref.kind, ref.system, ref.id, self.step.psa)

    # -- crash recovery -----------------------------------------------------------------

    def _recover(self, row: AlertTicket, alert: Alert | None) -> None:
        """A ``creating`` row: adopt the ticket a crashed run created, or create it now."""
        found = self._lookup(row.dedup_key)
        if found is None:
            if alert is not None:
                self._open(row.dedup_key, alert, row_id=row.id)
            elif not self.run.dry_run:
                with self.run.transaction() as conn:
                    self.rows.drop(conn, row.id)
            return
        log.info("alerts.recovered", job=self.job, key=row.dedup_key, ticket=found)
        if self.run.dry_run:
            self.run.record(PlanEntry("adopt", self.step.psa, self.step.tickets, row.dedup_key, found,
                                      reason="created by an interrupted run"))  # fmt: skip
            return
        with self.run.transaction() as conn:
            self.rows.set(conn, row.id, self.now, state=OPEN, ticket_id=found, hub_status=self.settings.new_status)
            self._audit(conn, self.step.tickets, "create", found, None, {"recovered": "created by an interrupted run"})
            self.store.resolve_dead_letter(conn, self.job, self.step.psa, Alert.kind, row.dedup_key)
        self.run.count("created")
        if alert is None:
            adopted = self.rows.current(row.dedup_key)
            assert adopted is not None
            self._clear(adopted)

    def _lookup(self, key: str) -> str | None:
        """The ticket with external key ``key`` that no earlier occurrence of it had."""
        external = self.tmap.spec.fields["external_key"].vendor
        assert isinstance(external, str)
        known = self.rows.known_tickets(key)
        found = sorted(
            (str(r[self.tmap.spec.id_field]) for r in self.target.find(self.step.tickets, {external: key})),
            key=lambda i: (len(i), i),
        )
        fresh = [i for i in found if i not in known]
        if len(fresh) > 1:
            self.run.report(f"{self.step.psa} tickets {', '.join(fresh)} all carry external key {key}; "
                            f"the hub follows {fresh[0]}, close the others")  # fmt: skip
        return fresh[0] if fresh else None

    # -- following an open ticket -------------------------------------------------------

    def _still_open(self, row: AlertTicket, alert: Alert) -> None:
        if alert.severity.rank <= AlertSeverity(row.severity).rank:
            self.run.count("unchanged")
            return
        assert row.ticket_id is not None
        note = f"{self.step.rmm} now reports this problem as {alert.severity.value} (was {row.severity})."
        view = self._view(row)
        if self.run.dry_run:
            self.run.count("updated")
            self.run.record(PlanEntry("update", self.step.psa, self.step.tickets, row.dedup_key, row.ticket_id,
                                      reason=note))  # fmt: skip
            return
        changes: dict[str, Any] = {}
        if view is not None and self._unworked(view, row):
            changes = self._status_payload(priority=self.settings.priorities[alert.severity.value])
        if not self._apply(row, alert, "escalate", changes, note):
            return
        with self.run.transaction() as conn:
            self.rows.set(conn, row.id, self.now, severity=alert.severity.value)
        self.run.count("updated")

    def _worked(self, row: AlertTicket) -> bool:
        """Whether a person worked the row's ticket (it still exists and is not as the hub left it)."""
        view = self._view(row) if row.ticket_id is not None else None
        return view is not None and not self._unworked(view, row, also=self.settings.auto_resolved_status)

    def _returned(self, row: AlertTicket, alert: Alert) -> None:
        """The problem is back: the same ticket, reopened (nobody worked it, or a person completed
        it) or noted (a person is working it)."""
        reason = self.rules.suppressed(alert, self.now)
        if reason:
            self.run.count("skipped")
            self.run.record(PlanEntry("skip", self.step.psa, self.step.tickets, row.dedup_key, row.ticket_id,
                                      reason=reason))  # fmt: skip
            return
        view = self._view(row)
        if view is None:  # the ticket was deleted: the problem gets a new one
            self._open(row.dedup_key, alert)
            return
        completed = _same(view.status, self.settings.complete_status)
        reopen = completed or self._unworked(view, row, also=self.settings.reopened_status)
        note = f"{self.step.rmm} reports this problem again ({alert.severity.value})."
        if completed:
            note += f" The ticket was completed: set to {self.settings.reopened_status!r}."
        if self.run.dry_run:
            self.run.count("updated")
            self.run.record(PlanEntry("reopen" if reopen else "note", self.step.psa, self.step.tickets,
                                      row.dedup_key, row.ticket_id, reason=note))  # fmt: skip
            return
        changes = {}
        if reopen and not _same(view.status, self.settings.reopened_status):
            changes = self._status_payload(status=self.settings.reopened_status)
        if not self._apply(row, alert, "reopen", changes, note):
            return
        values: dict[str, Any] = {"state": OPEN, "cleared_at": None, "severity": alert.severity.value}
        if reopen:
            values["hub_status"] = self.settings.reopened_status
        with self.run.transaction() as conn:
            self.rows.set(conn, row.id, self.now, **values)
        self.run.count("updated")

    def _clear(self, row: AlertTicket) -> None:
        """The problem left a complete poll: auto-resolve its ticket, or note it if a person worked it."""
        view = self._view(row)
        if view is None:
            if not self.run.dry_run:
                with self.run.transaction() as conn:
                    self.rows.set(conn, row.id, self.now, state=CLEARED, cleared_at=self.now)
            self.run.count("unchanged")
            return
        resolve = self._unworked(view, row, also=self.settings.auto_resolved_status)
        if resolve:
            note = f"{self.step.rmm} no longer reports this problem: set to {self.settings.auto_resolved_status!r}."
        else:
            note = f"{self.step.rmm} no longer reports this problem; the ticket is left as it is, someone worked it."
        if self.run.dry_run:
            self.run.count("updated")
            self.run.record(PlanEntry("auto-resolve" if resolve else "note", self.step.psa, self.step.tickets,
                                      row.dedup_key, row.ticket_id, reason=note))  # fmt: skip
            return
        changes = {}
        if resolve and not _same(view.status, self.settings.auto_resolved_status):
            changes = self._status_payload(status=self.settings.auto_resolved_status)
        if not self._apply(row, None, "auto_resolve", changes, note):
            return
        values: dict[str, Any] = {"state": CLEARED, "cleared_at": self.now}
        if resolve:
            values["hub_status"] = self.settings.auto_resolved_status
        with self.run.transaction() as conn:
            self.rows.set(conn, row.id, self.now, **values)
        self.run.count("updated")

    # -- ticket reads and writes --------------------------------------------------------

    def _view(self, row: AlertTicket) -> _TicketView | None:
        assert row.ticket_id is not None
        try:
            raw = self.target.get(self.step.tickets, row.ticket_id)
        except NotFoundError:
            return None
        ticket = self.tmap.to_core(raw, self.target)
        assert isinstance(ticket, Ticket)
        return _TicketView(ticket.status, ticket.assigned_to is not None)

    def _unworked(self, view: _TicketView, row: AlertTicket, also: str | None = None) -> bool:
        """Nobody assigned and still the status the hub set (or ``also``: the one it is about to
        set, which a crashed run may have set before it could record it)."""
        return not view.assigned and (_same(view.status, row.hub_status) or _same(view.status, also))

    def _status_payload(self, **labels: str) -> dict[str, Any]:
        """The vendor payload setting ticket picklists by label (``status=...``, ``priority=...``)."""
        change = Ticket.model_construct(**labels)  # type: ignore[arg-type]
        return self.tmap.to_vendor(change, self.target, fields=list(labels))

    def _apply(self, row: AlertTicket, alert: Alert | None, operation: str, changes: dict[str, Any],
               note: str) -> bool:  # fmt: skip
        """Update the ticket (if ``changes``) and add ``note``, audited; False if the PSA refused."""
        assert row.ticket_id is not None
        ticket_ref = ExternalRef(system=self.step.psa, kind=Ticket.kind, id=row.ticket_id)
        core = Ticket.model_construct(refs=[ticket_ref], external_key=row.dedup_key)
        record: Any = alert if alert is not None else {"dedup_key": row.dedup_key, "ticket": row.ticket_id}
        if changes:
            update = PlannedWrite(self.step.psa, self.step.tickets, "update", changes, core, target_id=row.ticket_id)
            if not self._write(update, row.dedup_key, record, operation).ok:
                return False
        publish = self.settings.note_publish  # none: the mapping's constant, if it has one
        note_core = Note(ticket=ticket_ref, title="RMM alert", body=note, publish=publish)
        fields = ["ticket", "title", "body"] + (["publish"] if publish else [])
        note_payload = self.nmap.to_vendor(note_core, self.target, fields=fields, create=True)
        note_write = PlannedWrite(self.step.psa, self.step.notes, "create", note_payload, note_core,
                                  key=write_key(self.job, row.dedup_key, operation, self.run.run_id))  # fmt: skip
        written = self._write(note_write, row.dedup_key, record, operation).result
        if written is None:
            return False
        with self.run.transaction() as conn:
            if changes:
                self._audit(conn, self.step.tickets, "update", row.ticket_id, None, changes)
            self._audit(conn, self.step.notes, "create", written.id, None, note_payload)
            self.store.resolve_dead_letter(conn, self.job, self.step.psa, Alert.kind, row.dedup_key)
        return True

    def _write(self, write: PlannedWrite, key: str, record: Any, operation: str) -> WriteOutcome:
        """One PSA write through the one write path; a refusal, a veto or an unknown outcome is
        dead-lettered under the problem's key."""
        self.run.ensure_lease()
        outcome = self.writer.send(write)
        if not outcome.ok:
            self._fail(key, record, operation, outcome.reason or "refused")
        return outcome

    def _found(self, key: str) -> WriteResult | None:
        """The ticket a create whose answer was lost made, by its external key."""
        ticket_id = self._lookup(key)
        return WriteResult(ticket_id) if ticket_id is not None else None

    def _audit(self, conn: Any, entity: str, operation: str, record_id: str, before: Any, after: Any) -> None:
        self.store.audit(conn, actor=f"sync:{self.job}", system=self.step.psa, entity=entity, operation=operation,
                         record_id=record_id, before=before, after=after, run_id=self.run.run_id)  # fmt: skip

    def _fail(self, key: str, record: Any, operation: str, reason: str) -> None:
        self.run.count("failed")
        self.run.record(PlanEntry("failed", self.step.psa, self.step.tickets, key, None, reason=reason))
        log.warning("sync.record_failed", job=self.job, key=key, operation=operation, reason=reason)
        if not self.run.dry_run:
            payload = record.model_dump(mode="json") if isinstance(record, Alert) else record
            self._dead_letter(key, operation, payload, reason)

    def _dead_letter(self, key: str, operation: str, record: Any, reason: str) -> None:
        with self.run.transaction() as conn:
            self.store.dead_letter(conn, job=self.job, system=self.step.psa, kind=Alert.kind, record_id=key,
                                   operation=operation, record=record, error=reason)  # fmt: skip

    # -- noise-rule support -------------------------------------------------------------

    def _customer_name(self, customer_id: str) -> str | None:
        if self._customers is None:
            stream = self.source.stream(self.step.customers_stream)
            bound = self.hub.mapping(self.step.rmm).entity(stream.mapping_entity)
            self._customers = {}
            for page in stream.read():
                for raw in page.records:
                    org = bound.to_core(raw, self.source)
                    self._customers[stream.record_id(raw)] = getattr(org, "name", "")
        return self._customers.get(customer_id)
