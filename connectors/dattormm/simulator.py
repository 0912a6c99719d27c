"""A simulator of Datto RMM's REST API v2, for tests, ``hub sandbox`` and the demo.

Every request to ``/api`` is first checked against the vendor's OpenAPI 3.1 spec with
openapi-core (:mod:`.spec`): an unknown path answers 404, a method the path does not
have 405, a parameter of the wrong type or a query parameter the operation does not
declare 400. So the connector cannot rely on anything the spec does not promise, and
requests the simulator refused are kept in :attr:`DattoSimulator.refused` for tests.

Beyond the spec, from the vendor's documentation (Datto RMM help, "Datto RMM API"):

* ``POST /auth/oauth/token`` grants access tokens for the API user's keys: HTTP Basic
  ``public-client:public`` and the form ``grant_type=password&username=<key>&
  password=<secret>``; the answer and its errors are OAuth 2.0's (RFC 6749 §5.1, §5.2:
  ``400 invalid_grant`` for wrong keys). Tokens last 100 hours on the simulator's clock
  and every other call needs ``Authorization: Bearer <token>`` (401 otherwise), except
  ``GET /v2/system/status`` ("An API access token is not necessary", the spec);
* "Requests to the API are limited to 600 requests within the past 60 seconds. When 90%
  of the request quota is exceeded, a one-second delay is introduced in the request
  response", counted per account; writes have their own budget (100 a minute in the API
  v2 documentation, ``accountWriteRateLimit``). Over a budget: 429. The delay sleeps on
  the simulator's clock and is counted in :attr:`DattoSimulator.delayed`;
* errors answer the spec's ``ErrorResponse`` (epoch-millisecond ``timestamp``,
  ``status``, ``error`` = the reason phrase, ``path`` without ``/api``), as in the spec's
  examples;
* lists are paged with ``page`` (from 0) and ``max`` (default and largest 250, as
  ``GET /v2/system/pagination`` reports) and answer ``pageDetails`` whose
  ``nextPageUrl`` is the absolute URL of the next page, or null on the last.

The control handle (:class:`DattoSimulator` itself) raises, resolves and mutes alerts,
lets time pass, forgets the tokens it issued and injects failures.
"""

from __future__ import annotations

import base64
import random
import secrets
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlencode

from openapi_core.contrib.starlette.requests import StarletteOpenAPIRequest
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound, ServerNotFound
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.sdk import Clock, InjectedFailure, Sandbox, SpecAnswer, SystemClock, spec_findings

from .auth import PUBLIC_CLIENT, TOKEN_PATH
from .paging import API_PREFIX
from .settings import MAX_PAGE_SIZE
from .sim_data import ACCOUNT_NAME, MONITORS, audit, iso, seed, uid
from .spec import request_checker, response_checker

__all__ = ["DEFAULT_KEY", "DEFAULT_SECRET", "DattoSimulator", "build_sandbox"]

DEFAULT_KEY = "SIMKEY7K2R9Q4WXA3MZP"
DEFAULT_SECRET = "SIMSECRET5T8N1VBQ6HJD2LCX4FGE"  # noqa: S105 - the simulator's own keys
#: "API access tokens expire after 100 hours"
TOKEN_SECONDS = 100 * 3600
READ_LIMIT = 600
WRITE_LIMIT = 100
WINDOW_SECONDS = 60.0
#: "When 90% of the request quota is exceeded, a one-second delay is introduced"
CUTOFF_RATIO = 0.9
STREAMS = ("customers", "devices", "active_issues")
PRIORITIES = ("Critical", "High", "Moderate", "Low", "Information", "Unknown")

Handler = Callable[[Request, dict[str, Any]], Response]


