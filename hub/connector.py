"""What a connector is: the base classes a connector plugin builds on.

A connector speaks one vendor's API and nothing else. It declares:

* its ``name``, ``version`` and settings model (:class:`hub.settings.ConnectorSettings`);
* its readable :class:`Stream` s, each with the core kind it yields and its cursor field;
* its writable entities (``writable``: vendor entity -> core kind) through
  :meth:`Connector.create` / :meth:`Connector.update` / :meth:`Connector.deactivate`;
* the :class:`Action` s it offers to workflows (send terms, download a document, ...);
* the roles it can fill (``roles``: the PSA, the RMM, ...; see :mod:`hub.roles`);
* how it verifies and parses its webhooks (:meth:`Connector.verify_webhook`,
  :meth:`Connector.parse_webhook`), if it has any.

Records cross this boundary as the vendor's own dicts; the declarative mapping
(``hub.mapping`` and the connector's ``<connector>.yaml``) turns them into core models. The
connector only resolves vendor vocabulary (picklist labels) for the mapping.

Streams follow the Singer SDK's ``RESTStream`` and Airbyte's ``HttpStream``: the
request, the record parsing and the paginator are methods to override. A
:class:`Paginator` runs the one page loop, keeps the page token apart from the resume
token the engine checkpoints, and detects loops.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, ClassVar, Protocol

import httpx
from pydantic import BaseModel

from hub.clock import Clock, SystemClock
from hub.errors import ConfigError, HubError, OutcomeUnknown, WebhookRejected
from hub.http import ErrorPolicy, HttpClient, RetryPolicy, secret_values
from hub.logging import get_logger
from hub.mapping import get_path
from hub.ratelimit import LimiterFactory, RateLimit, RateLimiter
from hub.settings import ConnectorSettings

__all__ = [
    "Action",
    "ActionContext",
    "Answer",
    "CheckResult",
    "Connector",
    "ConnectorContext",
    "Event",
    "Finding",
    "KeyValueStore",
    "MemoryKeyValueStore",
    "Need",
    "NextUrlPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PaginationLoop",
    "Paginator",
    "RESTStream",
    "Stream",
    "WriteResult",
    "action",
    "natural_criteria",
    "parse_timestamp",
]


def natural_criteria(keys: tuple[tuple[str, ...], ...], payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{path: value}`` of the first natural key whose every path the payload fills, or None."""
    for paths in keys:
        values = {path: get_path(payload, path) for path in paths}
        if all(v not in (None, "") for v in values.values()):
            return values
    return None


def parse_timestamp(value: Any) -> datetime | None:
    """A vendor timestamp (ISO 8601, with or without zone, 'Z') as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- state the hub lends to a connector ---------------------------------------------


class KeyValueStore(Protocol):
    """Small durable values a connector keeps (zone URL, rotated tokens, type ids)."""

    def get(self, key: str) -> Any | None: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


class MemoryKeyValueStore:
    """In-memory :class:`KeyValueStore` for tests and one-off commands."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str) -> Any | None:
        return self.data.get(key)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


_LOCAL_LOCKS: dict[str, threading.Lock] = {}
_LOCAL_LOCKS_GUARD = threading.Lock()


@contextmanager
def local_lock(name: str) -> Iterator[None]:
    """A named lock of this process: what ``ConnectorContext.lock`` is without a hub."""
    with _LOCAL_LOCKS_GUARD:
        lock = _LOCAL_LOCKS.setdefault(name, threading.Lock())
    with lock:
        yield


