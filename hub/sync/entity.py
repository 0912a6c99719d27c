"""The one-way entity copy: read changed records, map, match, plan, write, checkpoint.

For every page of the source stream:

1. each record is mapped to the core model (and through ``hub_transform_record``);
2. it is matched to its target record: the crosswalk first, then the target mapping's
   match rules against an index of the target built once per run when an unlinked
   record needs it (kept in the state store, so memory stays flat). Match rules only
   *adopt* a target record no other source record is linked to: a source record whose
   normalized key is taken (by a linked record, or by a create in flight) is a distinct
   record and gets its own target record, reported as a possible duplicate, never
   blocked. Several free candidates are told apart by the exact value (case and spacing
   aside); if that does not single one out, it is a conflict for a person;
3. it is planned: create, update (only if the hash of the mapped, owned fields differs
   from what the hub last wrote), unchanged, conflict (an ambiguous match), or a
   deactivation (decided now, applied at the end behind the mass-deactivation guard);
4. the writes are sent; a record whose write fails is dead-lettered and the run goes on;
5. crosswalk links, hashes, audit rows, dead letters and the new checkpoint are
   committed in one transaction.

A crash anywhere resumes from the last committed page. A target record created just
before a crash is found again by the match rules on the next run (never created twice),
which is why creating requires match rules.

Cursor: records are read with "changed at or after" the cursor; the ids already
processed at the cursor's exact timestamp are kept (bounded) and skipped, and the
cursor never passes the run's start time.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from hub.connector import Connector, Stream, parse_timestamp
from hub.errors import ConfigError, HttpError, OutcomeUnknown, RecordRejected
from hub.logging import get_logger
from hub.mapping import BoundMapping, UnresolvedRef, exact_key, get_path, match_key, set_path
from hub.models import ExternalRef, Record
from hub.state.store import CursorState, DeadLetter
from hub.sync.engine import MassDeactivation, PlanEntry, SyncRun
from hub.writes import Outcome, PlannedWrite, WriteOutcome, Writer, write_key

if TYPE_CHECKING:
    from hub.sync.jobs import EntityStep

log = get_logger("hub.sync")

#: the dead-letter operation of a write whose outcome stayed unknown (resolved next run)
UNKNOWN = "outcome-unknown"


@dataclass
class RecordPlan:
    """What one source record of a page becomes, from planning to commit.

    ``op`` moves from the plan (``None``: nothing to do, ``unchanged``, ``link``,
    ``deactivate``, ``pending``: a write to send, ``failed``) to the write's outcome
    (``create``, ``update``, ``failed``, ``unknown``).
    """

    source_id: str
    core: Record | None = None
    op: str | None = None
    target_id: str | None = None
    linked_by_match: bool = False
    #: hash and owned fields of what the hub writes (kept as the record's last-written state)
    hash: str | None = None
    payload: dict[str, Any] | None = None
    before: dict[str, Any] | None = None
    had_hash: bool = False
    #: the write to send, what the summary shows of it, and the match keys it holds meanwhile
    write: PlannedWrite | None = None
    entry: PlanEntry | None = None
    match_keys: list[tuple[int, str]] = field(default_factory=list)
    outcome: WriteOutcome | None = None
    reason: str | None = None

    @property
    def written(self) -> bool:
        return self.op in ("create", "update")


#: what one write worker hands back: the writes it answered (page index), and the fatal error
#: that stopped it, if any
_Drained = tuple[list[int], BaseException | None]


def payload_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _display_name(record: Record | None) -> str | None:
    for attr in ("name", "full_name", "title", "email"):  # a contact's title is its job title
        value = getattr(record, attr, None)
        if value:
            return str(value)
    return None


class EntitySync:
    """One run of one :class:`EntityStep`."""

    def __init__(self, run: SyncRun, step: EntityStep) -> None:
        self.run = run
        self.step = step
        self.hub = run.hub
        self.store = run.hub.store
        self.job = run.job.name
        self.source: Connector = self.hub.connector(step.source)
        self.target: Connector = self.hub.connector(step.target)
        self.stream: Stream = self.source.stream(step.stream)
        self.smap: BoundMapping = self.hub.mapping(step.source).entity(self.stream.mapping_entity)
        self.tmap: BoundMapping = self.hub.mapping(step.target).entity(step.entity)
        if self.smap.kind != self.tmap.kind:
            raise ConfigError(
                f"job {self.job}: {step.source} {self.stream.mapping_entity} maps to {self.smap.kind} but "
                f"{step.target} {step.entity} maps to {self.tmap.kind}"
            )
        self.kind = self.smap.kind
        #: the cursor's stream name: a part of a split job keeps its own (``Companies#2/3``)
        self.cursor_stream = step.stream + (run.part.suffix if run.part else "")
        self.fields = self._write_fields()
        self.writer = Writer(self.hub, self.job)
        self._indexed = False
        self.index_run = run.run_id
        #: per page: counterparts of referenced records, and target ids by (rule, match key)
        self._refs: dict[str, str | None] = {}
        #: per page: referenced records with no counterpart because they are dead-lettered here
        self._dead_refs: set[str] = set()
        self._keys: dict[tuple[int, str], list[str]] = {}
        #: per page: each unlinked record's (rule index, match key) pairs
        self._page_keys: dict[str, list[tuple[int, str]]] = {}
        self._new_keys: list[tuple[int, str, str]] = []
        #: match keys of creates planned but not yet confirmed by the target
        self._pending: set[tuple[int, str]] = set()
        #: target records a match gave a source record in this run (before the link is committed)
        self._claimed: dict[str, str] = {}
        caps = [lim.concurrent for lim in self.target.rate_limits if lim.concurrent]
        self.concurrency = max(1, min([run.hub.settings.sync_concurrency, *caps]))
        self._pool: ThreadPoolExecutor | None = None
        #: set by a fatal error: no worker starts another write in this run
        self._stop = threading.Event()
        #: only records dead-lettered before this run can be resolved by it (a record is
        #: read once per run), so a run that starts with none skips resolving per page
        self._resolvable = self.store.has_dead_letters(self.job, self.step.target, self.kind)

    # -- configuration ------------------------------------------------------------------

    def _write_fields(self) -> list[str]:
        """Target-writable fields the source owns and the target does not."""
        source_owned = set(self.smap.owned_fields())
        target_owned = set(self.tmap.spec.owned) - source_owned
        writable = [
            path
            for path, fm in self.tmap.spec.fields.items()
            if fm.direction != "read" and path != "active" and fm.ref != self.kind and path not in target_owned
        ]
        fields = [p for p in writable if p in source_owned or p.split(".", 1)[0] in source_owned]
        if self.step.fields is not None:
            fields = [p for p in fields if p in self.step.fields]
        return fields

    def _resolve(self, ref: ExternalRef) -> str | None:
        if ref.system == self.step.target:  # a target record's own reference (see _current)
            return ref.id
        key = str(ref)
        if key in self._refs:
            found = self._refs[key]
        else:
            found = self._refs[key] = self.store.counterpart(ref.kind, ref.system, ref.id, self.step.target)
        if found is None and self.run.dry_run and str(ref) in self.run.planned:
            return f"(new {ref.kind} {ref.system}:{ref.id})"  # created earlier in this dry run
        return found

    # -- matching -------------------------------------------------------------------------

    def _target_stream(self) -> Stream:
        for stream in self.target.streams():
            if stream.mapping_entity == self.step.entity:
                return stream
        raise ConfigError(
            f"job {self.job}: {self.step.target} has no stream for {self.step.entity}, so unlinked records "
            "cannot be matched"
        )

    def _build_index(self) -> None:
        """Read the target once and index its match keys (only when an unlinked record needs it)."""
        self._indexed = True
        rules = self.tmap.spec.match
        if not rules:
            return
        stream = self._target_stream()
        for page in stream.read():
            rows: list[tuple[int, str, str]] = []
            for raw in page.records:
                try:
                    core = self.tmap.to_core(raw, self.target)
                except RecordRejected:
                    continue
                target_id = stream.record_id(raw)
                rows.extend((i, key, target_id) for i, key in self._keys_of(core))
            self.store.index_keys(self.index_run, self.step.target, self.kind, rows)

    def _keys_of(self, core: Record) -> list[tuple[int, str]]:
        """(rule index, normalized key) of a record under the target mapping's match rules, and
        for each rule that normalizes, (``-1 - index``, exact value) to tell candidates apart."""
        out = []
        for i, rule in enumerate(self.tmap.spec.match):
            key = match_key(core, rule)
            if not key:
                continue
            out.append((i, str(key)))
            if rule.normalize != "exact" and (exact := exact_key(core, rule)):
                out.append((-1 - i, exact))
        return out

    def _match_keys(self, source_id: str, core: Record) -> list[tuple[int, str]]:
        """:meth:`_keys_of` a source record, computed once per page (see plan)."""
        keys = self._page_keys.get(source_id)
        return self._keys_of(core) if keys is None else keys

    def _index_new(self, keys: list[tuple[int, str]], target_id: str) -> None:
        rows = [(i, key, target_id) for i, key in keys]
        self._new_keys.extend(rows)  # written to the index once per page (see commit)
        for i, key, tid in rows:
            self._keys.setdefault((i, key), []).append(tid)

    def _candidates(self, rule: int, key: str) -> list[str]:
        found = self._keys.get((rule, key))
        if found is None:
            found = self.store.lookup_key(self.index_run, self.step.target, self.kind, rule, key)
        return found

    def _owner(self, target_id: str) -> str | None:
        """The source record a target record belongs to: claimed in this run, or linked."""
        if target_id in self._claimed:
            return self._claimed[target_id]
        hub_id = self.store.hub_id(self.kind, self.step.target, target_id)
        return self.store.refs(hub_id).get(self.step.source) if hub_id else None

    def _match(self, core: Record, source_id: str) -> tuple[str | None, str | None]:
        """(target id, conflict reason) by the target mapping's match rules.

        Rules are tried in order. A rule adopts the one target record with the key that no
        other source record owns; among several, the one with the same exact value. A key
        only other source records hold means a distinct record: no match, and (if the step
        creates) a possible duplicate is reported. Only candidates that cannot be told
        apart are a conflict.
        """
        rules = self.tmap.spec.match
        if not rules:
            return None, None
        if not self._indexed:
            self._build_index()
        pairs = self._match_keys(source_id, core)
        exact = {-1 - i: key for i, key in pairs if i < 0}
        taken: tuple[str, str, str] | None = None  # (rule key, normalized key, the record holding it)
        for i, key in pairs:
            if i < 0:
                continue
            rule = rules[i]
            candidates = self._candidates(i, key)
            free = [tid for tid in candidates if self._owner(tid) in (None, source_id)]
            if len(free) > 1 and i in exact:
                same = set(self._candidates(-1 - i, exact[i]))
                free = [tid for tid in free if tid in same] or free
            if len(free) == 1 and self.run.part is not None and not self.run.dry_run:
                if not self._claim_across_parts(source_id, free[0]):
                    free = []  # another part of the job adopted it first: a distinct record
            if len(free) == 1:
                self._claimed[free[0]] = source_id
                return free[0], None
            if len(free) > 1:
                return None, f"ambiguous match: {len(free)} {self.step.target} records share {rule.key} {key!r}"
            if taken is None and candidates:
                taken = (rule.key, key, f"{self.step.target} record {candidates[0]}")
            elif taken is None and (i, key) in self._pending:
                taken = (rule.key, key, f"a {self.step.target} record being created for another record")
        if taken is not None and self.step.create:
            what, key, holder = taken
            self.run.report(
                f"{self.step.source} {self.stream.name} {source_id} ({_display_name(core)}) gets its own "
                f"{self.step.target} {self.step.entity} record although {holder} has the same {what} ({key!r}): "
                "a possible duplicate, link or merge them if they are one"
            )
        return None, None

    def _claim_across_parts(self, source_id: str, target_id: str) -> bool:
        """A part of a split job adopts a target record by linking it at once, in its own
        transaction: the crosswalk's unique keys let one source record have it, so another
        part running at the same time can never adopt (and write over) the same record."""
        try:
            with self.run.transaction() as conn:
                self.store.link(conn, self.kind, {self.step.source: source_id, self.step.target: target_id})
        except IntegrityError:
            return False
        return self._owner(target_id) == source_id

    def _in_part(self, source_id: str, core: Record) -> bool:
        """Whether a record belongs to this run's part: by its organization's source id (an
        organization's own), so an organization and its contacts are in one part."""
        part = self.run.part
        if part is None:
            return True
        org = getattr(core, "organization", None)
        if self.kind != "organization" and isinstance(org, ExternalRef) and org.system == self.step.source:
            return part.owns(org.id)
        return part.owns(source_id)

    # -- one page -------------------------------------------------------------------------

    def plan(self, records: Iterable[dict[str, Any]], skip_ids: set[str]) -> list[RecordPlan]:
        """Map, match and plan one page; writes are left ``pending`` for :meth:`submit`.

        What the page needs from the state store (links, referenced records' counterparts,
        last-written hashes, match candidates) is fetched in a few queries up front.
        """
        results: list[RecordPlan] = []
        mapped: list[tuple[str, Record]] = []
        for raw in records:
            source_id = self.stream.record_id(raw)
            if source_id in skip_ids:
                continue
            try:
                core = self.smap.to_core(raw, self.source)
            except RecordRejected as exc:
                if self.run.part is None or self.run.part.owns(source_id):
                    self.run.count("read")
                    results.append(self._fail(RecordPlan(source_id), None, str(exc)))
                continue
            if not self._in_part(source_id, core):
                continue
            self.run.count("read")
            mapped.append((source_id, self.hub.plugins.transform_record(self.job, self.step.source, core)))
        links = self.store.counterparts(self.kind, self.step.source, [sid for sid, _ in mapped], self.step.target)
        self._prefetch_refs([core for _, core in mapped])
        self._prefetch_keys([(sid, core) for sid, core in mapped if sid not in links and getattr(core, "active", True)])
        hashes = self.store.hash_rows(self.job, self.step.target, self.kind, list(links.values()))
        for source_id, core in mapped:
            results.append(self._one(source_id, core, links.get(source_id), hashes))
        return results

    def _prefetch_refs(self, cores: list[Record]) -> None:
        self._refs, self._dead_refs = {}, set()
        wanted: dict[tuple[str, str], set[str]] = {}
        for core in cores:
            for path in self.fields:
                value = getattr(core, path.split(".", 1)[0], None)
                if isinstance(value, ExternalRef) and value.system != self.step.target:
                    wanted.setdefault((value.kind, value.system), set()).add(value.id)
        for (kind, system), ids in wanted.items():
            found = self.store.counterparts(kind, system, sorted(ids), self.step.target)
            for rid in ids:
                self._refs[str(ExternalRef(system=system, kind=kind, id=rid))] = found.get(rid)
            missing = sorted(ids - found.keys())
            for rid in self.store.dead_lettered(self.job, self.step.target, kind, missing):
                self._dead_refs.add(str(ExternalRef(system=system, kind=kind, id=rid)))

    def _prefetch_keys(self, unlinked: list[tuple[str, Record]]) -> None:
        self._keys, self._page_keys = {}, {}
        rules = self.tmap.spec.match
        if not unlinked or not rules:
            return
        if not self._indexed:
            self._build_index()
        wanted: dict[int, set[str]] = {}
        for source_id, core in unlinked:
            self._page_keys[source_id] = pairs = self._keys_of(core)
            for i, key in pairs:
                wanted.setdefault(i, set()).add(key)
        for i, keys in wanted.items():
            found = self.store.lookup_keys(self.index_run, self.step.target, self.kind, i, keys)
            for key in keys:
                self._keys[(i, key)] = found.get(key, [])

    def _one(
        self, source_id: str, core: Record, target_id: str | None, hashes: dict[str, dict[str, Any]]
    ) -> RecordPlan:
        plan = RecordPlan(source_id, core)
        name = _display_name(core)
        active = getattr(core, "active", True)
        if target_id is None:
            if not active:
                self.run.count("skipped")
                return plan
            target_id, conflict = self._match(core, source_id)
            if conflict:
                self.run.count("conflicts")
                self.run.record(PlanEntry("conflict", self.step.target, self.step.entity, source_id, None, name,
                                          reason=conflict))
                return plan
            if target_id is None and not self.step.create:
                return self._unmatched(plan, name)
            plan.linked_by_match = target_id is not None
        plan.target_id = target_id
        row = hashes.get(target_id) if target_id is not None else None
        if target_id is not None and not self.step.update:
            return self._link(plan, target_id, name)
        if target_id is not None and not active:
            if row is None or row["active"]:
                plan.op = "deactivate"
                if self.run.dry_run:
                    self.run.count("deactivated")
                self.run.record(PlanEntry("deactivate", self.step.target, self.step.entity, source_id, target_id,
                                          name, reason="inactive at the source"))
            return plan
        try:
            payload = self.tmap.to_vendor(core, self.target, fields=self.fields, resolve_ref=self._resolve)
        except UnresolvedRef as exc:
            if self._failed_here(exc.ref):
                return self._fail(plan, target_id, f"{exc} (it failed to sync: see hub deadletters)")
            # The referenced record is not synced on purpose (inactive, never created): neither is this one.
            self.run.count("skipped")
            self.run.record(PlanEntry("skip", self.step.target, self.step.entity, source_id, target_id, name,
                                      reason=str(exc)))
            return plan
        except (RecordRejected, ConfigError) as exc:
            # e.g. a value with no counterpart in the target's picklist: this record's problem
            return self._fail(plan, target_id, str(exc))
        plan.hash, plan.payload = payload_hash(payload), payload
        if target_id is not None:
            if row is not None and row["hash"] == plan.hash and row["active"]:
                plan.op = "unchanged"
                self.run.count("unchanged")
                return plan
            before = (row or {}).get("fields")
            if before is None and (self.run.dry_run or plan.linked_by_match):
                before = self._current(target_id)
            plan.before, plan.had_hash = before, row is not None
            if plan.linked_by_match and before == payload:
                # The target already holds exactly this (a record made by a run that died
                # before recording it, or one documented by hand): link it, write nothing.
                plan.op = "adopt"
                self.run.count("unchanged")
                self.run.record(PlanEntry("link", self.step.target, self.step.entity, source_id, target_id, name))
                return plan
            return self._write(plan, "update", name)
        return self._write(plan, "create", name)

    def _unmatched(self, plan: RecordPlan, name: str | None) -> RecordPlan:
        """A step that may not create: the record waits for a person to create or link it."""
        reason = f"no {self.step.target} {self.step.entity} record matches it; create or link it there"
        self.run.count("skipped")
        self.run.report(f"{self.step.source} {self.stream.name} {plan.source_id} ({name}): {reason}")
        self.run.record(PlanEntry("skip", self.step.target, self.step.entity, plan.source_id, None, name,
                                  reason=reason))
        return plan

    def _link(self, plan: RecordPlan, target_id: str, name: str | None) -> RecordPlan:
        """A step that may not update: remember the pair (new matches only), write nothing."""
        self.run.count("unchanged")
        if plan.linked_by_match:
            plan.op = "link"
            self.run.record(PlanEntry("link", self.step.target, self.step.entity, plan.source_id, target_id, name))
            if self.run.dry_run:
                self.run.planned.add(str(ExternalRef(system=self.step.source, kind=self.kind, id=plan.source_id)))
        return plan

    def _failed_here(self, ref: ExternalRef) -> bool:
        """Whether the referenced source record is dead-lettered by this job."""
        key = str(ref)
        if key in self._refs:  # prefetched with the page
            return key in self._dead_refs
        return bool(self.store.dead_lettered(self.job, self.step.target, ref.kind, [ref.id]))

    def _current(self, target_id: str) -> dict[str, Any] | None:
        """The target's current values of the written fields (dry runs only: costs a call)."""
        try:
            raw = self.target.get(self.step.entity, target_id)
            core = self.tmap.to_core(raw, self.target)
            return self.tmap.to_vendor(core, self.target, fields=self.fields, resolve_ref=self._resolve)
        except (HttpError, RecordRejected, ConfigError):
            return None

    def _write(self, plan: RecordPlan, op: str, name: str | None) -> RecordPlan:
        """Plan a create or update; the write itself is sent by :meth:`_send` (maybe in parallel)."""
        assert plan.payload is not None and plan.core is not None
        before, payload = plan.before, plan.payload
        changed = payload if before is None else {k: v for k, v in payload.items() if before.get(k) != v}
        plan.entry = PlanEntry(op, self.step.target, self.step.entity, plan.source_id, plan.target_id, name,
                               before={k: before.get(k) for k in changed} if before else None, after=changed)
        if self.run.dry_run:
            self.run.count("created" if op == "create" else "updated")
            self.run.record(plan.entry)
            if op == "create":
                self.run.planned.add(str(ExternalRef(system=self.step.source, kind=self.kind, id=plan.source_id)))
            plan.op = op
            return plan
        send = dict(payload)
        if op == "create":
            for path, value in self.tmap.constants(self.target).items():  # on creates only; mapped fields win
                if get_path(send, path) is None:
                    set_path(send, path, value)
            # a later record with the same match key must not create it again while this is in flight
            plan.match_keys = self._match_keys(plan.source_id, plan.core)
            self._pending.update(plan.match_keys)
        plan.op = "pending"
        plan.write = PlannedWrite(
            self.step.target, self.step.entity, "create" if op == "create" else "update", send, plan.core,
            target_id=plan.target_id,
            key=write_key(self.job, self.step.target, self.step.entity, op, self.step.source, plan.source_id,
                          payload=send),
        )  # fmt: skip
        return plan

    def _send(self, plan: RecordPlan) -> None:
        """Send one planned write (thread-safe: it touches no counter and no shared cache)."""
        assert plan.write is not None
        # ``plan`` is this write's own: no other thread touches it while it is in flight
        plan.outcome = outcome = self.writer.send(plan.write)
        if outcome.ok:
            plan.op, plan.target_id = plan.write.op, outcome.id
        else:
            plan.op = "unknown" if outcome.outcome is Outcome.unknown else "failed"
            plan.reason = outcome.reason

    def submit(self, results: list[RecordPlan]) -> list[Future[_Drained]]:
        """Start sending a page's planned writes in the background, so the next page is read
        and planned while these are in flight.

        ``self.concurrency`` workers drain the page's writes from one shared queue: a few
        futures per page rather than one per record, so the planning thread is woken a few
        times per page, not once per write (thread hand-offs cost the hub more CPU than
        the writes' own bookkeeping).
        """
        todo = [i for i, r in enumerate(results) if r.op == "pending"]
        if not todo:
            return []
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"sync-{self.step.target}")
        queue = iter(todo)
        lock = threading.Lock()
        stop = self._stop
        answered = self.run.answered

        def drain() -> _Drained:
            done: list[int] = []
            while not stop.is_set():
                with lock:
                    i = next(queue, None)
                if i is None:
                    break
                try:
                    self._send(results[i])
                    answered.value += 1  # for progress displays: one attribute add, no lock
                except BaseException as exc:  # fatal: the others take no new write
                    stop.set()
                    return done, exc
                done.append(i)
            return done, None

        return [self._pool.submit(drain) for _ in range(min(self.concurrency, len(todo)))]

    def collect(self, results: list[RecordPlan], sent: list[Future[_Drained]]) -> None:
        """Wait for a page's writes and account for them, in page order; a fatal error of any
        is raised here, once every worker has stopped and the writes made are counted."""
        answered: list[int] = []
        fatal: BaseException | None = None
        for future in sent:
            done, error = future.result()
            answered.extend(done)
            fatal = fatal or error
        for i in sorted(answered):
            plan = results[i]
            if plan.op != "unknown":  # an unknown create keeps its match keys for the rest of the run
                self._pending.difference_update(plan.match_keys)
            if plan.op in ("failed", "unknown"):
                self._fail(plan, plan.target_id, plan.reason or "refused")
                continue
            assert plan.entry is not None and plan.write is not None
            self.run.count("created" if plan.op == "create" else "updated")
            self.run.record(plan.entry)
            if plan.op == "create":
                assert plan.target_id is not None
                self._index_new(plan.match_keys, plan.target_id)
                if self.step.report_created:
                    self.run.report(
                        f"{self.step.target} {self.step.entity} {plan.target_id} ({_display_name(plan.core)}) "
                        f"created from {self.step.source} {self.stream.name} {plan.source_id}: "
                        f"{self.step.report_created}"
                    )
        if fatal is not None:
            raise fatal

    def _fail(self, plan: RecordPlan, target_id: str | None, reason: str) -> RecordPlan:
        """Count and record a record that could not be written (dead-lettered at commit)."""
        self.run.count("failed")
        self.run.record(PlanEntry("failed", self.step.target, self.step.entity, plan.source_id, target_id,
                                  _display_name(plan.core) if plan.core else None, reason=reason))
        log.warning("sync.record_failed", job=self.job, source_id=plan.source_id, reason=reason)
        if plan.op != "unknown":
            plan.op = "failed"
        plan.target_id, plan.reason = target_id, reason
        return plan

    def finish(self, results: list[RecordPlan], sent: list[Any], cursor: CursorState, pass_id: str) -> None:
        self.collect(results, sent)
        self.commit(results, cursor, pass_id)

    def abandon(self, results: list[RecordPlan], sent: list[Any]) -> None:
        """After a fatal error: stop, and count the writes a page in flight made anyway (they
        are not committed; the next run finds them again by the match rules)."""
        self._stop.set()
        try:
            self.collect(results, sent)
        except BaseException:  # noqa: S110 - the caller re-raises the error that stopped the run
            pass

    def commit(self, results: list[RecordPlan], cursor: CursorState | None, pass_id: str) -> None:
        """Everything a page changed, in one transaction with its checkpoint (batched statements)."""
        store, src, tgt = self.store, self.step.source, self.step.target
        store.index_keys(self.index_run, tgt, self.kind, self._new_keys)
        self._new_keys = []
        written = [r for r in results if r.written]
        adopted = [r for r in results if r.op == "adopt"]
        with self.run.transaction() as conn:
            created = [(r.source_id, r.target_id) for r in written if r.op == "create" and r.target_id]
            store.link_new(conn, self.kind, src, tgt, created)
            for r in [*written, *adopted]:
                if r.op != "create" and r.linked_by_match and r.target_id:
                    store.link(conn, self.kind, {src: r.source_id, tgt: r.target_id})
            self._remember(conn, written, pass_id)
            self._remember_hashes(conn, adopted, pass_id)
            seen = [r.target_id for r in results if r.op in ("unchanged", "deactivate", "failed") and r.target_id]
            store.mark_seen_many(conn, self.job, tgt, self.kind, seen, pass_id)
            if self._resolvable:
                ok = [r.source_id for r in results if r.op in ("create", "update", "unchanged", "link", "adopt")]
                store.resolve_dead_letters(conn, self.job, tgt, self.kind, ok)
            for r in results:
                if r.op == "link" and r.target_id:
                    store.link(conn, self.kind, {src: r.source_id, tgt: r.target_id})
                elif r.op == "deactivate" and r.target_id:
                    store.add_pending(conn, self.job, tgt, self.kind, r.target_id, self.step.entity,
                                      "inactive at the source", {"source_id": r.source_id})
                elif r.op in ("failed", "unknown"):
                    store.dead_letter(conn, job=self.job, system=tgt, kind=self.kind, record_id=r.source_id,
                                      operation=UNKNOWN if r.op == "unknown" else "write",
                                      record=self._letter(r), error=r.reason or "refused")
            if cursor is not None:
                store.save_cursor(conn, self.job, src, self.cursor_stream, cursor)

    def _remember_hashes(self, conn: Any, plans: list[RecordPlan], pass_id: str) -> None:
        """What the target now holds of each record, so an unchanged record costs no write."""
        src = self.step.source
        self.store.set_hashes(
            conn, self.job, self.step.target, self.kind,
            [{"external_id": r.target_id, "hash": r.hash, "fields": r.payload, "source_system": src,
              "source_id": r.source_id, "seen_run": pass_id} for r in plans],
            existing={r.target_id for r in plans if r.had_hash and r.target_id},
        )  # fmt: skip

    def _remember(self, conn: Any, written: list[RecordPlan], pass_id: str) -> None:
        """Hashes and audit rows of the writes the target accepted."""
        store, tgt = self.store, self.step.target
        self._remember_hashes(conn, written, pass_id)
        store.audit_many(conn, [
            {"run_id": self.run.run_id, "actor": f"sync:{self.job}", "system": tgt, "entity": self.step.entity,
             "operation": r.op, "record_id": r.target_id, "before": r.before,
             "after": r.write.payload if r.write else None}
            for r in written
        ])  # fmt: skip

    def _letter(self, plan: RecordPlan) -> dict[str, Any]:
        """What a dead letter keeps: enough to retry the record, and for an unknown outcome
        what finds the write it may have made (payload, key, when it was first sent)."""
        letter: dict[str, Any] = {"source": self.step.source, "stream": self.step.stream,
                                  "core": plan.core.model_dump(mode="json") if plan.core else None}  # fmt: skip
        if plan.op == "unknown" and plan.write is not None:
            write = plan.write
            letter["write"] = {"op": write.op, "payload": write.payload, "key": write.key,
                               "target_id": write.target_id, "hash": plan.hash, "fields": plan.payload,
                               "since": write.since.isoformat() if write.since else None}  # fmt: skip
        return letter

    def retry(self, source_id: str) -> str:
        """Process one dead-lettered record again from its current source state."""
        raw = self.source.get(self.stream.mapping_entity, source_id)
        results = self.plan([raw], set())
        self.collect(results, self.submit(results))
        self.commit(results, None, self.run.run_id)
        return str(results[0].op) if results else "missing"

    def resolve_unknown(self) -> None:
        """Writes whose outcome stayed unknown in an earlier run: look each one up first.

        Found: it was applied, so it is linked and remembered as written (no write is
        sent). Provably absent: the record is processed again from its current source
        state, which sends it once more. Still unknown: the letter stays, and says so.
        """
        for letter in self.store.dead_letters(self.job, operation=UNKNOWN):
            if letter.system != self.step.target or letter.kind != self.kind:
                continue
            record = letter.record if isinstance(letter.record, dict) else {}
            if record.get("source") != self.step.source or record.get("stream") != self.step.stream:
                continue
            self._resolve_letter(letter, record)

    def _resolve_letter(self, letter: DeadLetter, record: dict[str, Any]) -> None:
        saved = record.get("write") or {}
        write = PlannedWrite(
            self.step.target, self.step.entity, saved.get("op") or "create", dict(saved.get("payload") or {}),
            target_id=saved.get("target_id"), key=saved.get("key"), since=parse_timestamp(saved.get("since")),
        )  # fmt: skip
        try:
            found = self.writer.find(write)
        except OutcomeUnknown as exc:
            self.run.report(f"{self.step.target} {self.step.entity} write for {self.step.source} "
                            f"{letter.record_id} still has an unknown outcome: {exc}")  # fmt: skip
            return
        if found is None:
            log.info("sync.unknown_absent", job=self.job, source_id=letter.record_id)
            self.retry(letter.record_id)
            return
        log.info("sync.unknown_found", job=self.job, source_id=letter.record_id, target_id=found.id)
        plan = RecordPlan(letter.record_id, op=write.op, target_id=found.id, write=write,
                          payload=saved.get("fields"), hash=saved.get("hash"))  # fmt: skip
        with self.run.transaction() as conn:
            if write.op == "create":
                self.store.link_new(conn, self.kind, self.step.source, self.step.target, [(plan.source_id, found.id)])
            self._remember(conn, [plan], self.run.run_id)
            self.store.resolve_dead_letter(conn, self.job, self.step.target, self.kind, letter.record_id)
        self.run.count("created" if write.op == "create" else "updated")

    def close(self) -> None:
        # Every page's writes are collected before a normal close; closing early (Ctrl-C,
        # an error) must not send the rest of a page in flight: workers finish their
        # current write and take no other (what they made is found again next run).
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # -- deactivations -------------------------------------------------------------------

    def plan_deletions(self, pass_id: str) -> None:
        """After a complete full read: linked records the source no longer has."""
        with self.run.transaction() as conn:
            for row in self.store.unseen(self.job, self.step.target, self.kind, pass_id):
                self.store.add_pending(conn, self.job, self.step.target, self.kind, row["external_id"],
                                       self.step.entity, "deleted at the source", {"source_id": row["source_id"]})

    def apply_deactivations(self) -> None:
        pending = self.store.pending(self.job, self.step.target, self.kind)
        if not pending:
            return
        base = self.store.count_hashes(self.job, self.step.target, self.kind, active=True)
        threshold = self.hub.settings.mass_deactivate_threshold
        if len(pending) > max(1.0, threshold * base) and not self.run.allow_mass_deactivate:
            raise MassDeactivation(
                f"{self.job}: would deactivate {len(pending)} of {base} {self.kind} records in {self.step.target} "
                f"(more than {threshold:.0%}); nothing was deactivated. If that is intended, rerun with "
                "--allow-mass-deactivate"
            )
        for item in pending:
            tid = item["external_id"]
            entry = PlanEntry("deactivate", self.step.target, self.step.entity, (item["record"] or {}).get("source_id"),
                              tid, reason=item["reason"])
            if self.run.dry_run:
                self.run.count("deactivated")
                self.run.record(entry)
                continue
            core = self.tmap.spec.model.model_construct(active=False)
            if "active" in self.tmap.spec.fields and self.tmap.spec.fields["active"].direction != "read":
                change = self.tmap.to_vendor(core, self.target, fields=["active"])
                write = PlannedWrite(self.step.target, self.step.entity, "update", change, core, target_id=tid)
            else:
                write = PlannedWrite(self.step.target, self.step.entity, "deactivate", {}, core, target_id=tid)
            outcome = self.writer.send(write)
            if not outcome.ok:
                self.run.count("failed")
                with self.run.transaction() as conn:
                    self.store.dead_letter(conn, job=self.job, system=self.step.target, kind=self.kind,
                                           record_id=str(tid), operation="deactivate", record=item["record"],
                                           error=outcome.reason or "refused")
                    self.store.drop_pending(conn, self.job, self.step.target, self.kind, tid)
                continue
            self.run.count("deactivated")
            with self.run.transaction() as conn:
                row = self.store.hash_row(self.job, self.step.target, self.kind, tid)
                self.store.set_hash(conn, self.job, self.step.target, self.kind, tid, (row or {}).get("hash", ""),
                                    False)
                self.store.drop_pending(conn, self.job, self.step.target, self.kind, tid)
                self.store.audit(conn, actor=f"sync:{self.job}", system=self.step.target, entity=self.step.entity,
                                 operation="deactivate", record_id=tid, before={"active": True},
                                 after={"active": False}, run_id=self.run.run_id)

