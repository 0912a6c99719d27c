"""A simulator of NinjaOne's public API 2.0, for tests, ``hub sandbox`` and the demo.

Every request to ``/v2`` is first checked against the vendor's OpenAPI 3.0 spec with
openapi-core (:mod:`.spec`): an unknown path answers 404, a method the path does not have
405, a parameter of the wrong type or out of its bounds, or a query parameter the
operation does not declare, 400; a call without the bearer token the spec's security
requires, 401. So the connector cannot rely on anything the spec does not promise, and
requests the simulator refused are kept in :attr:`NinjaSimulator.refused` for tests.

Beyond the spec:

* ``POST /ws/oauth/token`` grants tokens for the client app's credentials with the Client
  Credentials grant (the vendor's API documentation, "Register Machine-to-Machine
  Applications"): the form ``grant_type=client_credentials``, ``client_id``,
  ``client_secret``, ``scope`` (``monitoring``, ``management``, ``control``: the spec's
  scopes). Answers and errors are OAuth 2.0's (RFC 6749 §5.1, §5.2: ``invalid_client``,
  ``unsupported_grant_type``, ``invalid_scope``). Tokens last an hour on the simulator's
  clock (``expires_in`` 3600, what the vendor's token endpoint grants);
* a call needs a scope its operation names in its own ``security`` (``PATCH
  /v2/device/{id}`` names ``management``), else any of the document's, else 403;
* the spec declares no error body; errors answer ``resultCode``, ``errorMessage`` and
  ``incidentId``, the shape NinjaOne's API answers in public clients' reports;
* NinjaOne publishes no request rate; :attr:`NinjaSimulator.rate_limit` (requests per
  rolling minute, none by default) imitates one for tests, answered 429;
* lists are paged as the spec's parameters say: ``pageSize`` and ``after`` (the last id
  of the previous page), in ascending id order; ``GET /v2/alerts`` answers every active
  alert at once; ``GET /v2/activities`` lists newest first ("Returns activity log in
  reverse chronological order").

The control handle (:class:`NinjaSimulator` itself) raises and resets alerts, lets time
pass, forgets the tokens it issued and injects failures.
"""

from __future__ import annotations

import bisect
import random
import secrets
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from openapi_core.contrib.starlette.requests import StarletteOpenAPIRequest
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound, ServerNotFound
from openapi_core.validation.request.exceptions import SecurityValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.sdk import Clock, InjectedFailure, Sandbox, SpecAnswer, SystemClock, spec_findings

from .auth import TOKEN_PATH
from .settings import SCOPES
from .sim_data import CONDITIONS, epoch, new_uid, seed
from .spec import checker, spec_document

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "NinjaSimulator", "build_sandbox"]

DEFAULT_CLIENT_ID = "sim-client-7K2R9Q4WXA3MZP"
DEFAULT_CLIENT_SECRET = "sim-secret-5T8N1VBQ6HJD2LCX4FGE"  # noqa: S105 - the simulator's own app
TOKEN_SECONDS = 3600
WINDOW_SECONDS = 60.0
STREAMS = ("customers", "devices", "active_issues")
SEVERITIES = ("NONE", "MINOR", "MODERATE", "MAJOR", "CRITICAL")
#: severity -> the activity's priority (the spec's ``Activity.priority`` enum)
_PRIORITY = {"NONE": "NONE", "MINOR": "LOW", "MODERATE": "MEDIUM", "MAJOR": "HIGH", "CRITICAL": "HIGH"}

Handler = Callable[[Request, dict[str, Any]], Response]


