"""The one write path: every create, update and deactivation the hub sends to a vendor.

Sync jobs, their custom steps (recipients, alerts) and workflow ``write`` steps plan a
:class:`PlannedWrite` and hand it to :meth:`Writer.send`, which

1. asks the plugins whether it may go out (``hub_before_write``: a veto, or an enriched
   payload), for writes of a core record;
2. sends it through the connector, with its idempotency key;
3. resolves an unknown outcome (below) instead of ever sending a create twice;
4. sorts a refusal into the record's problem (``refused``: the caller dead-letters the
   record and goes on) or the run's (raised: transient failures, rate limits, bad
   credentials, configuration);
5. tells the plugins what the vendor accepted (``hub_after_write``).

**The outcome-unknown rule.** The HTTP layer repeats a request only when the vendor
applies it by value (GET, PUT, PATCH, DELETE), provably never got it (no connection),
refused it unapplied (429), or dedups it itself (QuickBooks' ``requestid``). A create
whose answer was lost (a timeout after sending, a dropped connection, a 5xx) raises
:class:`~hub.errors.OutcomeUnknown` instead, and :func:`send_once` resolves it: wait
``settle`` seconds (as long as the request's own timeout, so a slow vendor can finish),
then look for the record: with the caller's own lookup, or the connector's
(:meth:`~hub.connector.Connector.find_created`: a natural key within a recent creation
window, a marker the hub wrote, the vendor's idempotency mechanism). Found: that is the
record the create made. Not found: the vendor does not hold it, so it is sent once more
(same key). Still unknown after that, or no way to look: the outcome stays
``unknown`` and the caller keeps it visible: a sync dead-letters the record as
``outcome-unknown`` and resolves it at the start of its next run (look first, send only
if it is provably absent); a workflow step stops and asks a person.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from hub.clock import Clock
from hub.connector import Connector, WriteResult
from hub.errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    HttpError,
    NotFoundError,
    OutcomeUnknown,
    PermissionDeniedError,
    RateLimitedError,
    RecordRejected,
    TransientError,
    VendorError,
)
from hub.logging import get_logger
from hub.models import Record

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = [
    "FATAL",
    "RECORD_ERRORS",
    "Outcome",
    "PlannedWrite",
    "WriteOp",
    "WriteOutcome",
    "Writer",
    "contains",
    "send_once",
    "write_key",
]

log = get_logger("hub.writes")

WriteOp = Literal["create", "update", "deactivate"]

#: errors that stop the whole run (the next run resumes); an unknown outcome is not one of
#: them here: the write path resolves it or hands it back as ``unknown``
FATAL = (TransientError, RateLimitedError, AuthenticationError, PermissionDeniedError, ConfigError)
#: errors that are one record's problem: it is dead-lettered with the reason
RECORD_ERRORS = (RecordRejected, VendorError, NotFoundError, ConflictError, HttpError)

#: how far before a write was first sent a lookup for it starts (clock skew between the
#: hub and the vendor, and the vendor's own stamping)
LOOKUP_MARGIN = timedelta(minutes=10)

T = TypeVar("T")


class Outcome(StrEnum):
    written = "written"
    #: an earlier attempt (whose answer was lost) made it; found, not sent again
    recovered = "recovered"
    vetoed = "vetoed"
    refused = "refused"
    #: may or may not be applied, and the vendor cannot tell us which yet
    unknown = "unknown"


@dataclass
class PlannedWrite:
    """One write to one vendor record, as planned by a sync or a workflow step.

    ``key`` is the write's idempotency key: the same logical write has the same key in
    every attempt and every run (see :func:`write_key`), so a vendor that dedups by key
    (QuickBooks' ``requestid``) or a marker the connector writes can recognise it.
    ``since`` is when it was first sent (lookups start a margin before it). ``find``
    is the caller's own lookup for the record a lost create made, where it knows a
    better one than the connector's natural keys (a ticket's external key).
    """

    system: str
    entity: str
    op: WriteOp
    payload: dict[str, Any] = field(default_factory=dict)
    record: Record | None = None
    target_id: str | None = None
    key: str | None = None
    since: datetime | None = None
    find: Callable[[PlannedWrite], WriteResult | None] | None = None

    def describe(self) -> str:
        target = f" {self.target_id}" if self.target_id else ""
        return f"{self.op} of {self.system} {self.entity}{target}"


@dataclass
class WriteOutcome:
    """What became of a :class:`PlannedWrite`."""

    write: PlannedWrite
    outcome: Outcome
    result: WriteResult | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the vendor holds the write (sent now, or found from a lost attempt)."""
        return self.outcome in (Outcome.written, Outcome.recovered)

    @property
    def id(self) -> str | None:
        return self.result.id if self.result is not None else self.write.target_id


