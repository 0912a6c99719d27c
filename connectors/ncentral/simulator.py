"""A simulator of N-central's API-Service (REST), for tests and ``hub demo``.

Faithful to the published API where the connector depends on it:

* ``POST /api/auth/authenticate`` takes the User-API Token as ``Bearer`` and answers with
  an access token (``Bearer``, 3600 s) and a refresh token (``Body``, 90000 s);
  ``POST /api/auth/refresh`` takes the refresh token as the request body. Tokens expire
  on the simulator's clock, and :meth:`NcentralSimulator.restart` forgets them all, as a
  rebooted N-central does (its keys live in memory);
* ``GET /api/org-units``, ``/api/customers``, ``/api/devices`` (with ``sortBy`` /
  ``sortOrder``), ``/api/devices/{id}``, ``/api/devices/{id}/assets``,
  ``/api/org-units/{id}``, ``/api/customers/{id}`` and
  ``/api/org-units/{id}/active-issues`` (customers and sites only), paged with
  ``pageNumber`` (from 1) and ``pageSize`` (1 to 1000, default 50) and answered in the
  ``data`` / ``pageNumber`` / ``pageSize`` / ``itemCount`` / ``totalItems`` /
  ``totalPages`` / ``_links`` envelope;
* errors as ``{"status": 401, "message": "[ID=...] UNAUTHORIZED: ..."}``; an error inside
  a ``200`` as ``{"error message": "..."}`` (on command); 429 when more calls are in
  flight on one endpoint than its limit, or when the optional request ``budget`` is spent.

The control handle (:class:`NcentralSimulator` itself) raises, repeats and clears alerts
on devices, lets time pass, restarts the server and injects failures.
"""

from __future__ import annotations

import random
import secrets
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.sdk import Clock, InjectedFailure, Sandbox, SystemClock

from .sim_data import SERVICES, assets, iso, seed
from .states import NotificationState

__all__ = ["DEFAULT_JWT", "NcentralSimulator", "build_sandbox"]

DEFAULT_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJodWItc2FuZGJveCJ9.c2ltdWxhdG9yLXVzZXItYXBpLXRva2Vu"
#: documented per-endpoint concurrency caps are 3 to 50; active issues is the strictest
DEFAULT_CONCURRENCY = {"active-issues": 3}
DEFAULT_ENDPOINT_CONCURRENCY = 5
STREAMS = ("org_units", "customers", "devices", "active_issues")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    trace = secrets.token_hex(4)
    labels = {
        400: "BAD REQUEST",
        401: "UNAUTHORIZED",
        403: "FORBIDDEN",
        404: "NOT FOUND",
        429: "TOO MANY REQUESTS",
    }
    label = labels.get(status, "INTERNAL SERVER ERROR" if status >= 500 else "ERROR")
    return JSONResponse(
        {"status": status, "message": f"[ID={trace}] {label}: {message}"}, status, headers=headers
    )