def run_entity_step(run: SyncRun, step: EntityStep) -> None:
    sync = EntitySync(run, step)
    store = run.hub.store
    state = store.get_cursor(run.job.name, step.source, sync.cursor_stream)
    run_start = run.hub.clock.now()
    resume = None if run.full_refresh else state.resume
    if resume:
        since = parse_timestamp(state.run_cursor)
        pass_id = resume.get("pass", run.run_id)
        high, high_ids = parse_timestamp(resume.get("max")), list(resume.get("max_ids", []))
        # the stream's own resume state, opaque to the engine (a checkpoint of an older
        # version kept only a page token)
        at = resume.get("stream") if "stream" in resume else {"token": resume.get("token")}
    else:
        since = None if run.full_refresh or not step.incremental else parse_timestamp(state.cursor)
        pass_id, high, high_ids, at = run.run_id, None, [], None
    boundary = set(state.boundary_ids) if since is not None and not run.full_refresh else set()
    full_read = since is None
    cursor_field = sync.stream.cursor_field
    read = 0
    # one page in flight: its writes are sent while the next page is read and planned, and it
    # is committed (in page order) once they are all answered
    inflight: tuple[list[RecordPlan], list[Any], CursorState] | None = None
    try:
        if not run.dry_run and run.part is None:  # a split job starts with none to settle
            sync.resolve_unknown()
        if at:
            log.info("sync.resume", job=run.job.name, stream=step.stream, at=at)
        for page in sync.stream.read(since=since, resume=at or None):
            skip = {
                sync.stream.record_id(r)
                for r in page.records
                if boundary and sync.stream.cursor_value(r) == since and sync.stream.record_id(r) in boundary
            }
            results = sync.plan(page.records, skip)
            read += len(page.records)
            run.tick(step.label, read, total=page.total,
                     planned=sum(1 for r in results if r.op in ("pending", "create", "update")))  # fmt: skip
            if cursor_field:
                for r in page.records:
                    value = sync.stream.cursor_value(r)
                    if value is None:
                        continue
                    if high is None or value > high:
                        high, high_ids = value, [sync.stream.record_id(r)]
                    elif value == high:
                        high_ids.append(sync.stream.record_id(r))
            if run.dry_run:
                continue
            checkpoint = CursorState(
                cursor=state.cursor,
                boundary_ids=state.boundary_ids,
                resume={"stream": page.resume, "pass": pass_id, "max": _iso(high),
                        "max_ids": high_ids[-5000:]} if page.resume else None,
                run_cursor=_iso(since),
            )
            if page.resume is None:
                checkpoint = _final_cursor(state, since, high, high_ids, run_start)
            sent = sync.submit(results)
            if inflight is not None:
                try:
                    sync.finish(*inflight, pass_id)
                except BaseException:
                    sync.abandon(results, sent)
                    raise
            inflight = (results, sent, checkpoint)
        if inflight is not None:
            sync.finish(*inflight, pass_id)
        # a part sees only its records: what it did not see may be another part's
        if full_read and step.deactivate and not run.dry_run and run.part is None:
            sync.plan_deletions(pass_id)
        if step.deactivate and not run.dry_run and run.part is None:
            sync.apply_deactivations()
    finally:
        sync.close()
        store.drop_index(sync.index_run)


def _final_cursor(
    state: CursorState, since: datetime | None, high: datetime | None, high_ids: list[str], run_start: datetime
) -> CursorState:
    """The cursor after a complete read: the highest value seen, never past the run's start."""
    if high is None:
        return CursorState(cursor=state.cursor if since else None, boundary_ids=state.boundary_ids)
    if high > run_start:
        # Changes stamped after the run began are read again next time (idempotently).
        return CursorState(cursor=run_start.isoformat(), boundary_ids=[])
    ids = high_ids
    if since is not None and high == since:
        ids = sorted(set(state.boundary_ids) | set(high_ids))
    return CursorState(cursor=high.isoformat(), boundary_ids=ids)