class NinjaSimulator:
    """The simulated instance's state and its control handle (``hub.sandbox.SimulatorControl``)."""

    def __init__(
        self,
        *,
        size: int = 200,
        seed_value: int = 1,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        clock: Clock | None = None,
        alerts: int | None = None,
        rate_limit: int | None = None,
        check_answers: bool = False,
    ) -> None:
        self.clock = clock or SystemClock()
        self._offset = timedelta()
        self.client_id = client_id
        self.client_secret = client_secret
        self.rate_limit = rate_limit
        self.check_answers = check_answers
        self._lock = threading.RLock()
        self._failures: deque[InjectedFailure] = deque()
        self._calls: deque[datetime] = deque()
        #: token -> (when it ends, the scopes granted)
        self._tokens: dict[str, tuple[datetime, frozenset[str]]] = {}
        self.requests: list[tuple[str, str]] = []
        #: (method, path, why) of every request the spec check refused
        self.refused: list[tuple[str, str, str]] = []
        #: answers of the simulator that did not match the spec (only with ``check_answers``)
        self.bad_answers: list[tuple[str, str]] = []
        self.tokens_granted = 0
        data = seed(size, seed_value, self.now())
        self.organizations = data.organizations
        self.organization_ids = data.organization_ids
        self.locations = data.locations
        self.devices = data.devices
        self.device_ids = data.device_ids
        self.devices_by_organization = data.devices_by_organization
        self._rng = random.Random(seed_value * 7919 + 1)
        #: uid -> the alert as the API lists it, while it is active
        self.alerts: dict[str, dict[str, Any]] = {}
        #: activities, oldest first (the API lists them newest first)
        self.activities: list[dict[str, Any]] = []
        self._seed_alerts(size // 20 if alerts is None else alerts)

    # -- time -------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now() + self._offset

    def advance(self, seconds: float) -> None:
        """Let time pass on the instance only (tokens expire, the budget refills)."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    # -- SimulatorControl -------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``count`` requests (token requests included) with ``status``."""
        with self._lock:
            self._failures.extend(InjectedFailure(status, retry_after) for _ in range(count))

    def touch(self, stream: str, record_id: str | None = None) -> str:
        """Change one record now: a device's agent checks in, an organization's description
        changes, an active alert is updated."""
        with self._lock:
            stamp = epoch(self.now())
            if stream == "devices":
                device = self.devices[int(record_id) if record_id else self.device_ids[0]]
                device["lastContact"] = device["lastUpdate"] = stamp
                return str(device["id"])
            if stream == "customers":
                org = self.organizations[int(record_id) if record_id else self.organization_ids[0]]
                org["description"] = f"{org['name']} - reviewed at {stamp}"
                return str(org["id"])
            if stream == "active_issues":
                alert = self.alerts[record_id or next(iter(self.alerts))]
                alert["updateTime"] = stamp
                return str(alert["uid"])
        raise ValueError(f"unknown stream {stream!r}; streams: {', '.join(STREAMS)}")

    def count(self, stream: str) -> int:
        with self._lock:
            if stream == "customers":
                return len(self.organizations)
            if stream == "devices":
                return len(self.devices)
            if stream == "active_issues":
                return len(self.alerts)
        raise ValueError(f"unknown stream {stream!r}; streams: {', '.join(STREAMS)}")

    # -- vendor-specific controls -------------------------------------------------------

    def forget_tokens(self) -> None:
        """The instance refuses every token it issued (as after the client secret is
        regenerated): the next call answers 401."""
        with self._lock:
            self._tokens.clear()

    def raise_alert(
        self,
        device_id: int,
        source_type: str,
        source_name: str,
        severity: str = "CRITICAL",
        message: str | None = None,
        condition_uid: str | None = None,
    ) -> str:
        """A policy condition triggers on a device: a new active alert (a new activity
        series, so a new ``uid``) and its ``TRIGGERED`` activity, which holds the severity."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity is one of {', '.join(SEVERITIES)}")
        with self._lock:
            device = self.devices[device_id]
            uid = new_uid(self._rng)
            stamp = epoch(self.now())
            text = message or f"{source_name} on {device['systemName']}: threshold exceeded"
            self.alerts[uid] = {
                "uid": uid,
                "deviceId": device_id,
                "message": text,
                "createTime": stamp,
                "updateTime": stamp,
                "sourceType": source_type,
                "sourceConfigUid": condition_uid or new_uid(random.Random(f"{source_type}|{source_name}")),
                "sourceName": source_name,
                "subject": f"{source_name} - {device['systemName']}",
                "data": {"message": {"code": source_type.lower(), "params": {"device": device["systemName"]}}},
                "device": self._basic_device(device_id),
            }
            self._activity(uid, device_id, "TRIGGERED", severity, text)
            return uid

    def reset_alert(self, uid: str, by: str = "condition") -> None:
        """The condition resets (or a person resets the alert): it leaves the active list."""
        with self._lock:
            self._reset(uid, by)

    def spend(self, calls: int) -> None:
        """Other API clients of the instance send ``calls`` requests now."""
        with self._lock:
            self._calls.extend([self.now()] * calls)

    def calls(self, path_prefix: str) -> int:
        """How many requests reached paths starting with ``path_prefix``."""
        return sum(1 for _, path in self.requests if path.startswith(path_prefix))

    # -- alerts -----------------------------------------------------------------------

    def _activity(self, series: str, device_id: int, status: str, severity: str, message: str) -> None:
        self.activities.append({
            "id": len(self.activities) + 1, "activityTime": epoch(self.now()), "deviceId": device_id,
            "severity": severity, "priority": _PRIORITY[severity], "seriesUid": series, "activityType": "CONDITION",
            "statusCode": status, "status": status, "message": message,
        })  # fmt: skip

    def _reset(self, uid: str, by: str) -> bool:
        alert = self.alerts.pop(uid, None)
        if alert is None:
            return False
        severity = next(a["severity"] for a in reversed(self.activities) if a["seriesUid"] == uid)
        self._activity(uid, alert["deviceId"], "RESET", severity, f"reset by {by}")
        return True

    def _seed_alerts(self, count: int) -> None:
        for _ in range(min(count, len(self.device_ids))):
            source_type, source_name = self._rng.choice(CONDITIONS)
            severity = self._rng.choice(("CRITICAL", "MAJOR", "MODERATE"))
            uid = self.raise_alert(self._rng.choice(self.device_ids), source_type, source_name, severity)
            self.alerts[uid]["createTime"] -= self._rng.randrange(60, 3 * 86400)

    # -- the ASGI app -----------------------------------------------------------------

    def app(self) -> Starlette:
        reads = [
            ("/v2/organizations", self._list_organizations),
            ("/v2/organization/{id}", self._get_organization),
            ("/v2/devices", self._list_devices(detailed=False)),
            ("/v2/devices-detailed", self._list_devices(detailed=True)),
            ("/v2/device/{id}", self._get_device),
            ("/v2/alerts", self._list_alerts),
            ("/v2/device/{id}/alerts", self._device_alerts),
            ("/v2/activities", self._list_activities),
        ]
        routes = [Route(TOKEN_PATH, self._token, methods=["POST"])]
        routes += [Route(path, self._api(handler), methods=["GET"]) for path, handler in reads]
        routes += [
            Route("/v2/alert/{uid}", self._api(self._reset_endpoint), methods=["DELETE"]),
            Route("/v2/alert/{uid}/reset", self._api(self._reset_endpoint), methods=["POST"]),
            # anything else under /v2: the spec check answers 404/405/400, or 501 if the spec has it
            Route("/v2/{rest:path}", self._api(self._not_simulated), methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        ]
        return Starlette(routes=routes)

    # the pipeline: injected failures, the spec check, the token and its scopes, the budget

    def _error(self, status: int, message: str, **headers: str) -> JSONResponse:
        body = {"resultCode": "FAILURE", "errorMessage": message, "incidentId": new_uid(self._rng)}
        return JSONResponse(body, status, headers=headers or None)

    def _injected(self, request: Request) -> InjectedFailure | None:
        with self._lock:
            self.requests.append((request.method, request.url.path))
            return self._failures.popleft() if self._failures else None

    def _check(self, request: Request, body: bytes) -> tuple[dict[str, Any], Response | None]:
        """The spec check: typed query parameters, or the refusal."""
        path = request.url.path
        result = checker().unmarshal_request(StarletteOpenAPIRequest(request, body or None))
        errors = list(result.errors)
        if any(isinstance(e, PathNotFound | ServerNotFound) for e in errors):
            return {}, self._refuse(request, 404, f"the spec has no path {path}")
        if any(isinstance(e, OperationNotFound) for e in errors):
            return {}, self._refuse(request, 405, f"the spec has no {request.method} {path}")
        if any(isinstance(e, SecurityValidationError) for e in errors):
            return {}, self._error(401, "Authorization required: a bearer token (the spec's oauth2 security)")
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
        return self._error(status, why)

    def _scopes(self, request: Request) -> frozenset[str] | None:
        """The scopes of the request's live token; None without one."""
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        with self._lock:
            found = self._tokens.get(header[7:].strip())
            return found[1] if found is not None and found[0] > self.now() else None

    @staticmethod
    def _needed(request: Request) -> set[str]:
        """The scopes the operation's ``security`` names (the document's default otherwise)."""
        templates = [t for t in spec_document()["paths"] if _matches(t, request.url.path)]
        if not templates:
            return set()
        # a literal segment wins over a parameter (``/v2/organization/archive`` over ``{id}``)
        template = min(templates, key=lambda t: t.count("{"))
        operation = spec_document()["paths"][template].get(request.method.lower()) or {}
        security = operation.get("security")
        if security is None:
            return set()  # the document's default: any one of its scopes
        return {scope for requirement in security for scope in requirement.get("oauth2", [])}

    def _spend(self) -> bool:
        if self.rate_limit is None:
            return True
        with self._lock:
            now = self.now()
            while self._calls and (now - self._calls[0]).total_seconds() >= WINDOW_SECONDS:
                self._calls.popleft()
            if len(self._calls) >= self.rate_limit:
                return False
            self._calls.append(now)
            return True

    def _api(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            failure = self._injected(request)
            if failure is not None:
                extra = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else {}
                return self._error(failure.status, f"injected failure {failure.status}", **extra)
            params, refused = self._check(request, await request.body())
            if refused is not None:
                return refused
            scopes = self._scopes(request)
            if scopes is None:
                return self._error(401, "Invalid or expired token")
            missing = self._needed(request) - scopes
            if missing:
                return self._error(403, f"the token lacks the scope {', '.join(sorted(missing))}")
            if not self._spend():
                return self._error(429, "Too many requests")
            answer = handler(request, params)
            if self.check_answers:
                self._check_answer(request, answer)
            return answer

        return endpoint

    def _check_answer(self, request: Request, answer: Response) -> None:
        if answer.status_code == 204:
            # no content by definition (RFC 9110 §15.3.5): the spec's ``*/*`` says what a body
            # may be when there is one
            return
        content_type = answer.headers.get("content-type", "application/json")
        reply = SpecAnswer(bytes(answer.body), answer.status_code, content_type, dict(answer.headers))
        result = checker().unmarshal_response(StarletteOpenAPIRequest(request), reply)
        if result.errors:
            with self._lock:
                self.bad_answers.append((request.url.path, spec_findings(result.errors)))

    # auth (from the vendor's documentation, not the spec)

    async def _token(self, request: Request) -> Response:
        failure = self._injected(request)
        if failure is not None:
            extra = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else None
            return _oauth_error(failure.status, "invalid_client" if failure.status == 401 else "server_error",
                                "injected failure", extra)  # fmt: skip
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "the token request is a form (x-www-form-urlencoded)")
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode(errors="replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {form.get('grant_type')}")
        id_ok = secrets.compare_digest(form.get("client_id", "").encode(), self.client_id.encode())
        secret_ok = secrets.compare_digest(form.get("client_secret", "").encode(), self.client_secret.encode())
        if not (id_ok and secret_ok):
            return _oauth_error(401, "invalid_client", "Bad client credentials")
        asked = form.get("scope", "").split()
        if not asked or any(s not in SCOPES for s in asked):
            return _oauth_error(400, "invalid_scope", f"Invalid scope: {form.get('scope', '')}")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = (self.now() + timedelta(seconds=TOKEN_SECONDS), frozenset(asked))
            self.tokens_granted += 1
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS, "scope": " ".join(asked)},
            headers={"Cache-Control": "no-store"},
        )

    # paging

    def _page(self, params: dict[str, Any], ids: list[int], render: Callable[[int], dict[str, Any]]) -> Response:
        """``pageSize`` records after the id ``after`` (ids ascending); no pageSize: all."""
        after = params.get("after")
        start = bisect.bisect_right(ids, int(after)) if after is not None else 0
        size = params.get("pageSize")
        if size is not None and int(size) < 1:
            return self._error(400, "pageSize must be at least 1")
        end = len(ids) if size is None else start + int(size)
        with self._lock:
            return JSONResponse([render(i) for i in ids[start:end]])

    # organizations

    def _list_organizations(self, request: Request, params: dict[str, Any]) -> Response:
        if params.get("of") is not None:
            return self._error(501, "the simulator does not imitate organization filters")
        return self._page(params, self.organization_ids, lambda i: dict(self.organizations[i]))

    def _get_organization(self, request: Request, params: dict[str, Any]) -> Response:
        with self._lock:
            org = self.organizations.get(int(request.path_params["id"]))
            if org is None:
                return self._error(404, "Organization not found")
            locations = [dict(loc) for loc in self.locations.values() if loc["organizationId"] == org["id"]]
            return JSONResponse({**org, "locations": locations, "policies": []})

    # devices

    def _basic_device(self, device_id: int) -> dict[str, Any]:
        """The spec's ``NodeWithDetailedReferences``: the device without its system details."""
        device = self.devices[device_id]
        return {k: v for k, v in device.items() if k not in ("os", "system", "lastLoggedInUser", "ipAddresses",
                                                                 "macAddresses", "publicIP")}  # fmt: skip

    def _list_devices(self, *, detailed: bool) -> Handler:
        def handler(request: Request, params: dict[str, Any]) -> Response:
            if params.get("df") is not None:
                return self._error(501, "the simulator does not imitate device filters")
            render = (lambda i: dict(self.devices[i])) if detailed else self._basic_device
            return self._page(params, self.device_ids, render)

        return handler

    def _get_device(self, request: Request, params: dict[str, Any]) -> Response:
        with self._lock:
            device = self.devices.get(int(request.path_params["id"]))
            if device is None:
                return self._error(404, "Device not found")
            return JSONResponse(dict(device))

    # alerts and activities

    def _list_alerts(self, request: Request, params: dict[str, Any]) -> Response:
        if params.get("df") is not None:
            return self._error(501, "the simulator does not imitate device filters")
        source = params.get("sourceType")
        with self._lock:
            listed = [dict(a) for a in self.alerts.values() if source is None or a["sourceType"] == source]
        return JSONResponse(listed)

    def _device_alerts(self, request: Request, params: dict[str, Any]) -> Response:
        device_id = int(request.path_params["id"])
        with self._lock:
            if device_id not in self.devices:
                return self._error(404, "Device not found")
            return JSONResponse([dict(a) for a in self.alerts.values() if a["deviceId"] == device_id])

    def _list_activities(self, request: Request, params: dict[str, Any]) -> Response:
        unsupported = sorted(set(params) - {"seriesUid", "pageSize", "class", "lang", "tz"})
        if unsupported:
            return self._error(501, f"the simulator does not imitate the filters {', '.join(unsupported)}")
        series = params.get("seriesUid")
        size = int(params.get("pageSize", 200))
        with self._lock:
            found = [dict(a) for a in reversed(self.activities) if series is None or a["seriesUid"] == series]
            last = self.activities[-1]["id"] if self.activities else 0
        return JSONResponse({"lastActivityId": last, "activities": found[:size]})

    def _reset_endpoint(self, request: Request, params: dict[str, Any]) -> Response:
        with self._lock:
            if not self._reset(str(request.path_params["uid"]), "API"):
                # the spec lists only a default answer; an alert that is not active is
                # answered as the API answers an unknown record
                return self._error(404, "Alert not found")
        return Response(status_code=204)

    def _not_simulated(self, request: Request, params: dict[str, Any]) -> Response:
        return self._error(501, "the spec has this operation; the simulator does not imitate it")


def _matches(template: str, path: str) -> bool:
    parts, given = template.strip("/").split("/"), path.strip("/").split("/")
    return len(parts) == len(given) and all(p == g or p.startswith("{") for p, g in zip(parts, given, strict=True))


def _oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An OAuth 2.0 error answer (RFC 6749 §5.2)."""
    return JSONResponse({"error": error, "error_description": description}, status, headers=headers)


def build_sandbox(
    *,
    size: int = 200,
    seed: int = 1,
    clock: Clock | None = None,
    alerts: int | None = None,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    rate_limit: int | None = None,
    check_answers: bool = False,
) -> Sandbox:
    """The simulator as a :class:`hub.sdk.Sandbox`; ``settings(base_url)`` points the connector at it."""
    simulator = NinjaSimulator(
        size=size,
        seed_value=seed,
        client_id=client_id,
        client_secret=client_secret,
        clock=clock,
        alerts=alerts,
        rate_limit=rate_limit,
        check_answers=check_answers,
    )
    return Sandbox(
        app=simulator.app(),
        settings=lambda base_url: {"api_url": base_url, "client_id": client_id, "client_secret": client_secret},
        control=simulator,
    )
