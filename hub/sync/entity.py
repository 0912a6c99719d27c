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
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.connector import Connector, Stream, parse_timestamp
from hub.errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    HttpError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RecordRejected,
    TransientError,
    VendorError,
)
from hub.logging import get_logger
from hub.mapping import BoundMapping, UnresolvedRef, exact_key, get_path, match_key, set_path
from hub.models import ExternalRef, Record
from hub.state.store import CursorState
from hub.sync.engine import MassDeactivation, PlanEntry, SyncRun

if TYPE_CHECKING:
    from hub.sync.jobs import EntityStep

log = get_logger("hub.sync")

#: what one write worker hands back: the writes it answered (page index, outcome), and the
#: fatal error that stopped it, if any
_Drained = tuple[list[tuple[int, dict[str, Any]]], BaseException | None]

#: errors that stop the run (the next run resumes); anything else fails one record
FATAL = (TransientError, RateLimitedError, AuthenticationError, PermissionDeniedError, ConfigError)
#: errors that dead-letter one record
RECORD_ERRORS = (RecordRejected, VendorError, NotFoundError, ConflictError, HttpError)


def payload_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _display_name(record: Record) -> str | None:
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
        self.fields = self._write_fields()
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

    # -- one page -------------------------------------------------------------------------

    def plan(self, records: Iterable[dict[str, Any]], skip_ids: set[str]) -> list[dict[str, Any]]:
        """Map, match and plan one page; writes are left ``pending`` for :meth:`submit`.

        What the page needs from the state store (links, referenced records' counterparts,
        last-written hashes, match candidates) is fetched in a few queries up front.
        """
        results: list[dict[str, Any]] = []
        mapped: list[tuple[str, Record]] = []
        for raw in records:
            source_id = self.stream.record_id(raw)
            if source_id in skip_ids:
                continue
            self.run.count("read")
            try:
                core = self.smap.to_core(raw, self.source)
            except RecordRejected as exc:
                results.append(self._fail({"source_id": source_id, "op": None}, None, str(exc), None))
                continue
            mapped.append((source_id, self.hub.plugins.transform(self.job, self.step.source, core)))
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
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"source_id": source_id, "op": None, "core": core}
        name = _display_name(core)
        active = getattr(core, "active", True)
        if target_id is None:
            if not active:
                self.run.count("skipped")
                return out
            target_id, conflict = self._match(core, source_id)
            if conflict:
                self.run.count("conflicts")
                self.run.record(PlanEntry("conflict", self.step.target, self.step.entity, source_id, None, name,
                                          reason=conflict))
                return out
            if target_id is None and not self.step.create:
                return self._unmatched(out, source_id, name)
            out["linked_by_match"] = target_id is not None
        out["target_id"] = target_id
        row = hashes.get(target_id) if target_id is not None else None
        if target_id is not None and not self.step.update:
            return self._link(out, source_id, target_id, name)
        if target_id is not None and not active:
            if row is None or row["active"]:
                out["op"] = "deactivate"
                if self.run.dry_run:
                    self.run.count("deactivated")
                self.run.record(PlanEntry("deactivate", self.step.target, self.step.entity, source_id, target_id,
                                          name, reason="inactive at the source"))
            return out
        try:
            payload = self.tmap.to_vendor(core, self.target, fields=self.fields, resolve_ref=self._resolve)
        except UnresolvedRef as exc:
            if self._failed_here(exc.ref):
                return self._fail(out, target_id, f"{exc} (it failed to sync: see hub deadletters)", core)
            # The referenced record is not synced on purpose (inactive, never created): neither is this one.
            self.run.count("skipped")
            self.run.record(PlanEntry("skip", self.step.target, self.step.entity, source_id, target_id, name,
                                      reason=str(exc)))
            return out
        except (RecordRejected, ConfigError) as exc:
            # e.g. a value with no counterpart in the target's picklist: this record's problem
            return self._fail(out, target_id, str(exc), core)
        digest = payload_hash(payload)
        out["hash"], out["payload"] = digest, payload
        if target_id is not None:
            if row is not None and row["hash"] == digest and row["active"]:
                out["op"] = "unchanged"
                self.run.count("unchanged")
                return out
            before = (row or {}).get("fields")
            if before is None and self.run.dry_run:
                before = self._current(target_id)
            out["before"] = before
            out["had_hash"] = row is not None
            return self._write(out, "update", target_id, payload, core, name)
        return self._write(out, "create", None, payload, core, name)

    def _unmatched(self, out: dict[str, Any], source_id: str, name: str | None) -> dict[str, Any]:
        """A step that may not create: the record waits for a person to create or link it."""
        reason = f"no {self.step.target} {self.step.entity} record matches it; create or link it there"
        self.run.count("skipped")
        self.run.report(f"{self.step.source} {self.stream.name} {source_id} ({name}): {reason}")
        self.run.record(PlanEntry("skip", self.step.target, self.step.entity, source_id, None, name, reason=reason))
        return out

    def _link(self, out: dict[str, Any], source_id: str, target_id: str, name: str | None) -> dict[str, Any]:
        """A step that may not update: remember the pair (new matches only), write nothing."""
        self.run.count("unchanged")
        if out.get("linked_by_match"):
            out["op"] = "link"
            self.run.record(PlanEntry("link", self.step.target, self.step.entity, source_id, target_id, name))
            if self.run.dry_run:
                self.run.planned.add(str(ExternalRef(system=self.step.source, kind=self.kind, id=source_id)))
        return out

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

    def _write(
        self,
        out: dict[str, Any],
        op: str,
        target_id: str | None,
        payload: dict[str, Any],
        core: Record,
        name: str | None,
    ) -> dict[str, Any]:
        """Plan a create or update; the write itself is sent by :meth:`_send` (maybe in parallel)."""
        before = out.get("before")
        changed = payload if before is None else {k: v for k, v in payload.items() if before.get(k) != v}
        entry = PlanEntry(op, self.step.target, self.step.entity, out["source_id"], target_id, name,
                          before={k: before.get(k) for k in changed} if before else None, after=changed)
        if self.run.dry_run:
            self.run.count("created" if op == "create" else "updated")
            self.run.record(entry)
            if op == "create":
                self.run.planned.add(str(ExternalRef(system=self.step.source, kind=self.kind, id=out["source_id"])))
            out["op"] = op
            return out
        send = dict(payload)
        if op == "create":
            for path, value in self.tmap.constants(self.target).items():  # on creates only; mapped fields win
                if get_path(send, path) is None:
                    set_path(send, path, value)
        # a later record with the same match key must not create it again while this is in flight
        keys = self._match_keys(out["source_id"], core) if op == "create" else []
        self._pending.update(keys)
        out.update(op="pending", pending=op, target_id=target_id, send=send, entry=entry, core=core,
                   pending_keys=keys)
        return out

    def _send(self, out: dict[str, Any]) -> dict[str, Any]:
        """Send one planned write (thread-safe: it touches no counter and no shared cache)."""
        op, core, send, target_id = out["pending"], out["core"], out["send"], out["target_id"]
        veto = self.hub.plugins.before_write(self.job, self.step.target, self.step.entity, op, core, send)
        # ``out`` is this write's own dict: no other thread touches it while it is in flight
        if veto:
            out.update(op="failed", reason=f"vetoed by a plugin: {veto}")
            return out
        try:
            if op == "create":
                target_id = self.target.create(self.step.entity, send).id
            else:
                self.target.update(self.step.entity, target_id, send)
        except FATAL:
            raise
        except RECORD_ERRORS as exc:
            out.update(op="failed", reason=str(exc))
            return out
        self.hub.plugins.hook.hub_after_write(
            job=self.job, system=self.step.target, entity=self.step.entity, operation=op, record=core,
            result_id=target_id,
        )
        out.update(op=op, target_id=target_id, after=send)
        return out

    def submit(self, results: list[dict[str, Any]]) -> list[Future[_Drained]]:
        """Start sending a page's planned writes in the background, so the next page is read
        and planned while these are in flight.

        ``self.concurrency`` workers drain the page's writes from one shared queue: a few
        futures per page rather than one per record, so the planning thread is woken a few
        times per page, not once per write (thread hand-offs cost the hub more CPU than
        the writes' own bookkeeping).
        """
        todo = [i for i, r in enumerate(results) if r["op"] == "pending"]
        if not todo:
            return []
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"sync-{self.step.target}")
        queue = iter(todo)
        lock = threading.Lock()
        stop = self._stop

        def drain() -> _Drained:
            done: list[tuple[int, dict[str, Any]]] = []
            while not stop.is_set():
                with lock:
                    i = next(queue, None)
                if i is None:
                    break
                try:
                    done.append((i, self._send(results[i])))
                except BaseException as exc:  # fatal: the others take no new write
                    stop.set()
                    return done, exc
            return done, None

        return [self._pool.submit(drain) for _ in range(min(self.concurrency, len(todo)))]

    def collect(self, results: list[dict[str, Any]], sent: list[Future[_Drained]]) -> None:
        """Wait for a page's writes and account for them, in page order; a fatal error of any
        is raised here, once every worker has stopped and the writes made are counted."""
        answered: list[tuple[int, dict[str, Any]]] = []
        fatal: BaseException | None = None
        for future in sent:
            done, error = future.result()
            answered.extend(done)
            fatal = fatal or error
        for i, out in sorted(answered, key=lambda pair: pair[0]):
            for key in out["pending_keys"]:
                self._pending.discard(key)
            if out["op"] == "failed":
                out = self._fail(out, out.get("target_id"), out["reason"], out["core"])
            else:
                self.run.count("created" if out["op"] == "create" else "updated")
                self.run.record(out["entry"])
                if out["op"] == "create":
                    self._index_new(out["pending_keys"], out["target_id"])
                    if self.step.report_created:
                        self.run.report(
                            f"{self.step.target} {self.step.entity} {out['target_id']} ({_display_name(out['core'])}) "
                            f"created from {self.step.source} {self.stream.name} {out['source_id']}: "
                            f"{self.step.report_created}"
                        )
            results[i] = out
        if fatal is not None:
            raise fatal

    def _fail(self, out: dict[str, Any], target_id: str | None, reason: str, core: Record | None) -> dict[str, Any]:
        self.run.count("failed")
        self.run.record(PlanEntry("failed", self.step.target, self.step.entity, out["source_id"], target_id,
                                  _display_name(core) if core else None, reason=reason))
        log.warning("sync.record_failed", job=self.job, source_id=out["source_id"], reason=reason)
        out.update(op="failed", target_id=target_id, reason=reason,
                   record=core.model_dump(mode="json") if core else None)
        return out

    def finish(self, results: list[dict[str, Any]], sent: list[Any], cursor: CursorState, pass_id: str) -> None:
        self.collect(results, sent)
        self.commit(results, cursor, pass_id)

    def abandon(self, results: list[dict[str, Any]], sent: list[Any]) -> None:
        """After a fatal error: stop, and count the writes a page in flight made anyway (they
        are not committed; the next run finds them again by the match rules)."""
        self._stop.set()
        try:
            self.collect(results, sent)
        except BaseException:  # noqa: S110 - the caller re-raises the error that stopped the run
            pass

    def commit(self, results: list[dict[str, Any]], cursor: CursorState | None, pass_id: str) -> None:
        """Everything a page changed, in one transaction with its checkpoint (batched statements)."""
        store, src, tgt = self.store, self.step.source, self.step.target
        store.index_keys(self.index_run, tgt, self.kind, self._new_keys)
        self._new_keys = []
        written = [r for r in results if r["op"] in ("create", "update")]
        with store.transaction() as conn:
            store.link_new(conn, self.kind, src, tgt,
                           [(r["source_id"], r["target_id"]) for r in written if r["op"] == "create"])  # fmt: skip
            for r in written:
                if r["op"] == "update" and r.get("linked_by_match"):
                    store.link(conn, self.kind, {src: r["source_id"], tgt: r["target_id"]})
            store.set_hashes(
                conn, self.job, tgt, self.kind,
                [{"external_id": r["target_id"], "hash": r["hash"], "fields": r["payload"], "source_system": src,
                  "source_id": r["source_id"], "seen_run": pass_id} for r in written],
                existing={r["target_id"] for r in written if r.get("had_hash")},
            )  # fmt: skip
            store.audit_many(conn, [
                {"run_id": self.run.run_id, "actor": f"sync:{self.job}", "system": tgt, "entity": self.step.entity,
                 "operation": r["op"], "record_id": r["target_id"], "before": r.get("before"), "after": r.get("after")}
                for r in written
            ])  # fmt: skip
            seen = [r["target_id"] for r in results if r["op"] in ("unchanged", "deactivate", "failed")
                    and r.get("target_id")]  # fmt: skip
            store.mark_seen_many(conn, self.job, tgt, self.kind, seen, pass_id)
            if self._resolvable:
                ok = [r["source_id"] for r in results if r["op"] in ("create", "update", "unchanged", "link")]
                store.resolve_dead_letters(conn, self.job, tgt, self.kind, ok)
            for r in results:
                if r["op"] == "link":
                    store.link(conn, self.kind, {src: r["source_id"], tgt: r["target_id"]})
                elif r["op"] == "deactivate":
                    store.add_pending(conn, self.job, tgt, self.kind, r["target_id"], self.step.entity,
                                      "inactive at the source", {"source_id": r["source_id"]})
                elif r["op"] == "failed":
                    store.dead_letter(conn, job=self.job, system=tgt, kind=self.kind, record_id=r["source_id"],
                                      operation="write", record={"source": src, "stream": self.step.stream,
                                                                 "core": r.get("record")},
                                      error=r["reason"])
            if cursor is not None:
                store.save_cursor(conn, self.job, src, self.step.stream, cursor)

    def retry(self, source_id: str) -> str:
        """Process one dead-lettered record again from its current source state."""
        raw = self.source.get(self.stream.mapping_entity, source_id)
        results = self.plan([raw], set())
        self.collect(results, self.submit(results))
        self.commit(results, None, self.run.run_id)
        return str(results[0]["op"]) if results else "missing"

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # -- deactivations -------------------------------------------------------------------

    def plan_deletions(self, pass_id: str) -> None:
        """After a complete full read: linked records the source no longer has."""
        with self.store.transaction() as conn:
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
            try:
                if "active" in self.tmap.spec.fields and self.tmap.spec.fields["active"].direction != "read":
                    change = self.tmap.to_vendor(self.tmap.spec.model.model_construct(active=False), self.target,
                                                 fields=["active"])
                    self.target.update(self.step.entity, tid, change)
                else:
                    self.target.deactivate(self.step.entity, tid)
            except FATAL:
                raise
            except RECORD_ERRORS as exc:
                self.run.count("failed")
                with self.store.transaction() as conn:
                    self.store.dead_letter(conn, job=self.job, system=self.step.target, kind=self.kind,
                                           record_id=str(tid), operation="deactivate", record=item["record"],
                                           error=str(exc))
                    self.store.drop_pending(conn, self.job, self.step.target, self.kind, tid)
                continue
            self.run.count("deactivated")
            with self.store.transaction() as conn:
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
    state = store.get_cursor(run.job.name, step.source, step.stream)
    run_start = run.hub.clock.now()
    resume = None if run.full_refresh else state.resume
    if resume:
        since = parse_timestamp(state.run_cursor)
        pass_id = resume.get("pass", run.run_id)
        high, high_ids = parse_timestamp(resume.get("max")), list(resume.get("max_ids", []))
        token = resume.get("token")
    else:
        since = None if run.full_refresh or not step.incremental else parse_timestamp(state.cursor)
        pass_id, high, high_ids, token = run.run_id, None, [], None
    boundary = set(state.boundary_ids) if since is not None and not run.full_refresh else set()
    full_read = since is None
    cursor_field = sync.stream.cursor_field
    read = 0
    # one page in flight: its writes are sent while the next page is read and planned, and it
    # is committed (in page order) once they are all answered
    inflight: tuple[list[dict[str, Any]], list[Any], CursorState] | None = None
    try:
        for page in sync.stream.read(since=since, resume={"token": token} if token is not None else None):
            skip = {
                sync.stream.record_id(r)
                for r in page.records
                if boundary and sync.stream.cursor_value(r) == since and sync.stream.record_id(r) in boundary
            }
            results = sync.plan(page.records, skip)
            read += len(page.records)
            run.tick(step.label, read)
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
                resume={"token": page.resume.get("token"), "pass": pass_id, "max": _iso(high),
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
        if full_read and step.deactivate and not run.dry_run:
            sync.plan_deletions(pass_id)
        if step.deactivate and not run.dry_run:
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
