"""structlog set-up with secret redaction.

Secrets in logs are the most reported security bug of connector frameworks. Two
layers keep them out, and neither is a process-wide list of secret strings:

* a structlog processor that masks the values of keys that name secrets
  (``secret``, ``token``, ``password``, ``authorization``, ``api_key`` ...), including
  inside nested dicts, and query parameters of that kind inside URLs;
* :class:`Redactor`, owned by each connector's HTTP client, which knows that
  connector's own secret values and scrubs them from URLs, messages and errors it
  produces (see ``hub.http``).

Logs go to stderr, so that ``--json`` output on stdout stays machine-readable.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, TextIO, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import structlog

__all__ = [
    "MASK",
    "Redactor",
    "configure_logging",
    "get_logger",
    "redact_mapping",
    "redact_url",
    "route_library_logs",
]

MASK = "***"
_SECRET_KEY = re.compile(
    r"(secret|token|password|passwd|authorization|api[-_]?key|apikey|private[-_]?key|"
    r"signature|credential|cookie|assertion|client[-_]?secret|jwt)",
    re.IGNORECASE,
)


#: names that mention a secret but hold where it is or what it is called, not the secret
_NOT_SECRET = re.compile(r"(_url|_uri|_file|_path|_dir|_name|_type)$", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    """Whether a field or header named ``key`` holds a secret (``secret``, ``refresh_token``,
    ``api_key``; not ``token_url`` or ``private_key_file``)."""
    return bool(_SECRET_KEY.search(key)) and not _NOT_SECRET.search(key)


def redact_url(url: str) -> str:
    """The URL with user info and secret-named query parameters masked; otherwise exactly
    as given (``urlunsplit`` would drop the empty host of ``sqlite:////tmp/x``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_key(k) for k, _ in pairs):
            query = urlencode([(k, MASK if is_secret_key(k) else v) for k, v in pairs], safe="*[],:$")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_mapping(value: Any) -> Any:
    """A copy of ``value`` with the values of secret-named keys masked, recursively."""
    if isinstance(value, Mapping):
        return {
            k: (MASK if isinstance(k, str) and is_secret_key(k) and v not in (None, "") else redact_mapping(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_mapping(v) for v in value)
    return value


class Redactor:
    """Scrubs a known set of secret values (one connector's) from text.

    Each HTTP client gets its own instance built from its connector's settings, so
    there is never a global registry of secrets to leak or to go stale.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first so that a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def url(self, url: str) -> str:
        return self.text(redact_url(url))


def _redact_processor(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> Any:
    for key, value in list(event_dict.items()):
        if key == "event":
            continue
        if is_secret_key(key) and value not in (None, ""):
            event_dict[key] = MASK
        elif key == "url" and isinstance(value, str):
            event_dict[key] = redact_url(value)
        elif isinstance(value, Mapping | list | tuple):
            event_dict[key] = redact_mapping(value)
    return event_dict


_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
_level = {"value": 20}


def logging_enabled(level: str) -> bool:
    """Whether a line at ``level`` would be written (skip building costly fields otherwise)."""
    return _LEVELS[level] >= _level["value"]


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing (not at configuration).

    A logger bound to one stream object breaks when that stream is replaced and closed
    (a test's capture, a daemon's redirect); this one follows the replacement.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _renderer(json: bool) -> Any:
    return (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )


#: the libraries whose own log lines the hub renders like its own (web server, task queue)
LIBRARY_LOGGERS = ("uvicorn", "celery", "kombu", "amqp")

#: how the hub's own lines are set up (route_library_logs renders library lines alike)
_current: dict[str, Any] = {"json": False, "stream": None}


def configure_logging(*, json: bool = False, level: str = "INFO", stream: Any = None) -> None:
    """Configure structlog: console lines for people, JSON lines with ``--log-json``."""
    out = stream or _CurrentStderr()
    _level["value"] = _LEVELS.get(level.upper(), 20)
    _current.update(json=json, stream=out)
    renderer = _renderer(json)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_processor,
            structlog.processors.format_exc_info if json else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=cast("TextIO", out)),
        cache_logger_on_first_use=False,
    )
    route_library_logs(LIBRARY_LOGGERS, level)


class _LibraryHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`route_library_logs` installs (recognised to be replaced, not added twice)."""


def route_library_logs(names: Iterable[str], level: str) -> None:
    """Send the standard-library logs of ``names`` (``uvicorn``, ``celery``) through the
    hub's structlog rendering to stderr: JSON lines with ``--log-json`` like the hub's own,
    secrets redacted alike, nothing on stdout.

    Only these loggers, not the root logger: a library that logs each request (httpx at
    INFO, with the full URL) must not start printing.
    """
    handler = _LibraryHandler(_current["stream"] or _CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _renderer(_current["json"])],
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                _redact_processor,
            ],
        )
    )
    for name in names:
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if not isinstance(h, _LibraryHandler)] + [handler]
        logger.setLevel(level.upper())
        logger.propagate = False


def get_logger(name: str | None = None, **bound: Any) -> Any:
    logger = structlog.get_logger(name) if name else structlog.get_logger()
    return logger.bind(**bound) if bound else logger