def write_key(*parts: Any, payload: Mapping[str, Any] | None = None) -> str:
    """A stable idempotency key from what identifies a write (job, target, source id, ...).

    With ``payload`` the key also changes when the content does: a create sent again
    with other content is another write.
    """
    text = json.dumps([*map(str, parts), payload], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def send_once(send: Callable[[], T], find: Callable[[], T | None], clock: Clock) -> tuple[T, bool]:
    """Send a write whose repetition could apply it twice; ``(result, recovered)``.

    A lost answer (:class:`OutcomeUnknown`) is resolved by ``find`` after the error's
    ``settle`` time: found, that is the result (``recovered``); provably absent, it is
    sent once more; unknown again and still not found, the last error is raised. ``find``
    raises :class:`OutcomeUnknown` itself when it cannot tell.
    """
    try:
        return send(), False
    except OutcomeUnknown as lost:
        clock.sleep(lost.settle)
        found = find()
        if found is not None:
            return found, True
        log.info("write.resend", reason=str(lost))
    try:
        return send(), False
    except OutcomeUnknown as lost_again:
        clock.sleep(lost_again.settle)
        found = find()
        if found is not None:
            return found, True
        raise


def create_once(connector: Connector, entity: str, payload: dict[str, Any], *, key: str | None = None) -> WriteResult:
    """``connector.create`` for a connector's own workflow actions, under the same rule as
    every hub write: a create whose answer was lost is looked up (the connector's
    :meth:`~hub.connector.Connector.find_created`) before it is ever sent again."""
    since = connector.context.clock.now() - LOOKUP_MARGIN
    result, _ = send_once(
        lambda: connector.create(entity, payload, key=key),
        lambda: connector.find_created(entity, payload, since=since, key=key),
        connector.context.clock,
    )
    return result


class Writer:
    """Sends planned writes for one actor (a sync job's name, a workflow's actor); thread-safe."""

    def __init__(self, hub: Hub, job: str) -> None:
        self.hub = hub
        self.job = job

    def send(self, write: PlannedWrite) -> WriteOutcome:
        """Send one write; raises only the errors that stop a run (:data:`FATAL`)."""
        plugins = self.hub.plugins
        if write.record is not None:
            veto = plugins.before_write(self.job, write.system, write.entity, write.op, write.record, write.payload)
            if veto:
                return WriteOutcome(write, Outcome.vetoed, reason=f"vetoed by a plugin: {veto}")
        if write.since is None:
            write.since = self.hub.clock.now()
        connector = self.hub.connector(write.system)
        try:
            result, recovered = send_once(
                lambda: self._apply(connector, write), lambda: self.find(write), self.hub.clock
            )
        except OutcomeUnknown as exc:
            log.warning("write.outcome_unknown", job=self.job, write=write.describe(), reason=str(exc))
            return WriteOutcome(write, Outcome.unknown, reason=str(exc))
        except FATAL:
            raise
        except RECORD_ERRORS as exc:
            return WriteOutcome(write, Outcome.refused, reason=str(exc))
        if recovered:
            log.info("write.recovered", job=self.job, write=write.describe(), id=result.id)
        if write.record is not None:
            plugins.after_write(job=self.job, system=write.system, entity=write.entity,
                                operation=write.op, record=write.record, result_id=result.id)  # fmt: skip
        return WriteOutcome(write, Outcome.recovered if recovered else Outcome.written, result)

    def find(self, write: PlannedWrite) -> WriteResult | None:
        """The record a write whose answer was lost left in the vendor, or None if it left none.

        Raises :class:`OutcomeUnknown` when that cannot be told.
        """
        if write.find is not None:
            return write.find(write)
        connector = self.hub.connector(write.system)
        if write.op == "create":
            since = (write.since or self.hub.clock.now()) - LOOKUP_MARGIN
            return connector.find_created(write.entity, write.payload, since=since, key=write.key)
        assert write.target_id is not None
        if write.op == "deactivate":
            return None  # a deactivation applies by value: sending it again is harmless
        try:
            current = connector.get(write.entity, write.target_id)
        except ConfigError:
            raise OutcomeUnknown(
                f"{write.system} cannot read {write.entity} {write.target_id} back to tell whether the update "
                "was applied", connector=write.system
            ) from None
        return WriteResult(write.target_id, current) if contains(current, write.payload) else None

    @staticmethod
    def _apply(connector: Connector, write: PlannedWrite) -> WriteResult:
        if write.op == "create":
            return connector.create(write.entity, write.payload, key=write.key)
        assert write.target_id is not None
        if write.op == "update":
            return connector.update(write.entity, write.target_id, write.payload, key=write.key)
        return connector.deactivate(write.entity, write.target_id, key=write.key)


def contains(record: Any, want: Any) -> bool:
    """Whether ``record`` already holds every value of ``want`` (lists of named items by name)."""
    if isinstance(want, dict):
        return isinstance(record, dict) and all(contains(record.get(k), v) for k, v in want.items())
    if isinstance(want, list) and all(isinstance(i, dict) and "name" in i for i in want):
        if not isinstance(record, list):
            return False
        named = {str(i.get("name")): i for i in record if isinstance(i, dict)}
        return all(contains(named.get(str(i["name"])), i) for i in want)
    return same(record, want)


def same(found: Any, want: Any) -> bool:
    """Loose equality of a vendor value and a sent one (vendors echo numbers as text, pad strings)."""
    if found is None or want is None:
        return found is want
    return str(found).strip() == str(want).strip()