class DattoSimulator:
    """The simulated platform's state and its control handle (``hub.sandbox.SimulatorControl``)."""

    def __init__(
        self,
        *,
        size: int = 200,
        seed_value: int = 1,
        api_key: str = DEFAULT_KEY,
        api_secret: str = DEFAULT_SECRET,
        clock: Clock | None = None,
        alerts: int | None = None,
        read_limit: int = READ_LIMIT,
        write_limit: int = WRITE_LIMIT,
        page_max: int = MAX_PAGE_SIZE,
        check_answers: bool = False,
    ) -> None:
        self.clock = clock or SystemClock()
        self._offset = timedelta()
        self.api_key = api_key
        self.api_secret = api_secret
        self.read_limit = read_limit
        self.write_limit = write_limit
        self.page_max = page_max
        self.check_answers = check_answers
        self._lock = threading.RLock()
        self._failures: deque[InjectedFailure] = deque()
        self._reads: deque[datetime] = deque()
        self._writes: deque[datetime] = deque()
        self._tokens: dict[str, datetime] = {}
        self.requests: list[tuple[str, str]] = []
        #: (method, path, why) of every request the spec check refused
        self.refused: list[tuple[str, str, str]] = []
        #: answers of the simulator that did not match the spec (only with ``check_answers``)
        self.bad_answers: list[tuple[str, str]] = []
        #: answers slowed by a second because the read budget was over 90 % used
        self.delayed = 0
        self.tokens_granted = 0
        data = seed(size, seed_value, self.now())
        self.account_uid = data.account_uid
        self.sites = data.sites
        self.site_uids = data.site_uids
        self.devices = data.devices
        self.device_uids = data.device_uids
        self.serials = data.serials
        self.devices_by_site = data.devices_by_site
        self._rng = random.Random(seed_value * 7919 + 1)
        #: alertUid -> the alert as the API shows it (resolved ones included)
        self.alerts: dict[str, dict[str, Any]] = {}
        self._open: dict[str, None] = {}  # open alert uids, oldest first
        self._seed_alerts(size // 20 if alerts is None else alerts)

    # -- time -------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now() + self._offset

    def advance(self, seconds: float) -> None:
        """Let time pass on the platform only (tokens expire, budgets refill)."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    # -- SimulatorControl -------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``count`` requests (token requests included) with ``status``."""
        with self._lock:
            self._failures.extend(InjectedFailure(status, retry_after) for _ in range(count))

    def touch(self, stream: str, record_id: str | None = None) -> str:
        """Change one record now: a device checks in, a site's description changes, an
        open alert's diagnostics change."""
        with self._lock:
            if stream == "devices":
                device = self.devices[record_id or self.device_uids[0]]
                device["lastSeen"] = iso(self.now())
                return str(device["uid"])
            if stream == "customers":
                site = self.sites[record_id or self.site_uids[0]]
                site["description"] = f"{site['name']} - reviewed {iso(self.now())}"
                return str(site["uid"])
            if stream == "active_issues":
                alert = self.alerts[record_id or next(iter(self._open))]
                alert["diagnostics"] = f"{alert.get('diagnostics', '')} (again at {iso(self.now())})".strip()
                return str(alert["alertUid"])
        raise ValueError(f"unknown stream {stream!r}; streams: {', '.join(STREAMS)}")

    def count(self, stream: str) -> int:
        """Records of ``stream`` as the connector reads them by default (unmuted open alerts)."""
        with self._lock:
            if stream == "customers":
                return len(self.sites)
            if stream == "devices":
                return len(self.devices)
            if stream == "active_issues":
                return len(self._alerts_where(None, muted=False))
        raise ValueError(f"unknown stream {stream!r}; streams: {', '.join(STREAMS)}")

    # -- vendor-specific controls -------------------------------------------------------

    def forget_tokens(self) -> None:
        """The platform refuses every token it issued (as after the API user's keys are
        regenerated): the next call answers 401."""
        with self._lock:
            self._tokens.clear()

    def raise_alert(
        self,
        device_uid: str,
        monitor: str,
        priority: str = "Critical",
        diagnostics: str | None = None,
        **context: Any,
    ) -> str:
        """A monitor of a device triggers: a new open alert with a new ``alertUid``.

        ``monitor`` is the context's ``@class`` (``perf_disk_usage_ctx`` ...), ``context``
        its fields (``diskName="C:"``). Datto RMM raises a new alert each time a monitor
        triggers again, also for a problem already alerted before.
        """
        if priority not in PRIORITIES:
            raise ValueError(f"priority is one of {', '.join(PRIORITIES)}")
        with self._lock:
            device = self.devices[device_uid]
            alert_uid = uid(self._rng)
            record: dict[str, Any] = {
                "alertUid": alert_uid,
                "priority": priority,
                "diagnostics": diagnostics or _diagnostics(monitor, context),
                "resolved": False,
                "muted": False,
                "timestamp": iso(self.now()),
                "alertMonitorInfo": {"sendsEmails": True, "createsTicket": False},
                "alertContext": {"@class": monitor, **context},
                "alertSourceInfo": {
                    "deviceUid": device["uid"],
                    "deviceName": device["hostname"],
                    "siteUid": device["siteUid"],
                    "siteName": device["siteName"],
                },
                "responseActions": [],
                "autoresolveMins": 0,
            }
            self.alerts[alert_uid] = record
            self._open[alert_uid] = None
            return alert_uid

    def resolve_alert(self, alert_uid: str, by: str = "technician") -> None:
        """Someone (or auto-resolve) resolves the alert in Datto RMM: it leaves the open list."""
        with self._lock:
            self._resolve(alert_uid, by)

    def mute_alert(self, alert_uid: str, muted: bool = True) -> None:
        with self._lock:
            self.alerts[alert_uid]["muted"] = muted

    def spend(self, reads: int = 0, writes: int = 0) -> None:
        """Other API users of the account send ``reads`` and ``writes`` now: the budgets
        are per account ("the total number of requests for all users")."""
        with self._lock:
            now = self.now()
            self._reads.extend([now] * reads)
            self._writes.extend([now] * writes)

    def open_alerts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(self.alerts[a]) for a in self._open]

    def calls(self, path_prefix: str) -> int:
        """How many requests reached paths starting with ``path_prefix``."""
        return sum(1 for _, path in self.requests if path.startswith(path_prefix))

    # -- alerts -----------------------------------------------------------------------

    def _resolve(self, alert_uid: str, by: str) -> None:
        alert = self.alerts[alert_uid]
        if not alert["resolved"]:
            alert.update(resolved=True, resolvedBy=by, resolvedOn=iso(self.now()))
        self._open.pop(alert_uid, None)

    def _seed_alerts(self, count: int) -> None:
        for _ in range(min(count, len(self.device_uids))):
            monitor = self._rng.choice(sorted(MONITORS))
            context = self._rng.choice(MONITORS[monitor])
            priority = self._rng.choice(("Critical", "High", "Moderate"))
            alert_uid = self.raise_alert(self._rng.choice(self.device_uids), monitor, priority, **context)
            self.alerts[alert_uid]["timestamp"] = iso(self.now() - timedelta(minutes=self._rng.randrange(1, 4320)))

    def _alerts_where(
        self, keep: Callable[[dict[str, Any]], bool] | None, *, muted: bool | None, resolved: bool = False
    ) -> list[str]:
        uids: Iterable[str] = self._open if not resolved else (a for a in self.alerts if a not in self._open)
        return [
            a
            for a in uids
            if (muted is None or self.alerts[a]["muted"] == muted) and (keep is None or keep(self.alerts[a]))
        ]

    # -- the ASGI app -----------------------------------------------------------------

    def app(self) -> Starlette:
        read = [
            ("/v2/system/request_rate", self._request_rate),
            ("/v2/system/pagination", self._pagination),
            ("/v2/account", self._account),
            ("/v2/account/sites", self._list_sites),
            ("/v2/site/{siteUid}", self._get_site),
            ("/v2/account/devices", self._list_devices),
            ("/v2/site/{siteUid}/devices", self._list_site_devices),
            ("/v2/device/{deviceUid}", self._get_device),
            ("/v2/audit/device/{deviceUid}", self._audit("device", "Device")),
            ("/v2/audit/esxihost/{deviceUid}", self._audit("esxihost", "Device")),
            ("/v2/audit/printer/{deviceUid}", self._audit("printer", "Printer")),
            ("/v2/account/alerts/open", self._account_alerts(resolved=False)),
            ("/v2/account/alerts/resolved", self._account_alerts(resolved=True)),
            ("/v2/site/{siteUid}/alerts/open", self._site_alerts),
            ("/v2/device/{deviceUid}/alerts/open", self._device_alerts),
            ("/v2/alert/{alertUid}", self._get_alert),
        ]
        write = [
            ("/v2/alert/{alertUid}/resolve", self._resolve_endpoint),
            ("/v2/alert/{alertUid}/mute", self._mute_endpoint(True)),
            ("/v2/alert/{alertUid}/unmute", self._mute_endpoint(False)),
        ]
        routes = [Route(TOKEN_PATH, self._token, methods=["POST"])]
        routes.append(Route(API_PREFIX + "/v2/system/status", self._api(self._status, token=False), methods=["GET"]))
        routes += [Route(API_PREFIX + path, self._api(handler), methods=["GET"]) for path, handler in read]
        routes += [
            Route(API_PREFIX + path, self._api(handler, write=True), methods=["POST"]) for path, handler in write
        ]
        # anything else under /api: the spec check answers 404/405/400, or 501 if the spec has it
        routes.append(Route(API_PREFIX + "/{rest:path}", self._api(self._not_simulated),
                            methods=["GET", "POST", "PUT", "DELETE", "PATCH"]))  # fmt: skip
        return Starlette(routes=routes)

    # the pipeline: injected failures, the spec check, the token, the budget

    def _error(self, status: int, path: str, message: str | None = None, **headers: str) -> JSONResponse:
        body: dict[str, Any] = {
            "timestamp": int(self.now().timestamp() * 1000),
            "status": status,
            "error": HTTPStatus(status).phrase,
            "path": path.removeprefix(API_PREFIX),
        }
        if message:  # not in the spec's ErrorResponse: says why the simulator refused
            body["message"] = message
        return JSONResponse(body, status, headers=headers or None)

    def _injected(self, request: Request) -> InjectedFailure | None:
        with self._lock:
            self.requests.append((request.method, request.url.path))
            return self._failures.popleft() if self._failures else None

    def _check(self, request: Request, body: bytes) -> tuple[dict[str, Any], Response | None]:
        """The spec check: typed query parameters, or the refusal."""
        path = request.url.path
        result = request_checker().unmarshal_request(StarletteOpenAPIRequest(request, body or None))
        errors = list(result.errors)
        if any(isinstance(e, PathNotFound | ServerNotFound) for e in errors):
            return {}, self._refuse(request, 404, f"the spec has no path {path}")
        if any(isinstance(e, OperationNotFound) for e in errors):
            return {}, self._refuse(request, 405, f"the spec has no {request.method} {path}")
        if errors:
            return {}, self._refuse(request, 400, spec_findings(errors))
        query = dict(result.parameters.query)
        undeclared = sorted(set(request.query_params) - set(query))
        if undeclared:
            # the operation does not declare them: a client relying on them relies on
            # behaviour the spec does not promise
            return {}, self._refuse(request, 400, f"parameters the spec does not declare: {', '.join(undeclared)}")
        return query, None

    def _refuse(self, request: Request, status: int, why: str) -> Response:
        with self._lock:
            self.refused.append((request.method, request.url.path, why))
        return self._error(status, request.url.path, why)

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return False
        with self._lock:
            ends = self._tokens.get(header[7:].strip())
            return ends is not None and ends > self.now()

    def _spend(self, write: bool) -> bool:
        """Count one request against its budget; False when the budget is spent (429)."""
        with self._lock:
            now = self.now()
            window, limit = (self._writes, self.write_limit) if write else (self._reads, self.read_limit)
            while window and (now - window[0]).total_seconds() >= WINDOW_SECONDS:
                window.popleft()
            if len(window) >= limit:
                return False
            window.append(now)
            slow = not write and len(window) > CUTOFF_RATIO * limit
            if slow:
                self.delayed += 1
        if slow:
            self.clock.sleep(1.0)
        return True

    def _api(
        self, handler: Handler, *, write: bool = False, token: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            failure = self._injected(request)
            if failure is not None:
                extra = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else {}
                return self._error(failure.status, request.url.path, **extra)
            params, refused = self._check(request, await request.body())
            if refused is not None:
                return refused
            if token and not self._authorized(request):
                return self._error(401, request.url.path)
            if token and not self._spend(write):
                return self._error(429, request.url.path)
            answer = handler(request, params)
            if self.check_answers:
                self._check_answer(request, answer)
            return answer

        return endpoint

    def _check_answer(self, request: Request, answer: Response) -> None:
        content_type = answer.headers.get("content-type", "application/json")
        reply = SpecAnswer(bytes(answer.body), answer.status_code, content_type, dict(answer.headers))
        result = response_checker().unmarshal_response(StarletteOpenAPIRequest(request), reply)
        if result.errors:
            with self._lock:
                self.bad_answers.append((request.url.path, spec_findings(result.errors)))

    # auth (from the vendor's documentation, not the spec)

    async def _token(self, request: Request) -> Response:
        failure = self._injected(request)
        if failure is not None:
            extra = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else None
            return _oauth_error(failure.status, "unauthorized" if failure.status == 401 else "server_error",
                                "injected failure", extra)  # fmt: skip
        client = base64.b64encode(f"{PUBLIC_CLIENT[0]}:{PUBLIC_CLIENT[1]}".encode()).decode()
        if request.headers.get("authorization", "") != f"Basic {client}":
            return _oauth_error(401, "unauthorized", "Full authentication is required to access this resource")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "the token request is a form (x-www-form-urlencoded)")
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode(errors="replace")).items()}
        if form.get("grant_type") != "password":
            return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {form.get('grant_type')}")
        key_ok = secrets.compare_digest(form.get("username", "").encode(), self.api_key.encode())
        secret_ok = secrets.compare_digest(form.get("password", "").encode(), self.api_secret.encode())
        if not (key_ok and secret_ok):
            return _oauth_error(400, "invalid_grant", "Bad credentials")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = self.now() + timedelta(seconds=TOKEN_SECONDS)
            self.tokens_granted += 1
        return JSONResponse(
            {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_SECONDS - 1, "scope": "default"},
            headers={"Cache-Control": "no-store"},
        )

    # paging

    def _page(self, request: Request, params: dict[str, Any], key: str, ids: list[str],
              render: Callable[[str], dict[str, Any]]) -> Response:  # fmt: skip
        page = int(params.get("page", 0))
        size = int(params.get("max", self.page_max))
        if page < 0 or size < 1:
            return self._refuse(request, 400, "page starts at 0 and max is at least 1")
        size = min(size, self.page_max)
        start = page * size
        with self._lock:
            items = [render(i) for i in ids[start : start + size]]

        def link(number: int) -> str:
            query = {k: v for k, v in request.query_params.items() if k not in ("page", "max")}
            query.update(max=str(size), page=str(number))
            return f"{str(request.base_url).rstrip('/')}{request.url.path}?{urlencode(query)}"

        details = {
            "count": len(items),
            "totalCount": len(ids),
            "prevPageUrl": link(page - 1) if page > 0 else None,
            "nextPageUrl": link(page + 1) if start + size < len(ids) else None,
        }
        return JSONResponse({"pageDetails": details, key: items})

    # system and account

    def _status(self, request: Request, params: dict[str, Any]) -> Response:
        return JSONResponse({"version": "2.0.0", "status": "OK", "started": iso(self.now() - timedelta(days=3))})

    def _pagination(self, request: Request, params: dict[str, Any]) -> Response:
        return JSONResponse({"max": self.page_max})

    def _request_rate(self, request: Request, params: dict[str, Any]) -> Response:
        with self._lock:
            body = {
                "slidingTimeWindowSizeSeconds": int(WINDOW_SECONDS),
                "accountUid": self.account_uid,
                "accountCount": len(self._reads),
                "accountRateLimit": self.read_limit,
                "accountCutOffRatio": CUTOFF_RATIO,
                "accountWriteRateLimit": self.write_limit,
                "accountWriteCount": len(self._writes),
                "operationWriteStatus": {},
            }
        return JSONResponse(body)

    def _account(self, request: Request, params: dict[str, Any]) -> Response:
        with self._lock:
            online = sum(1 for d in self.devices.values() if d["online"])
            body = {
                "id": 1024,
                "name": ACCOUNT_NAME,
                "uid": self.account_uid,
                "currency": "USD",
                "descriptor": {"deviceLimit": 0, "timeZone": "UTC"},
                "devicesStatus": {"numberOfDevices": len(self.devices), "numberOfOnlineDevices": online,
                                  "numberOfOfflineDevices": len(self.devices) - online,
                                  "numberOfOnDemandDevices": 0, "numberOfManagedDevices": len(self.devices)},
            }  # fmt: skip
        return JSONResponse(body)

    # sites

    def _site_view(self, site_uid: str) -> dict[str, Any]:
        devices = self.devices_by_site.get(site_uid, [])
        online = sum(1 for d in devices if self.devices[d]["online"])
        status = {"numberOfDevices": len(devices), "numberOfOnlineDevices": online,
                  "numberOfOfflineDevices": len(devices) - online}  # fmt: skip
        return {**self.sites[site_uid], "devicesStatus": status}

    def _list_sites(self, request: Request, params: dict[str, Any]) -> Response:
        like = str(params.get("siteName") or "").casefold()
        with self._lock:
            ids = [s for s in self.site_uids if like in self.sites[s]["name"].casefold()]
        return self._page(request, params, "sites", ids, self._site_view)

    def _get_site(self, request: Request, params: dict[str, Any]) -> Response:
        site_uid = request.path_params["siteUid"]
        with self._lock:
            if site_uid not in self.sites:
                return self._error(404, request.url.path)
            return JSONResponse(self._site_view(site_uid))

    # devices

    def _device_view(self, device_uid: str) -> dict[str, Any]:
        return dict(self.devices[device_uid])

    def _list_devices(self, request: Request, params: dict[str, Any]) -> Response:
        if params.get("filterId") is not None:
            return self._error(404, request.url.path)  # no device filters exist in the simulator
        likes = {
            field: str(params[name]).casefold()
            for name, field in (("hostname", "hostname"), ("operatingSystem", "operatingSystem"),
                                ("siteName", "siteName"))
            if params.get(name)
        }  # fmt: skip
        kind = str(params.get("deviceType") or "").casefold()
        with self._lock:
            ids = [
                d
                for d in self.device_uids
                if all(v in str(self.devices[d][f]).casefold() for f, v in likes.items())
                and (not kind or kind in self.devices[d]["deviceType"]["category"].casefold())
            ]
        return self._page(request, params, "devices", ids, self._device_view)

    def _list_site_devices(self, request: Request, params: dict[str, Any]) -> Response:
        site_uid = request.path_params["siteUid"]
        if params.get("filterId") is not None:
            return self._error(404, request.url.path)
        with self._lock:
            if site_uid not in self.sites:
                return self._error(404, request.url.path)
            ids = list(self.devices_by_site[site_uid])
        return self._page(request, params, "devices", ids, self._device_view)

    def _get_device(self, request: Request, params: dict[str, Any]) -> Response:
        device_uid = request.path_params["deviceUid"]
        with self._lock:
            if device_uid not in self.devices:
                return self._error(404, request.url.path)
            return JSONResponse(self._device_view(device_uid))

    def _audit(self, device_class: str, noun: str) -> Handler:
        def handler(request: Request, params: dict[str, Any]) -> Response:
            device_uid = request.path_params["deviceUid"]
            with self._lock:
                device = self.devices.get(device_uid)
                if device is None:
                    return self._error(404, request.url.path, f"{noun} was not found.")
                if device["deviceClass"] != device_class:
                    # the spec: "The device identified by the given device UID is not of class ..."
                    return self._error(400, request.url.path, f"The device is not of class {device_class}.")
                return JSONResponse(audit(device, self.serials.get(device_uid)))

        return handler

    # alerts

    def _alert_page(self, request: Request, params: dict[str, Any], ids: list[str]) -> Response:
        return self._page(request, params, "alerts", ids, lambda a: dict(self.alerts[a]))

    def _account_alerts(self, *, resolved: bool) -> Handler:
        def handler(request: Request, params: dict[str, Any]) -> Response:
            with self._lock:
                ids = self._alerts_where(None, muted=params.get("muted"), resolved=resolved)
            return self._alert_page(request, params, ids)

        return handler

    def _site_alerts(self, request: Request, params: dict[str, Any]) -> Response:
        site_uid = request.path_params["siteUid"]
        with self._lock:
            if site_uid not in self.sites:
                return self._error(404, request.url.path)
            ids = self._alerts_where(lambda a: a["alertSourceInfo"]["siteUid"] == site_uid, muted=params.get("muted"))
        return self._alert_page(request, params, ids)

    def _device_alerts(self, request: Request, params: dict[str, Any]) -> Response:
        device_uid = request.path_params["deviceUid"]
        with self._lock:
            if device_uid not in self.devices:
                return self._error(404, request.url.path)
            ids = self._alerts_where(lambda a: a["alertSourceInfo"]["deviceUid"] == device_uid,
                                     muted=params.get("muted"))  # fmt: skip
        return self._alert_page(request, params, ids)

    def _get_alert(self, request: Request, params: dict[str, Any]) -> Response:
        alert_uid = request.path_params["alertUid"]
        with self._lock:
            if alert_uid not in self.alerts:
                # the spec lists no answer for an unknown alert; the platform's answer for
                # other unknown records is 404
                return self._error(404, request.url.path)
            return JSONResponse(dict(self.alerts[alert_uid]))

    def _resolve_endpoint(self, request: Request, params: dict[str, Any]) -> Response:
        alert_uid = request.path_params["alertUid"]
        with self._lock:
            if alert_uid not in self.alerts:
                return self._error(404, request.url.path)
            self._resolve(alert_uid, "API")
        return Response(status_code=200)

    def _mute_endpoint(self, muted: bool) -> Handler:
        def handler(request: Request, params: dict[str, Any]) -> Response:
            alert_uid = request.path_params["alertUid"]
            with self._lock:
                if alert_uid not in self.alerts:
                    return self._error(404, request.url.path)
                self.alerts[alert_uid]["muted"] = muted
            return Response(status_code=200)

        return handler

    def _not_simulated(self, request: Request, params: dict[str, Any]) -> Response:
        return self._error(501, request.url.path, "the spec has this operation; the simulator does not imitate it")