@dataclass
class ConnectorContext:
    """What the hub gives a connector: durable state, a clock, paths, a test transport, and
    the MSP's time zone (``HUB_TIMEZONE``) for every date shown to a person or written as a
    date (a file named by the day it was signed, an invoice date)."""

    state: KeyValueStore = field(default_factory=MemoryKeyValueStore)
    clock: Clock = field(default_factory=SystemClock)
    zone: tzinfo = UTC
    documents_root: Path = Path("./client-folders")
    transport: httpx.BaseTransport | None = None
    retry: RetryPolicy | None = None
    limiters: dict[str, RateLimiter] = field(default_factory=dict)
    #: seconds before a vendor's answer counts as lost (``HUB_HTTP_TIMEOUT``)
    timeout: float = 30.0
    #: builds a credential's budget; None: one in this process (``HUB_BUDGET_URL`` shares them)
    budgets: LimiterFactory | None = None
    #: ``lock(name)``: held by one thread of one process at a time, across every process
    #: sharing the hub's state store (a refresh token that rotates is refreshed by one)
    lock: Callable[[str], AbstractContextManager[None]] = field(default=local_lock)

    def limiter(self, key: str, limits: list[RateLimit]) -> RateLimiter:
        """The budget of the credential ``key``, shared by every client that uses it."""
        found = self.limiters.get(key)
        if found is None:
            found = self.budgets(key, limits, self.clock) if self.budgets else RateLimiter(limits, self.clock)
            self.limiters[key] = found
        return found


# -- reading --------------------------------------------------------------------------


@dataclass
class Page:
    """One page of vendor records and the token that resumes the read *after* it.

    ``total`` is how many records the whole read yields, where the vendor says so in its
    answer (IT Glue's ``meta.total-count``, N-central's ``totalItems``); progress displays
    estimate the time left from it. None when the vendor does not say.
    """

    records: list[dict[str, Any]]
    resume: dict[str, Any] | None = None
    total: int | None = None


class PaginationLoop(HubError):
    """The vendor handed back a page token it had already given: stop instead of looping."""


@dataclass
class Answer:
    """One page as a read fetched it: the vendor's answer (what the paginator reads the next
    page token from), the page's records, whether the read may go on after it (a read of the
    newest first ends at the first record older than its cursor), and the total if the vendor
    says it (see :attr:`Page.total`)."""

    response: Any
    records: list[dict[str, Any]]
    more: bool = True
    total: int | None = None


class Paginator(ABC):
    """Walks the pages of one read, with two tokens kept apart.

    * The *page token* says which page to ask for next: a page number, a start position, a
      next-page URL (:meth:`first`, then :meth:`next_token` after each page; ``None`` ends).
    * The *resume token* is the dict the engine checkpoints after a page and hands back to
      continue the read after a crash (:meth:`resume`, then :meth:`restart`). By default it
      holds the page token, but where a page token does not outlive the read (Autotask's
      next-page URLs) it holds what a fresh read continues from (the last id), and a read
      pinned at its start (DocuSign's ``to_date``) keeps that with it.

    :meth:`pages` is the one page loop every stream uses; it detects a vendor handing back a
    token it already gave (:class:`PaginationLoop`).
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def first(self) -> Any:
        """The page token of a read's first page."""
        return None

    def restart(self, resume: Mapping[str, Any]) -> Any:
        """The page token that continues a read after the page whose resume token is ``resume``."""
        return resume.get("token")

    @abstractmethod
    def next_token(self, response: Any, records: list[dict[str, Any]], token: Any) -> Any:
        """The next page token, or ``None`` after the last page."""

    def resume(
        self, response: Any, records: list[dict[str, Any]], token: Any, next_token: Any
    ) -> dict[str, Any] | None:
        """The resume token after this page (``next_token`` is the page that follows it)."""
        return {"token": next_token}

    def advance(self, response: Any, records: list[dict[str, Any]], token: Any) -> Any:
        nxt = self.next_token(response, records, token)
        if nxt is None:
            return None
        key = repr(nxt)
        if key in self._seen or nxt == token:
            raise PaginationLoop(f"pagination loop: token {key[:120]} was already followed")
        self._seen.add(key)
        return nxt

    def pages(self, fetch: Callable[[Any], Answer], resume: Mapping[str, Any] | None = None) -> Iterator[Page]:
        """Pages of a read: ``fetch(page_token)`` asks the vendor for one page, from the first
        page or from ``resume`` on; each page carries the resume token after it (None after the
        last)."""
        token = self.restart(resume) if resume else self.first()
        while True:
            answer = fetch(token)
            nxt = self.advance(answer.response, answer.records, token) if answer.more else None
            after = self.resume(answer.response, answer.records, token, nxt) if nxt is not None else None
            yield Page(answer.records, after, answer.total)
            if nxt is None:
                return
            token = nxt


