"""The one HTTP layer every connector uses.

A synchronous ``httpx`` client wrapped with, in this order for each attempt:

1. the credential's rate limiter (token buckets per published window, concurrency cap);
2. the request, timed, logged as one structlog line with the URL redacted;
3. classification of the answer by an :class:`ErrorPolicy` (error policy as data,
   after Airbyte's ``default_error_mapping``): retry, rate-limited, or a typed error
   carrying the vendor's own message;

and around all attempts one ``tenacity`` retry loop: connection errors, timeouts,
429, 502, 503 and 504 are retried with capped exponential backoff and jitter; a
``Retry-After`` (seconds or HTTP date) is honoured, capped. There is exactly one retry
layer: connectors must not retry on top of it.

Only a request that is safe to repeat is repeated after its answer was lost. GET, PUT,
PATCH and DELETE apply by value; a POST creates, so once it may have reached the vendor
(a timeout after sending, a dropped connection, a 5xx) it is not sent again here: the
client raises :class:`~hub.errors.OutcomeUnknown` and the one write path
(``hub.writes``) looks the record up before anything is sent twice. A POST that
provably never left (the connection could not be made) or that the vendor refused
unapplied (429) is retried like any request. Which POSTs only read (Autotask's
queries) or carry the vendor's own idempotency key (QuickBooks' ``requestid``) is the
connector's :class:`ErrorPolicy`, data in one place.

Vendors that report errors inside a 200 (QuickBooks ``Fault``, N-central) pass an
``inspect`` callable that raises; vendors with their own error body pass
``vendor_message=message_from(...)`` with its shapes, so the user sees the vendor's text.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from enum import StrEnum
from functools import lru_cache
from typing import Any

import httpx
from pydantic import BaseModel, SecretStr
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from hub import metrics
from hub.clock import Clock, SystemClock
from hub.errors import (
    AuthenticationError,
    ConflictError,
    HttpError,
    NotFoundError,
    OutcomeUnknown,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
    VendorError,
)
from hub.logging import Redactor, get_logger, logging_enabled
from hub.ratelimit import RateLimiter

__all__ = [
    "Action",
    "ErrorPolicy",
    "HttpClient",
    "RetryPolicy",
    "message_from",
    "parse_retry_after",
    "secret_values",
]

log = get_logger("hub.http")

# httpx logs every request's full URL at INFO through the standard library, query
# string and all (API keys included). This module logs each request itself, redacted,
# so the library's own lines are kept to warnings and above.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)


class Action(StrEnum):
    ok = "ok"
    retry = "retry"
    rate_limited = "rate_limited"
    fail = "fail"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; ``cap`` bounds every single wait."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    retry_after_cap: float = 120.0
    jitter: float = 0.5

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter for the ``attempt``-th retry (1-based), capped."""
        delay = self.base * (2 ** (attempt - 1))
        delay += random.uniform(0, self.jitter * delay)
        return min(delay, self.cap)


@dataclass(frozen=True)
class ErrorPolicy:
    """Status code -> action and error type. Override per connector where a vendor differs."""

    retry_statuses: frozenset[int] = frozenset({502, 503, 504})
    rate_limit_statuses: frozenset[int] = frozenset({429})
    errors: Mapping[int, type[HttpError]] = field(
        default_factory=lambda: {
            401: AuthenticationError,
            403: PermissionDeniedError,
            404: NotFoundError,
            409: ConflictError,
        }
    )
    auth_hint: str = ""
    #: methods the vendor applies by value, so a request whose answer was lost is sent again
    replayable_methods: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
    #: POSTs that only read (Autotask's ``V1.0/{Entity}/query``): patterns searched in the URL path
    replayable_posts: tuple[str, ...] = ()
    #: a query parameter with which the vendor answers a repeated request with the first one's
    #: result instead of applying it again (QuickBooks' ``requestid``)
    replay_param: str | None = None
    #: requests that create whatever their method (Acronis Advanced Automation creates a
    #: contract with ``PUT /Contracts``): patterns searched in the URL path
    creating_paths: tuple[str, ...] = ()

    def replayable(self, method: str, url: httpx.URL, params: Any = None) -> bool:
        """Whether a request may be sent again after its answer was lost (see the module doc);
        ``params`` are the query parameters sent besides those already in ``url``."""
        if any(_pattern(p).search(url.path) for p in self.creating_paths):
            return bool(self.replay_param) and self._has_param(url, params)
        if method.upper() in self.replayable_methods:
            return True
        if self._has_param(url, params):
            return True
        return any(_pattern(p).search(url.path) for p in self.replayable_posts)

    def _has_param(self, url: httpx.URL, params: Any) -> bool:
        name = self.replay_param
        return bool(name) and (name in url.params or (isinstance(params, Mapping) and name in params))

    def action(self, status: int) -> Action:
        if status < 400:
            return Action.ok
        if status in self.rate_limit_statuses:
            return Action.rate_limited
        if status in self.retry_statuses:
            return Action.retry
        return Action.fail

    def error_type(self, status: int) -> type[HttpError]:
        if status in self.errors:
            return self.errors[status]
        return TransientError if status >= 500 else VendorError