class NcentralSimulator:
    """The simulated server's state and its control handle (``hub.sandbox.SimulatorControl``)."""

    def __init__(
        self,
        *,
        size: int = 200,
        seed_value: int = 1,
        jwt: str = DEFAULT_JWT,
        clock: Clock | None = None,
        budget: int | None = None,
        budget_window: float = 60.0,
        access_seconds: int = 3600,
        refresh_seconds: int = 90000,
        alerts: int | None = None,
        id_base: int = 0,
    ) -> None:
        self.clock = clock or SystemClock()
        self._offset = timedelta()
        self.jwt = jwt
        self.budget = budget
        self.budget_window = budget_window
        self.access_seconds = access_seconds
        self.refresh_seconds = refresh_seconds
        self.concurrency = dict(DEFAULT_CONCURRENCY)
        self._lock = threading.RLock()
        self._in_flight: dict[str, int] = {}
        #: endpoint -> (calls other clients keep in flight, until when)
        self._occupied: dict[str, tuple[int, datetime]] = {}
        self._recent: deque[datetime] = deque()
        self._failures: deque[InjectedFailure] = deque()
        self._errors_in_200: deque[str] = deque()
        self._access: dict[str, datetime] = {}
        self._refresh: dict[str, datetime] = {}
        self.requests: list[tuple[str, str]] = []
        self.restarts = 0
        data = seed(size, seed_value, self.now(), id_base)
        self.so_id = data.so_id
        self.org_units = data.org_units
        self.customer_ids = data.customer_ids
        self.devices = data.devices
        self.device_ids = sorted(data.devices)
        self.serials = data.serials
        self.devices_by_org_unit = data.devices_by_org_unit
        #: (deviceId, service, condition) lower-cased -> taskId: monitored tasks persist
        self._tasks: dict[tuple[int, str, str], int] = {}
        self._task_info: dict[int, dict[str, Any]] = {}
        #: taskId -> (state, transition time) of the tasks that are an active issue now
        self.issues: dict[int, tuple[NotificationState, datetime]] = {}
        self._next_task = 2_096_172_301
        self._seed_alerts(size // 20 if alerts is None else alerts, seed_value)

    # -- time -------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now() + self._offset

    def advance(self, seconds: float) -> None:
        """Let time pass on the server only (tokens expire, budgets refill)."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    # -- SimulatorControl -------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``count`` requests (token exchange included) with ``status``."""
        with self._lock:
            self._failures.extend(InjectedFailure(status, retry_after) for _ in range(count))

    def fail_in_200(self, message: str = "Unexpected response from DMS", count: int = 1) -> None:
        """Answer the next ``count`` API calls with ``200 {"error message": message}``."""
        with self._lock:
            self._errors_in_200.extend([message] * count)

    def touch(self, stream: str, record_id: str | None = None) -> str:
        """Change one record now: a device checks in, an org unit's phone changes, an
        active issue is notified again."""
        with self._lock:
            if stream == "devices":
                device_id = int(record_id) if record_id else self.device_ids[0]
                seen = iso(self.now())
                self.devices[device_id].update(
                    lastApplianceCheckinTime=seen, lastApplianceCheckinTimeLocal=seen
                )
                return str(device_id)
            if stream in ("org_units", "customers"):
                unit_id = int(record_id) if record_id else self.customer_ids[0]
                self.org_units[unit_id]["phone"] = f"(613) 555-{secrets.randbelow(10000):04d}"
                return str(unit_id)
            if stream == "active_issues":
                task_id = int(record_id) if record_id else min(self.issues)
                self.repeat_alert(task_id)
                return str(task_id)
        raise ValueError(f"unknown stream {stream!r}; streams: {', '.join(STREAMS)}")

    def count(self, stream: str) -> int:
        counts: dict[str, Callable[[], int]] = {
            "org_units": lambda: len(self.org_units),
            "customers": lambda: len(self.customer_ids),
            "devices": lambda: len(self.devices),
            "active_issues": lambda: len(self.issues),
        }
        if stream not in counts:
            raise ValueError(f"unknown stream {stream!r}; streams: {', '.join(STREAMS)}")
        return counts[stream]()

    # -- vendor-specific controls -------------------------------------------------------

    def restart(self) -> None:
        """Reboot the server: every access and refresh token is forgotten."""
        with self._lock:
            self._access.clear()
            self._refresh.clear()
            self.restarts += 1

    def raise_alert(
        self, device_id: int | str, service: str, condition: str = "", severity: str = "Failed"
    ) -> str:
        """A monitored service on a device goes into ``severity`` (Failed, Warning, ...).

        The task (and so the issue's ``taskId``) is the same every time the same service
        and condition fail on the same device: N-central's monitoring tasks persist.
        """
        state = NotificationState.from_label(severity)
        if state is NotificationState.NORMAL:
            raise ValueError("a Normal service is not an active issue; use clear_alert")
        with self._lock:
            task_id = self._task(int(device_id), service, condition)
            self.issues[task_id] = (state, self.now())
            return str(task_id)

    def repeat_alert(self, task_id: int | str, severity: str | None = None) -> str:
        """The same problem notified again (and possibly escalated): same ``taskId``,
        a new transition time."""
        with self._lock:
            current, _ = self.issues[int(task_id)]
            state = NotificationState.from_label(severity) if severity else current
            self.issues[int(task_id)] = (state, self.now())
            return str(task_id)

    def clear_alert(self, task_id: int | str) -> None:
        """The service is Normal again: the issue leaves the active issues."""
        with self._lock:
            self.issues.pop(int(task_id), None)

    def occupy(self, endpoint: str, calls: int, seconds: float) -> None:
        """Other clients keep ``calls`` requests in flight on ``endpoint`` (``"customers"``,
        ``"devices"``, ``"active-issues"`` ...) for ``seconds``: at the endpoint's limit,
        N-central answers 429 until they finish."""
        with self._lock:
            self._occupied[endpoint] = (calls, self.now() + timedelta(seconds=seconds))

    def _others(self, endpoint: str) -> int:
        calls, until = self._occupied.get(endpoint, (0, self.now()))
        return calls if self.now() < until else 0

    def active_issue(self, task_id: int | str) -> dict[str, Any]:
        """The active issue as the API shows it."""
        with self._lock:
            return self._issue_record(int(task_id))

    def calls(self, path_prefix: str) -> int:
        """How many requests reached paths starting with ``path_prefix``."""
        return sum(1 for _, path in self.requests if path.startswith(path_prefix))

    # -- alerts -----------------------------------------------------------------------

    def _task(self, device_id: int, service: str, condition: str) -> int:
        if device_id not in self.devices:
            raise ValueError(f"no device {device_id}")
        key = (device_id, service.strip().lower(), condition.strip().lower())
        if key not in self._tasks:
            self._next_task += 1
            service_id, service_type, _ = SERVICES.get(
                service, (900 + len(self._task_info) % 100, "Agent", ())
            )
            self._tasks[key] = self._next_task
            self._task_info[self._next_task] = {
                "deviceId": device_id,
                "serviceId": service_id,
                "serviceName": service,
                "serviceType": service_type,
                "serviceItemId": 30000 + self._next_task % 10000,
                "taskIdent": condition,
            }
        return self._tasks[key]

    def _seed_alerts(self, count: int, seed_value: int) -> None:
        rng = random.Random(seed_value * 7919 + 1)
        names = sorted(SERVICES)
        for _ in range(min(count, len(self.device_ids))):
            service = rng.choice(names)
            condition = rng.choice(SERVICES[service][2])
            state = rng.choice((NotificationState.FAILED, NotificationState.WARNING))
            task_id = self._task(rng.choice(self.device_ids), service, condition)
            moment = self.now() - timedelta(minutes=rng.randrange(1, 3 * 24 * 60))
            self.issues[task_id] = (state, moment)

    def _issue_record(self, task_id: int) -> dict[str, Any]:
        info = self._task_info[task_id]
        state, moment = self.issues[task_id]
        device = self.devices[info["deviceId"]]
        customer = self.org_units[device["customerId"]]
        tree = ["System", self.org_units[self.so_id]["orgUnitName"], customer["orgUnitName"]]
        if device.get("siteId"):
            tree.append(self.org_units[device["siteId"]]["orgUnitName"])
        return {
            # an issue names the org unit its device is registered to: the site, for a device at a
            # site (ActiveIssue.orgUnitId in the API-Service description; the customer is only in
            # _extra.customerTree), so a customer's list holds issues of several org units
            "orgUnitId": device["orgUnitId"],
            "deviceId": info["deviceId"],
            "notificationState": int(state),
            "serviceId": info["serviceId"],
            "serviceName": info["serviceName"],
            "serviceType": info["serviceType"],
            "taskId": task_id,
            "serviceItemId": info["serviceItemId"],
            "_extra": {
                "deviceName": device["longName"],
                "deviceClassLabel": device["deviceClassLabel"],
                "transitionTime": iso(moment),
                "taskIdent": info["taskIdent"],
                "customerTree": tree,
                "soCustomerID": self.so_id,
                "licenseMode": device["licenseMode"],
                "acknowledgedBy": "",
                "numberOfActiveNotification": 1,
                "monitoringDisabled": False,
                "psaIntegrationExists": False,
                "probe": False,
            },
        }

    # -- the ASGI app -----------------------------------------------------------------

    def app(self) -> Starlette:
        routes = [
            Route("/api/auth/authenticate", self._authenticate, methods=["POST"]),
            Route("/api/auth/refresh", self._refresh_tokens, methods=["POST"]),
            Route("/api/auth/validate", self._api("validate", self._validate), methods=["GET"]),
            Route("/api/health", self._health, methods=["GET"]),
            Route("/api/org-units", self._api("org-units", self._list_org_units), methods=["GET"]),
            Route("/api/org-units/{oid:int}", self._api("org-unit", self._get_org_unit), methods=["GET"]),
            Route(
                "/api/org-units/{oid:int}/active-issues",
                self._api("active-issues", self._list_active_issues),
                methods=["GET"],
            ),
            Route("/api/customers", self._api("customers", self._list_customers), methods=["GET"]),
            Route("/api/customers/{oid:int}", self._api("customer", self._get_customer), methods=["GET"]),
            Route("/api/devices", self._api("devices", self._list_devices), methods=["GET"]),
            Route("/api/devices/{did:int}", self._api("device", self._get_device), methods=["GET"]),
            Route("/api/devices/{did:int}/assets", self._api("assets", self._get_assets), methods=["GET"]),
        ]
        return Starlette(routes=routes)

    # gatekeeping: failures, budget, concurrency, tokens

    def _gate(self, request: Request) -> Response | None:
        with self._lock:
            self.requests.append((request.method, request.url.path))
            if self._failures:
                failure = self._failures.popleft()
                headers = (
                    {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else None
                )
                message = {
                    401: "UnauthorizedException: Invalid or expired token.",
                    429: "Too many requests.",
                }.get(failure.status, "UnexpectedDmsResponseException: Unexpected response from DMS.")
                return _error(failure.status, message, headers)
            if self.budget is not None:
                now = self.now()
                while self._recent and (now - self._recent[0]).total_seconds() >= self.budget_window:
                    self._recent.popleft()
                if len(self._recent) >= self.budget:
                    return _error(429, "Too many requests.")
                self._recent.append(now)
        return None

    def _token_ok(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return _error(401, "UnauthorizedException: Missing authorization header bearer.")
        token = header[7:].strip()
        with self._lock:
            ends = self._access.get(token)
            if ends is None or ends <= self.now():
                return _error(401, "UnauthorizedException: Invalid or expired access token.")
        return None

    def _api(self, endpoint: str, handler: Callable[[Request], Response]) -> Callable[[Request], Any]:
        limit = self.concurrency.get(endpoint, DEFAULT_ENDPOINT_CONCURRENCY)

        def endpoint_fn(request: Request) -> Response:
            refused = self._gate(request) or self._token_ok(request)
            if refused is not None:
                return refused
            with self._lock:
                if self._in_flight.get(endpoint, 0) + self._others(endpoint) >= limit:
                    return _error(429, "Too many concurrent requests.")
                self._in_flight[endpoint] = self._in_flight.get(endpoint, 0) + 1
                in_200 = self._errors_in_200.popleft() if self._errors_in_200 else None
            try:
                if in_200 is not None:
                    return JSONResponse({"error message": in_200}, 200)
                return handler(request)
            finally:
                with self._lock:
                    self._in_flight[endpoint] -= 1

        return endpoint_fn

    # auth

    def _issue_tokens(self) -> JSONResponse:
        access, refresh = "eyJ" + secrets.token_urlsafe(32), "eyJ" + secrets.token_urlsafe(32)
        now = self.now()
        with self._lock:
            self._access[access] = now + timedelta(seconds=self.access_seconds)
            self._refresh[refresh] = now + timedelta(seconds=self.refresh_seconds)
        return JSONResponse(
            {
                "tokens": {
                    "access": {"token": access, "type": "Bearer", "expirySeconds": self.access_seconds},
                    "refresh": {"token": refresh, "type": "Body", "expirySeconds": self.refresh_seconds},
                },
                "refresh": "/api/auth/refresh",
                "validate": "/api/auth/validate",
            }
        )

    def _authenticate(self, request: Request) -> Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return _error(401, "UnauthorizedException: Missing authorization header bearer.")
        if not secrets.compare_digest(header[7:].strip().encode(), self.jwt.encode()):
            return _error(401, "UnauthorizedException: The JWT is invalid or has been revoked.")
        return self._issue_tokens()

    async def _refresh_tokens(self, request: Request) -> Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        token = (await request.body()).decode(errors="replace").strip()
        with self._lock:
            ends = self._refresh.pop(token, None)
        if ends is None or ends <= self.now():
            return _error(401, "UnauthorizedException: Invalid or expired refresh token.")
        return self._issue_tokens()

    def _validate(self, request: Request) -> Response:
        return JSONResponse({"message": "The token is valid."})

    def _health(self, request: Request) -> Response:
        refused = self._gate(request)
        return refused or JSONResponse({"currentTime": iso(self.now())})

    # paging

    @staticmethod
    def _page(request: Request) -> tuple[int, int] | Response:
        try:
            number = int(request.query_params.get("pageNumber", "1"))
            size = int(request.query_params.get("pageSize", "50"))
        except ValueError:
            return _error(400, "BadRequestException: pageNumber and pageSize must be numbers.")
        if number < 1 or not 1 <= size <= 1000:
            return _error(400, "BadRequestException: pageNumber starts at 1; pageSize is between 1 and 1000.")
        return number, size

    def _envelope(
        self, path: str, items: list[dict[str, Any]], number: int, size: int, total: int
    ) -> JSONResponse:
        pages = (total + size - 1) // size

        def link(n: int) -> str:
            return f"{path}?{urlencode({'pageNumber': n, 'pageSize': size})}"

        links: dict[str, str] = {"firstPage": link(1)}
        if number > 1:
            links["previousPage"] = link(min(number - 1, max(pages, 1)))
        if number < pages:
            links["nextPage"] = link(number + 1)
        links["lastPage"] = link(max(pages, 1))
        return JSONResponse(
            {
                "data": items,
                "pageNumber": number,
                "pageSize": size,
                "itemCount": len(items),
                "totalItems": total,
                "totalPages": pages,
                "_links": links,
            }
        )

    def _paged(
        self, request: Request, path: str, ids: list[int], render: Callable[[int], dict[str, Any]]
    ) -> Response:
        paging = self._page(request)
        if isinstance(paging, Response):
            return paging
        number, size = paging
        start = (number - 1) * size
        with self._lock:
            items = [render(i) for i in ids[start : start + size]]
        return self._envelope(path, items, number, size, len(ids))

    # org units and customers

    def _customer_view(self, oid: int) -> dict[str, Any]:
        unit = self.org_units[oid]
        view = {"customerId": unit["orgUnitId"], "customerName": unit["orgUnitName"]}
        view.update({k: v for k, v in unit.items() if k not in ("orgUnitId", "orgUnitName")})
        view.update(isSystem=False, isServiceOrg=False)
        return view

    def _list_org_units(self, request: Request) -> Response:
        return self._paged(
            request, "/api/org-units", sorted(self.org_units), lambda i: dict(self.org_units[i])
        )

    def _list_customers(self, request: Request) -> Response:
        return self._paged(request, "/api/customers", self.customer_ids, self._customer_view)

    def _get_org_unit(self, request: Request) -> Response:
        oid = request.path_params["oid"]
        if oid not in self.org_units:
            return _error(404, f"ResourceNotFoundException: Organization unit with ID {oid} was not found!")
        return JSONResponse({"data": dict(self.org_units[oid]), "_links": {}})

    def _get_customer(self, request: Request) -> Response:
        oid = request.path_params["oid"]
        if oid not in self.org_units or self.org_units[oid]["orgUnitType"] != "CUSTOMER":
            return _error(404, f"ResourceNotFoundException: Customer with ID {oid} was not found!")
        return JSONResponse({"data": self._customer_view(oid), "_links": {}})

    # devices

    def _list_devices(self, request: Request) -> Response:
        sort_by = request.query_params.get("sortBy", "deviceId")
        order = request.query_params.get("sortOrder", "asc").lower()
        if sort_by not in ("deviceId", "longName", "lastApplianceCheckinTime"):
            return _error(400, f"BadRequestException: Cannot sort by '{sort_by}'.")
        if order not in ("asc", "ascending", "natural", "desc", "descending", "reverse"):
            return _error(400, f"BadRequestException: Invalid sortOrder '{order}'.")
        ids = self.device_ids
        if sort_by != "deviceId":
            ids = sorted(ids, key=lambda d: (self.devices[d][sort_by], d))
        if order in ("desc", "descending", "reverse"):
            ids = list(reversed(ids))
        return self._paged(request, "/api/devices", ids, lambda d: dict(self.devices[d]))

    def _get_device(self, request: Request) -> Response:
        did = request.path_params["did"]
        if did not in self.devices:
            return _error(404, f"ResourceNotFoundException: Device with ID {did} was not found!")
        return JSONResponse({"data": dict(self.devices[did]), "_links": {}})

    def _get_assets(self, request: Request) -> Response:
        did = request.path_params["did"]
        if did not in self.devices:
            return _error(404, f"ResourceNotFoundException: Device with ID {did} was not found!")
        return JSONResponse({"data": assets(self.devices[did], self.serials[did]), "_links": {}})

    # active issues

    def _list_active_issues(self, request: Request) -> Response:
        oid = request.path_params["oid"]
        unit = self.org_units.get(oid)
        if unit is None:
            return _error(404, f"ResourceNotFoundException: Organization unit with ID {oid} was not found!")
        if unit["orgUnitType"] not in ("CUSTOMER", "SITE"):
            return _error(
                400, "BadRequestException: Active issues are only supported for customers and sites."
            )
        with self._lock:
            devices = set(self.devices_by_org_unit.get(oid, ()))
            ids = sorted(t for t in self.issues if self._task_info[t]["deviceId"] in devices)
        return self._paged(request, f"/api/org-units/{oid}/active-issues", ids, self._issue_record)


def build_sandbox(
    *,
    size: int = 200,
    seed: int = 1,
    budget: int | None = None,
    budget_window: float = 60.0,
    clock: Clock | None = None,
    jwt: str = DEFAULT_JWT,
    access_seconds: int = 3600,
    refresh_seconds: int = 90000,
    alerts: int | None = None,
    id_base: int = 0,
) -> Sandbox:
    """The simulator as a :class:`hub.sdk.Sandbox`; ``settings(base_url)`` points the connector at it.
    ``id_base`` moves every org unit and device id (another server's ids)."""
    simulator = NcentralSimulator(
        size=size,
        seed_value=seed,
        jwt=jwt,
        clock=clock,
        budget=budget,
        budget_window=budget_window,
        access_seconds=access_seconds,
        refresh_seconds=refresh_seconds,
        alerts=alerts,
        id_base=id_base,
    )
    return Sandbox(
        app=simulator.app(),
        settings=lambda base_url: {"base_url": base_url, "jwt": jwt},
        control=simulator,
    )