def _oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An OAuth 2.0 error answer (RFC 6749 §5.2)."""
    return JSONResponse({"error": error, "error_description": description}, status, headers=headers)


def _diagnostics(monitor: str, context: dict[str, Any]) -> str:
    """A diagnostics text as the platform writes it: it changes between alerts of one problem."""
    instance = " ".join(str(v) for v in context.values() if isinstance(v, str))
    return f"{monitor.removesuffix('_ctx').replace('_', ' ')} {instance}".strip() + " - threshold exceeded"


def build_sandbox(
    *,
    size: int = 200,
    seed: int = 1,
    clock: Clock | None = None,
    alerts: int | None = None,
    api_key: str = DEFAULT_KEY,
    api_secret: str = DEFAULT_SECRET,
    read_limit: int = READ_LIMIT,
    write_limit: int = WRITE_LIMIT,
    page_max: int = MAX_PAGE_SIZE,
    check_answers: bool = False,
) -> Sandbox:
    """The simulator as a :class:`hub.sdk.Sandbox`; ``settings(base_url)`` points the connector at it."""
    simulator = DattoSimulator(
        size=size,
        seed_value=seed,
        api_key=api_key,
        api_secret=api_secret,
        clock=clock,
        alerts=alerts,
        read_limit=read_limit,
        write_limit=write_limit,
        page_max=page_max,
        check_answers=check_answers,
    )
    return Sandbox(
        app=simulator.app(),
        settings=lambda base_url: {"api_url": base_url, "api_key": api_key, "api_secret": api_secret},
        control=simulator,
    )