@lru_cache(maxsize=64)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def parse_retry_after(value: str | None, clock: Clock) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - clock.now()).total_seconds())


def secret_values(settings: BaseModel | None) -> list[str]:
    """Every ``SecretStr`` value of a settings model, for that client's own redactor."""
    if settings is None:
        return []
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, list | tuple):
            found.extend(v.get_secret_value() for v in value if isinstance(v, SecretStr))
        elif isinstance(value, BaseModel):
            found.extend(secret_values(value))
    return found


_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_INDEX = re.compile(r"^(?P<key>[^\[\]]*)\[(?P<index>\d+)\]$")


def _field(data: Any, key: str) -> Any:
    """``data[key]``, else the key in another case (QuickBooks writes ``Fault`` and ``fault``)."""
    if not isinstance(data, dict):
        return None
    if key in data:
        return data[key]
    folded = key.casefold()
    return next((v for k, v in data.items() if isinstance(k, str) and k.casefold() == folded), None)


def _lookup(data: Any, path: str) -> Any:
    """A dotted path into a JSON body; ``name[0]`` takes an item of a list."""
    for part in path.split("."):
        indexed = _INDEX.match(part)
        data = _field(data, indexed["key"] if indexed else part)
        if indexed:
            position = int(indexed["index"])
            data = data[position] if isinstance(data, list) and position < len(data) else None
        if data is None:
            return None
    return data


#: what a placeholder may do to its value (``{source.pointer:last}``)
_FILTERS: dict[str, Callable[[str], str]] = {"last": lambda text: text.rstrip("/").rsplit("/", 1)[-1]}


def _value(data: Any, placeholder: str) -> str | None:
    """The first of a placeholder's ``a|b`` paths that holds text or a number, filtered."""
    spec, _, name = placeholder.partition(":")
    for path in spec.split("|"):
        value = _lookup(data, path.strip())
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            continue
        text = str(value).strip()
        if name:
            text = _FILTERS[name](text)
        if text:
            return text
    return None


def _render(shape: str, data: Any) -> str | None:
    """``shape`` with every placeholder filled from ``data``; None if one has no value."""
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        value = _value(data, match.group(1))
        missing = missing or value is None
        return value or ""

    text = _PLACEHOLDER.sub(fill, shape)
    return None if missing else text


def message_from(
    *shapes: str, each: str | None = None, limit: int = 300
) -> Callable[[httpx.Response], str | None]:
    """A parser of a vendor's error answers into its own words (``vendor_message=`` of a client).

    ``shapes`` are the forms of the vendor's error body, the most telling first: text with
    ``{path}`` placeholders naming fields of the JSON body (dotted, ``name[0]`` for an item of
    a list, ``a|b`` for the first of several, ``:last`` for the last part of a pointer), such
    as ``"{errorCode}: {message}"``. The first shape whose every placeholder has a value (text
    or a number) gives the message. With ``each``, a body listing its errors under that path
    gives every error's message (the first shape that fits it; an error that is plain text is
    itself), joined with ``"; "``. A body that is not JSON gives its text, cut at ``limit``.

    Replaces a hand-written parser per vendor: one place reads error bodies, and a malformed
    one never raises (the HTTP layer shows the status instead).
    """

    def parse(response: httpx.Response) -> str | None:
        try:
            body = response.json()
        except ValueError:
            return response.text.strip()[:limit] or None
        if not isinstance(body, dict):
            return None
        items = _lookup(body, each) if each else None
        if isinstance(items, list) and items:
            found = [_one(item, shapes) for item in items]
            return "; ".join(f for f in found if f) or None
        return _one(body, shapes)

    return parse