class NextUrlPaginator(Paginator):
    """Follows a next-page URL found in the body (Autotask ``pageDetails.nextPageUrl``)."""

    def __init__(self, path: Callable[[Any], str | None]) -> None:
        super().__init__()
        self._path = path

    def next_token(self, response: httpx.Response, records: list[dict[str, Any]], token: Any) -> Any:
        body = response.json()
        url = self._path(body)
        return url or None


class PageNumberPaginator(Paginator):
    """1-based page numbers until a short page or the stated last page."""

    def __init__(self, page_size: int, total_pages: Callable[[Any], int | None] | None = None) -> None:
        super().__init__()
        self.page_size = page_size
        self._total_pages = total_pages

    def first(self) -> Any:
        return 1

    def next_token(self, response: httpx.Response, records: list[dict[str, Any]], token: Any) -> Any:
        page = int(token or 1)
        if self._total_pages is not None:
            total = self._total_pages(response.json())
            if total is not None:
                return page + 1 if page < total else None
        return page + 1 if len(records) >= self.page_size else None


class OffsetPaginator(Paginator):
    """Start positions (QuickBooks ``STARTPOSITION``, 1-based) until a short page."""

    def __init__(self, page_size: int, start: int = 1) -> None:
        super().__init__()
        self.page_size = page_size
        self.start = start

    def first(self) -> Any:
        return self.start

    def next_token(self, response: httpx.Response, records: list[dict[str, Any]], token: Any) -> Any:
        return int(token) + self.page_size if len(records) >= self.page_size else None


class Stream(ABC):
    """A readable collection of one vendor entity, yielding core records of ``kind``.

    ``cursor_field`` names the vendor field that orders changes (None: full reads
    only). ``sorted_by_cursor`` says whether pages come in cursor order; the engine
    only checkpoints a cursor mid-read for sorted streams and otherwise relies on the
    page ``resume`` token and the ids seen at the boundary.
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    entity: ClassVar[str] = ""
    cursor_field: ClassVar[str | None] = None
    primary_key: ClassVar[str] = "id"
    sorted_by_cursor: ClassVar[bool] = False

    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    @property
    def mapping_entity(self) -> str:
        """The entity name the mapping file uses for this stream's records."""
        return self.entity or self.name

    def record_id(self, record: Mapping[str, Any]) -> str:
        return str(record[self.primary_key])

    def cursor_value(self, record: Mapping[str, Any]) -> datetime | None:
        if not self.cursor_field:
            return None
        return parse_timestamp(record.get(self.cursor_field))

    @abstractmethod
    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        """Pages of records changed at or after ``since`` (all if None), from ``resume`` on."""


class RESTStream(Stream):
    """A stream read page by page over HTTP; override the pieces that differ."""

    def client(self) -> HttpClient:
        return self.connector.client()

    @abstractmethod
    def paginator(self) -> Paginator:
        """A fresh paginator for one read (it remembers the tokens it gave, to detect loops)."""

    @abstractmethod
    def request(self, since: datetime | None, token: Any) -> httpx.Response:
        """Send the request for the page ``token`` (the paginator's first token at start)."""

    @abstractmethod
    def parse_records(self, response: httpx.Response) -> list[dict[str, Any]]:
        """The records of one page, as the vendor sent them."""

    def total(self, response: httpx.Response, since: datetime | None) -> int | None:
        """How many records the whole read yields, if the vendor's answer says (see
        :attr:`Page.total`); None by default."""
        return None

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        def fetch(token: Any) -> Answer:
            response = self.request(since, token)
            return Answer(response, self.parse_records(response), total=self.total(response, since))

        yield from self.paginator().pages(fetch, resume)


# -- writing and actions --------------------------------------------------------------


@dataclass
class WriteResult:
    """What a create or update left in the vendor: its id and, if returned, the record."""

    id: str
    record: dict[str, Any] | None = None


@dataclass
class CheckResult:
    """``hub check``: what was verified, as labelled lines (never secrets)."""

    ok: bool
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Need:
    """Something the hub's mappings, workflows or settings name in the vendor's tenant.

    ``kind`` is ``field`` (a vendor field path the mapping reads or writes: a UDF, say;
    ``picklist`` tells whether it holds picklist values) or ``value`` (a label or name the
    hub writes to ``field``: a ticket status, a classification, a resource). ``source``
    says who names it (a mapping field, a workflow step, a setting), so the user knows what
    to change instead; ``required`` is false for values the hub only reads (a missing one
    is data, not an error).
    """

    kind: str
    entity: str
    field: str
    value: str | None = None
    source: str = ""
    required: bool = True
    picklist: bool = False


