"""Typed errors of the hub.

Every error a user can see says what happened in one line, carries the URL (without
secrets) and the vendor's own message where there is one, and knows its failure type:
``config`` (fix your settings; exit 2), ``transient`` (retry later) or ``system``
(a bug or a vendor refusal). The CLI maps them to exit codes; the sync engine decides
from them whether to dead-letter a record or stop the run.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "ConflictError",
    "FailureType",
    "HttpError",
    "HubError",
    "NotFoundError",
    "OutcomeUnknown",
    "PermissionDeniedError",
    "RateLimitedError",
    "RecordRejected",
    "TransientError",
    "VendorError",
    "WebhookRejected",
]


class FailureType(StrEnum):
    config = "config"
    transient = "transient"
    system = "system"


class HubError(Exception):
    """Base of all hub errors; ``str(err)`` is the one line shown to the user."""

    failure_type: FailureType = FailureType.system


class ConfigError(HubError):
    """Missing or invalid settings, or bad input on the command line (exit 2)."""

    failure_type = FailureType.config


class RecordRejected(HubError):
    """A single record cannot be written as it is; the run dead-letters it and goes on."""


class HttpError(HubError):
    """An HTTP exchange with a vendor failed.

    ``url`` never holds secrets (the HTTP layer redacts it before building the error);
    ``vendor_message`` is the vendor's own text, the most useful line for the user.
    """

    def __init__(
        self,
        message: str,
        *,
        connector: str | None = None,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
        vendor_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.connector = connector
        self.method = method
        self.url = url
        self.status = status
        self.vendor_message = vendor_message
        self.retry_after = retry_after
        self.message = message
        super().__init__(self._line())

    def _line(self) -> str:
        parts = [f"{self.connector}: " if self.connector else "", self.message]
        if self.vendor_message and self.vendor_message not in self.message:
            parts.append(f": {self.vendor_message}")
        where = " ".join(p for p in (self.method, self.url) if p)
        if where or self.status:
            status = f" -> {self.status}" if self.status else ""
            parts.append(f" ({where}{status})")
        return "".join(parts)


class AuthenticationError(HttpError):
    """401: credentials missing, wrong or expired. The message names the settings to check."""

    failure_type = FailureType.config


class PermissionDeniedError(HttpError):
    """403: the API user is known but may not do this."""

    failure_type = FailureType.config


class NotFoundError(HttpError):
    """404: the record or path does not exist."""


class ConflictError(HttpError):
    """The record changed under us (stale sync token, version conflict)."""


class RateLimitedError(HttpError):
    """429 (or a vendor's equivalent) that outlasted our retries."""

    failure_type = FailureType.transient


class TransientError(HttpError):
    """5xx, timeouts and connection failures that outlasted our retries."""

    failure_type = FailureType.transient


class OutcomeUnknown(TransientError):
    """A write may or may not have been applied, and sending it again could apply it twice.

    Raised by the HTTP layer for a request that is not safe to repeat (a create) when
    the request left but its answer was lost: a timeout after sending, a dropped
    connection, a 5xx from a gateway. Never retried blindly: the one write path
    (``hub.writes``) looks the record up first (``settle`` seconds later, so a slow
    vendor can finish), and only sends again when the vendor provably does not hold it.
    """

    def __init__(self, message: str, *, settle: float = 0.0, **kwargs: Any) -> None:
        self.settle = settle
        super().__init__(message, **kwargs)


class VendorError(HttpError):
    """Any other refusal, with the vendor's own message (400, 422, a Fault in a 200)."""


class WebhookRejected(HubError):
    """An incoming webhook failed verification or parsing; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 401) -> None:
        self.status = status
        super().__init__(message)