def _one(data: Any, shapes: tuple[str, ...]) -> str | None:
    if isinstance(data, str | int | float) and not isinstance(data, bool):
        return str(data).strip() or None
    return next((text for shape in shapes if (text := _render(shape, data))), None)


#: the error bodies most APIs answer (``message``, OAuth's ``error_description``, JSON:API ``errors``)
_default_vendor_message = message_from(
    "{message}", "{error_description}", "{error}", "{detail|title}", each="errors"
)


_URL_CACHE = 4096  # distinct request paths remembered per client (a sync repeats few)


class HttpClient:
    """A vendor API client: base URL, auth, budget, retries, logging, typed errors."""

    def __init__(
        self,
        connector: str,
        base_url: str = "",
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        limiter: RateLimiter | None = None,
        secrets: Iterable[str] = (),
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        policy: ErrorPolicy | None = None,
        timeout: float = 30.0,
        vendor_message: Callable[[httpx.Response], str | None] | None = None,
        inspect: Callable[[httpx.Response], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.connector = connector
        self.clock = clock or SystemClock()
        self.retry = retry or RetryPolicy()
        self.policy = policy or ErrorPolicy()
        self.redactor = Redactor(secrets)
        self.limiter = limiter
        self._vendor_message = vendor_message or _default_vendor_message
        self._inspect = inspect
        self.calls = 0
        self.rate_limited = 0
        self._calls_metric = metrics.API_CALLS.labels(connector=connector)
        self._urls: dict[str, httpx.URL] = {}
        self._client = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            transport=transport,
            follow_redirects=False,
        )

    # -- public API -------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._client.base_url = httpx.URL(value)
        self._urls.clear()

    def request(self, method: str, url: str, *, replayable: bool | None = None, **kwargs: Any) -> httpx.Response:
        """Send with retries; returns a 2xx/3xx response or raises a typed :class:`HttpError`.

        ``replayable`` overrides the policy's judgement of whether this one request may be
        sent again after its answer was lost; without it the :class:`ErrorPolicy` decides.
        A request that may not raises :class:`OutcomeUnknown` instead of being retried.
        """
        if replayable is None:
            replayable = self.policy.replayable(method, self._absolute(url), kwargs.get("params"))
        try:
            return self._attempt(method, url, 1, kwargs, replayable)  # most requests succeed at once
        except OutcomeUnknown:
            raise
        except (RateLimitedError, TransientError) as first:
            if self.retry.attempts <= 1:
                raise
            self.clock.sleep(self._delay(first, 1))
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts - 1),
            retry=retry_if_exception(_retried),
            wait=self._wait,
            sleep=self.clock.sleep,
            reraise=True,
        )
        attempt = 1
        for trying in retrying:
            with trying:
                attempt += 1
                return self._attempt(method, url, attempt, kwargs, replayable)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def error(self, response: httpx.Response, message: str, cls: type[HttpError] = VendorError) -> HttpError:
        """Build a typed error for ``response`` (used by ``inspect`` callables too)."""
        return cls(
            self.redactor.text(message),
            connector=self.connector,
            method=response.request.method,
            url=self.redactor.url(str(response.request.url)),
            status=response.status_code,
            vendor_message=self._safe_vendor_message(response),
        )

    # -- internals --------------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        # tenacity counts from the second attempt (the first ran before its loop)
        return self._delay(state.outcome.exception() if state.outcome else None, state.attempt_number + 1)

    def _delay(self, exc: BaseException | None, attempt: int) -> float:
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.retry.retry_after_cap)
        return self.retry.backoff(attempt)

    def _safe_vendor_message(self, response: httpx.Response) -> str | None:
        try:
            message = self._vendor_message(response)
        except Exception:  # a malformed error body must not hide the real error
            message = None
        return self.redactor.text(message) if message else None

    def _absolute(self, url: str) -> httpx.URL:
        """``url`` resolved against the base URL as httpx would (base path + path), parsed
        once per distinct path: httpx parses a relative URL twice on every request, about
        7 % of a large sync's CPU."""
        found = self._urls.get(url)
        if found is None:
            if len(self._urls) >= _URL_CACHE:
                self._urls.clear()
            full = url
            if not url.startswith(("http://", "https://")):
                base = str(self._client.base_url)
                full = f"{base if base.endswith('/') else base + '/'}{url.lstrip('/')}"
            found = self._urls[url] = httpx.URL(full)
        return found

    def _attempt(
        self, method: str, url: str, attempt: int, kwargs: dict[str, Any], replayable: bool
    ) -> httpx.Response:
        if self.limiter is not None:
            self.limiter.acquire()
        started = time.perf_counter()
        full_url = url
        target = self._absolute(url)
        try:
            if self.limiter is not None:
                with self.limiter.slot():
                    response = self._client.request(method, target, **kwargs)
            else:
                response = self._client.request(method, target, **kwargs)
        except httpx.TransportError as exc:
            self._count()
            full_url = self.redactor.url(str(exc.request.url)) if _has_request(exc) else url
            timed_out = isinstance(exc, httpx.TimeoutException)
            what = f"timed out ({type(exc).__name__})" if timed_out else (
                f"connection failed ({type(exc).__name__}: {self.redactor.text(str(exc))})"
            )
            never_sent = isinstance(exc, _NEVER_SENT)
            log.warning("http.timeout" if timed_out else "http.error", connector=self.connector, method=method,
                        url=full_url, attempt=attempt, outcome="not sent" if never_sent else "unknown")  # fmt: skip
            if not replayable and not never_sent:
                raise self._unknown(what, method, full_url) from None
            raise TransientError(what, connector=self.connector, method=method, url=full_url) from None
        self._count()
        if response.status_code >= 400 or attempt > 1 or logging_enabled("DEBUG"):
            # errors and retries at info; every request at debug (a sync sends hundreds of thousands)
            log.log(
                logging.DEBUG if response.status_code < 400 and attempt == 1 else logging.INFO,
                "http.request",
                connector=self.connector,
                method=method,
                url=self.redactor.url(str(response.request.url)),
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                attempt=attempt,
            )
        try:
            self._classify(response)
        except TransientError as exc:
            if replayable or isinstance(exc, RateLimitedError):
                raise
            # a 5xx to a create: the vendor (or a gateway before it) may have applied it
            raise self._unknown(str(exc), method, exc.url or url, status=exc.status,
                                vendor_message=exc.vendor_message) from None  # fmt: skip
        if self._inspect is not None:
            self._inspect(response)
        return response

    def _unknown(self, what: str, method: str, url: str, **details: Any) -> OutcomeUnknown:
        """The error for a request that may have been applied and is not safe to repeat."""
        return OutcomeUnknown(
            f"outcome unknown: {what}",
            settle=float(self._client.timeout.read or 0.0),
            connector=self.connector,
            method=method,
            url=url,
            **details,
        )

    def _count(self) -> None:
        self.calls += 1
        self._calls_metric.inc()

    def _classify(self, response: httpx.Response) -> None:
        action = self.policy.action(response.status_code)
        if action is Action.ok:
            return
        response.read()
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self.clock)
        if action is Action.rate_limited:
            self.rate_limited += 1
            metrics.RATE_LIMITED.labels(connector=self.connector).inc()
            wait = retry_after if retry_after is not None else self.retry.backoff(1)
            if self.limiter is not None:
                self.limiter.penalize(min(wait, self.retry.retry_after_cap))
            err = self.error(response, "rate limited by the vendor", RateLimitedError)
            err.retry_after = retry_after
            raise err
        if action is Action.retry:
            err = self.error(response, f"vendor unavailable (HTTP {response.status_code})", TransientError)
            err.retry_after = retry_after
            raise err
        cls = self.policy.error_type(response.status_code)
        message = {
            AuthenticationError: "authentication failed",
            PermissionDeniedError: "permission denied",
            NotFoundError: "not found",
            ConflictError: "conflict",
        }.get(cls, f"request refused (HTTP {response.status_code})")
        if cls in (AuthenticationError, PermissionDeniedError) and self.policy.auth_hint:
            message = f"{message}; check {self.policy.auth_hint}"
        raise self.error(response, message, cls)


#: transport errors raised before any byte of the request reached the vendor
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _retried(exc: BaseException) -> bool:
    """What the retry loop repeats: rate limits and transient failures, never a lost write."""
    return isinstance(exc, RateLimitedError | TransientError) and not isinstance(exc, OutcomeUnknown)


def _has_request(exc: httpx.HTTPError) -> bool:
    try:
        exc.request  # noqa: B018 - raises RuntimeError when the error carries no request
    except RuntimeError:
        return False
    return True