@dataclass
class Finding:
    """What the tenant has of one :class:`Need` (or of a connector setting): ``ok``, or
    what is missing (``detail``, with the valid choices), what to create where (``fix``)
    and whether ``hub check --fix`` can create it through the API (``fixable``)."""

    what: str
    ok: bool
    detail: str = ""
    fix: str = ""
    fixable: bool = False
    required: bool = True
    source: str = ""
    need: Need | None = None


@dataclass
class ActionContext:
    """Where an action runs: its idempotency key is stable across retries of one step."""

    run_id: str
    step_id: str
    documents_root: Path
    state: KeyValueStore

    @property
    def idempotency_key(self) -> str:
        return f"{self.run_id}:{self.step_id}"


def action(name: str, params: type[BaseModel], description: str = "") -> Callable[[Any], Any]:
    """Mark a connector method as a workflow action: ``def m(self, params, ctx) -> dict``.

    Declared on the class, so ``hub connectors`` lists actions without credentials.
    """

    def mark(fn: Any) -> Any:
        fn.__hub_action__ = (name, params, description or (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return mark


@dataclass(frozen=True)
class Action:
    """A workflow step a connector offers: ``run(params, ctx) -> outputs``.

    ``run`` must be idempotent for one :attr:`ActionContext.idempotency_key`: a step
    retried after a crash must find what its first attempt did (an envelope, a ticket)
    instead of doing it twice.
    """

    name: str
    description: str
    params: type[BaseModel]
    run: Callable[[BaseModel, ActionContext], dict[str, Any]]


@dataclass
class Event:
    """A verified vendor event: what changed, and the ids that correlate it to waits."""

    connector: str
    type: str
    id: str
    entity: str | None = None
    record_id: str | None = None
    occurred_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)
    correlation: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def body_id(body: bytes) -> str:
        """Dedup id for vendors whose events carry none: a hash of the raw body."""
        return "sha256:" + hashlib.sha256(body).hexdigest()


class Connector(ABC):
    """Base of every connector. Subclasses set the class attributes and implement I/O."""

    name: ClassVar[str]
    version: ClassVar[str] = "0.0.0"
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    title: ClassVar[str] = ""
    #: vendor entity -> core kind, for the entities this connector can write
    writable: ClassVar[dict[str, str]] = {}
    #: the vendor's published limits for one credential
    rate_limits: ClassVar[list[RateLimit]] = []
    #: whether the connector verifies and parses webhooks
    has_webhooks: ClassVar[bool] = False
    #: settings to check when the vendor answers 401/403
    auth_settings: ClassVar[tuple[str, ...]] = ()
    #: the stream classes; :meth:`streams` instantiates them
    stream_classes: ClassVar[list[type[Stream]]] = []
    #: name -> (method name, params model, description), collected from ``@action`` methods
    action_specs: ClassVar[dict[str, tuple[str, type[BaseModel], str]]] = {}
    #: the roles this connector can fill (``psa``, ``rmm``, ... see :mod:`hub.roles`), each with
    #: the entity it fills a slot with where the slot's kind alone picks none or several
    #: (``{"rmm": {"customers": "customer"}}``); checked when the connector registers
    roles: ClassVar[dict[str, dict[str, str]]] = {}
    #: entity -> alternative natural keys (each a tuple of payload paths) that identify a
    #: record the hub created; the first one the payload fills finds a create whose answer
    #: was lost (:meth:`find_created`)
    natural_keys: ClassVar[dict[str, tuple[tuple[str, ...], ...]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        specs = dict(getattr(cls, "action_specs", {}))
        for attr, fn in vars(cls).items():
            mark = getattr(fn, "__hub_action__", None)
            if mark:
                name, params, description = mark
                specs[name] = (attr, params, description)
        cls.action_specs = specs

    @classmethod
    def capabilities(cls) -> dict[str, Any]:
        """What the connector offers, known without settings or network."""
        return {
            "streams": [
                {"name": s.name, "kind": s.kind, "cursor": s.cursor_field} for s in cls.stream_classes
            ],
            "writes": dict(cls.writable),
            "actions": sorted(cls.action_specs),
            "webhooks": bool(cls.has_webhooks),
            "roles": sorted(cls.roles),
        }

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext | None = None) -> None:
        self.settings = settings
        self.context = context or ConnectorContext()
        self.log = get_logger(f"hub.connectors.{self.name}", connector=self.name)
        self._clients: list[HttpClient] = []

    # -- HTTP ---------------------------------------------------------------------

    def make_client(
        self,
        base_url: str,
        *,
        budget_key: str | None = None,
        limits: list[RateLimit] | None = None,
        policy: ErrorPolicy | None = None,
        **kwargs: Any,
    ) -> HttpClient:
        """An :class:`HttpClient` wired to this connector's secrets, budget and clock."""
        key = budget_key or f"{self.name}:{base_url}"
        limits = self.rate_limits if limits is None else limits
        limiter = self.context.limiter(key, limits) if limits else None
        hint = ", ".join(f"HUB_{self.name.upper()}__{s.upper()}" for s in self.auth_settings)
        kwargs.setdefault("timeout", self.context.timeout)
        client = HttpClient(
            self.name,
            base_url,
            limiter=limiter,
            secrets=secret_values(self.settings),
            clock=self.context.clock,
            retry=self.context.retry,
            policy=policy or ErrorPolicy(auth_hint=hint),
            transport=self.context.transport,
            **kwargs,
        )
        self._clients.append(client)
        return client

    def client(self) -> HttpClient:
        """The connector's main client, used by :class:`RESTStream`; connectors that use
        RESTStream build it (lazily, with :meth:`make_client`) by overriding this."""
        raise TypeError(f"{type(self).__name__} uses RESTStream but defines no client()")

    @property
    def api_calls(self) -> int:
        """Requests sent by every client of this connector (for the run summary)."""
        return sum(c.calls for c in self._clients)

    def rate_limiters(self) -> list[RateLimiter]:
        """The budgets this connector's clients draw on (shared per credential), each once."""
        found: list[RateLimiter] = []
        for client in list(self._clients):
            if client.limiter is not None and all(client.limiter is not f for f in found):
                found.append(client.limiter)
        return found

    def budget_wait(self) -> float | None:
        """Seconds a request of this connector still waits for the vendor's budget, while
        one waits (None otherwise): what a progress display shows for a run held back."""
        now = self.context.clock.monotonic()
        until = [limiter.wait_until for limiter in self.rate_limiters()]
        longest = max((u - now for u in until if u is not None), default=0.0)
        return longest if longest > 0 else None

    def budget_rate(self) -> float | None:
        """Requests a second this connector's slowest published limit allows over time."""
        rates = [lim.requests / lim.per_seconds for limiter in self.rate_limiters() for lim in limiter.limits]
        return min(rates, default=None)

    def close(self) -> None:
        for client in self._clients:
            client.close()

    # -- declarations -------------------------------------------------------------

    def streams(self) -> list[Stream]:
        """Every readable stream (instances of :attr:`stream_classes`)."""
        return [cls(self) for cls in self.stream_classes]

    def stream(self, name: str) -> Stream:
        for stream in self.streams():
            if stream.name == name:
                return stream
        known = ", ".join(s.name for s in self.streams())
        raise ConfigError(f"{self.name} has no stream {name!r}; streams: {known}")

    def actions(self) -> list[Action]:
        """Workflow actions, bound to this instance."""
        return [
            Action(name, description, params, getattr(self, attr))
            for name, (attr, params, description) in sorted(self.action_specs.items())
        ]

    def action(self, name: str) -> Action:
        for action in self.actions():
            if action.name == name:
                return action
        known = ", ".join(a.name for a in self.actions()) or "none"
        raise ConfigError(f"{self.name} has no action {name!r}; actions: {known}")

    @abstractmethod
    def check(self) -> CheckResult:
        """Verify credentials and connectivity; raise a typed error on failure."""

    def readiness(self, needs: list[Need]) -> list[Finding]:
        """Whether this tenant has what ``needs`` name (and what the connector's own settings
        name), one :class:`Finding` each; connectors whose vendor has no tenant-defined
        vocabulary check nothing."""
        return []

    def fix(self, findings: list[Finding]) -> list[str]:
        """Create what the fixable findings lack through the vendor's API; one line each."""
        raise ConfigError(f"{self.name} cannot create what is missing through its API")

    # -- writes -------------------------------------------------------------------

    def get(self, entity: str, id: str) -> dict[str, Any]:
        raise ConfigError(f"{self.name} cannot read single {entity} records")

    def find(self, entity: str, criteria: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Records of ``entity`` whose vendor fields equal ``criteria`` (all of them).

        For lookups a sync cannot do through its streams, such as finding the ticket a
        crashed run created by its external key before creating it again.
        """
        raise ConfigError(f"{self.name} cannot look {entity} records up by field")

    # ``key`` is the write's idempotency key (stable across attempts and runs, see
    # hub.writes): a connector whose vendor dedups requests by a key sends it; the others
    # may ignore it. The hub sends every write through hub.writes, never directly.

    def create(self, entity: str, payload: dict[str, Any], *, key: str | None = None) -> WriteResult:
        raise ConfigError(f"{self.name} cannot create {entity}")

    def update(self, entity: str, id: str, changes: dict[str, Any], *, key: str | None = None) -> WriteResult:
        raise ConfigError(f"{self.name} cannot update {entity}")

    def deactivate(self, entity: str, id: str, *, key: str | None = None) -> WriteResult:
        raise ConfigError(f"{self.name} cannot deactivate {entity}")

    def find_created(
        self, entity: str, payload: dict[str, Any], *, since: datetime, key: str | None = None
    ) -> WriteResult | None:
        """The record a create of ``payload`` made (sent at or after ``since``), or None if
        the vendor holds none: called when the create's answer was lost, before it is sent
        again (hub.writes).

        The default finds the record with :meth:`find` by the entity's first natural key
        (:attr:`natural_keys`) that the payload fills; override it to narrow by creation
        time or to use the vendor's own mechanism. Raises :class:`OutcomeUnknown` when it
        cannot tell: then the hub never sends the create again on its own.
        """
        criteria = natural_criteria(self.natural_keys.get(entity, ()), payload)
        if criteria is None:
            raise OutcomeUnknown(
                f"{self.name} offers no way to look {entity} records up, so whether the create was applied "
                "cannot be told; look in the vendor's screens",
                connector=self.name,
            )
        try:
            found = self.find(entity, criteria)
        except ConfigError as exc:
            raise OutcomeUnknown(f"{exc}; whether the create was applied cannot be told", connector=self.name) from None
        if not found:
            return None
        newest = max(found, key=lambda r: (len(str(r.get("id", ""))), str(r.get("id", ""))))
        return WriteResult(str(newest.get("id")), newest)

    @classmethod
    def sandbox(cls, **options: Any) -> Any:
        """This connector's simulator as a :class:`hub.sandbox.Sandbox`, or None if it has none.

        Used by ``hub demo``, the contract suite and the benchmarks; ``options`` are
        simulator-specific (seed size, budget, webhook target URL).
        """
        return None

    # -- vocabulary for mappings --------------------------------------------------

    def picklist_label(self, entity: str, field: str, value: Any) -> str | None:
        """The label of a stored picklist value (identity unless the vendor has picklists)."""
        return None if value is None else str(value)

    def picklist_value(self, entity: str, field: str, label: str | None) -> Any:
        """The stored value of a label; raises :class:`ConfigError` listing valid labels."""
        return label

    # -- webhooks -----------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check the signature over the raw bytes; raise :class:`WebhookRejected`."""
        raise WebhookRejected(f"{self.name} does not receive webhooks", status=404)

    def register_webhooks(self, url: str) -> list[str]:
        """Create or re-activate the vendor's webhook subscriptions delivering to ``url``.

        Idempotent (an existing subscription for ``url`` is reused, never duplicated);
        returns one line per subscription for the user. Override only where the vendor's
        API allows it; ``hub webhooks register`` says when a connector cannot.
        """
        raise ConfigError(f"{self.name} cannot register webhooks through its API")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        """Turn a verified body into events; raise ``WebhookRejected(status=400)`` if malformed."""
        raise WebhookRejected(f"{self.name} does not receive webhooks", status=404)
