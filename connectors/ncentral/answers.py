"""Reading N-central's answers: errors inside a 200, error bodies, list envelopes.

* N-central's core engine sometimes reports a failure as an ``"error message"``
  attached to a ``200 OK`` ("REST API known issues and limitations: Error handling and
  communication"). :class:`Inspector` turns that into a :class:`~hub.sdk.VendorError`
  carrying N-central's text, so a failure never passes for an empty page.
* Error answers (400, 401, 403, 404, 500) have the body
  ``{"status": 401, "message": "[ID=...] UNAUTHORIZED: ..."}``; :func:`vendor_message`
  hands the ``message`` to the user.
* Paginated answers are ``{"data": [...], "pageNumber", "pageSize", "itemCount",
  "totalItems", "totalPages", "_links", "_warning"}``; single records ``{"data": {...}}``.
"""

from __future__ import annotations

from typing import Any

import httpx

from hub.sdk import HttpClient, VendorError, message_from

__all__ = ["Inspector", "error_in_body", "list_records", "single_record", "total_pages", "vendor_message"]


def error_in_body(body: Any) -> str | None:
    """N-central's "error message" of a 200 answer, under any of its spellings."""
    if not isinstance(body, dict):
        return None
    for key, value in body.items():
        if isinstance(key, str) and key.replace(" ", "").replace("_", "").lower() == "errormessage" and value:
            return str(value)
    return None


class Inspector:
    """``inspect=`` callable of the HTTP client; bound to the client once it exists."""

    def __init__(self) -> None:
        self.client: HttpClient | None = None

    def __call__(self, response: httpx.Response) -> None:
        if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
            return
        try:
            body = response.json()
        except ValueError:
            return
        message = error_in_body(body)
        if message is not None and self.client is not None:
            raise self.client.error(
                response, f"N-central reported an error in a 200 answer: {message}", VendorError
            )


#: the ``message`` of N-central's error body, or the "error message" of a 200 under any spelling
vendor_message = message_from("{message}", "{error}", "{detail}", "{errorMessage|error_message|error message}")


def _body(client: HttpClient, response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise client.error(response, "N-central sent an answer that is not JSON") from None
    if not isinstance(body, dict):
        raise client.error(response, "N-central sent an answer that is not a JSON object")
    return body


def list_records(client: HttpClient, response: httpx.Response) -> list[dict[str, Any]]:
    """The ``data`` list of a paginated answer; a clear error if the envelope is wrong."""
    data = _body(client, response).get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise client.error(response, "N-central sent a list answer without a 'data' list of records")
    return data


def single_record(client: HttpClient, response: httpx.Response) -> dict[str, Any]:
    """The ``data`` object of a single-record answer."""
    data = _body(client, response).get("data")
    if not isinstance(data, dict):
        raise client.error(response, "N-central sent a record answer without a 'data' object")
    return data


def total_pages(body: Any) -> int | None:
    """``totalPages`` of a paginated answer, when N-central states it."""
    value = body.get("totalPages") if isinstance(body, dict) else None
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None
