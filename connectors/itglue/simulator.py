"""A simulator of the IT Glue API (a Starlette ASGI app) and its control handle.

Imitates what https://api.itglue.com/developer publishes, not what the connector
sends: JSON:API documents, ``page[size]`` (at most 1000) / ``page[number]`` with
``meta`` and ``links``, ``filter[...]`` and ``sort`` on the index routes, the
``x-api-key`` header (401 without one, 403 with a wrong one, as the docs say), 415
for a body that is not ``application/vnd.api+json``, 429 past the request budget
(3,000 per 5 minutes by default) with ``Retry-After``, 422 in the JSON:API ``errors``
shape, flexible asset traits *replaced* on PATCH, and PSA-synced organizations and
contacts refusing PATCH. An Upload trait keeps a file only if the PATCH uploads it again
(``{"content": <base64>, "file_name"}``): sent back in its read shape, the file is
erased, as API users report (itglue/powershellwrapper issue 161, "You have to upload
the file each time because the API is destructive"; issue 7: an update keeps only the
files it uploads).

Guesses, where the docs are silent: the text of error ``detail`` s, the read shape of
an Upload trait (``[{"id", "file_name", "url"}]``), that its ``url`` downloads the file
with the API key (``GET /attachments/{id}`` here, on the host the request came to),
``psa-integration`` holding the PSA's name on synced records, and a 400 for
``page[size]`` over 1000.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.itglue.simstore import (
    CONTACT_TYPES,
    ORG_STATUSES,
    ORG_TYPES,
    PSA_EDITABLE,
    SITE_SUMMARY_TYPE_ID,
    SimData,
    Table,
    UnprocessableEntity,
)
from hub.sdk import Sandbox

__all__ = ["ITGlueSimulator", "ITGlueSimulatorControl", "build_sandbox"]

MEDIA_TYPE = "application/vnd.api+json"
MAX_PAGE_SIZE = 1000
STREAMS = {"organizations": "organizations", "contacts": "contacts", "site_summaries": "assets"}


class _Abort(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        pointer: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(title)
        self.status, self.title, self.detail, self.pointer, self.headers = (
            status,
            title,
            detail,
            pointer,
            headers,
        )


def _errors(
    status: int,
    title: str,
    detail: str | None = None,
    pointer: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"status": str(status), "title": title}
    if detail:
        error["detail"] = detail
    if pointer:
        error["source"] = {"pointer": pointer}
    return JSONResponse({"errors": [error]}, status_code=status, headers=headers, media_type=MEDIA_TYPE)


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ITGlueSimulator:
    """The simulated tenant: data, budget, faults, and the ASGI app serving them."""

    def __init__(
        self,
        *,
        size: int = 25,
        seed: int = 1,
        api_key: str = "ITG.simulator-key",
        budget: int = 3000,
        window: float = 300.0,
        psa_every: int = 5,
        site_summary_type: str = "Site Summary",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_key = api_key
        self.site_summary_type = site_summary_type
        self.budget, self.window = budget, window
        self.monotonic = monotonic
        self.lock = threading.RLock()
        self.data = SimData()
        self.data.seed(size, seed, psa_every, site_summary_type)
        self.faults: deque[tuple[int, float | None]] = deque()
        self.hits: deque[float] = deque()
        self.requests = 0
        self.app = Starlette(routes=self._routes())

    # -- plumbing -----------------------------------------------------------------

    def _routes(self) -> list[Route]:
        g, p = ["GET"], ["PATCH"]
        return [
            Route(
                "/organizations",
                self._wrap(self.list_organizations, self.create_organization),
                methods=["GET", "POST"],
            ),
            Route(
                "/organizations/{id}",
                self._wrap(self.show_organization, patch=self.update_organization),
                methods=["GET", "PATCH"],
            ),
            Route(
                "/organizations/{org_id}/relationships/contacts",
                self._wrap(self.list_contacts, self.create_contact),
                methods=["GET", "POST"],
            ),
            Route(
                "/organizations/{org_id}/relationships/contacts/{id}",
                self._wrap(self.show_contact, patch=self.update_contact),
                methods=["GET", "PATCH"],
            ),
            Route("/contacts", self._wrap(self.list_contacts, self.create_contact), methods=["GET", "POST"]),
            Route(
                "/contacts/{id}",
                self._wrap(self.show_contact, patch=self.update_contact),
                methods=["GET", "PATCH"],
            ),
            Route(
                "/flexible_assets", self._wrap(self.list_assets, self.create_asset), methods=["GET", "POST"]
            ),
            Route(
                "/organizations/{org_id}/relationships/flexible_assets",
                self._wrap(None, self.create_asset),
                methods=["POST"],
            ),
            Route(
                "/flexible_assets/{id}", self._wrap(self.show_asset, patch=self.update_asset), methods=g + p
            ),
            Route("/flexible_asset_types", self._wrap(self.list_types), methods=g),
            Route("/flexible_asset_types/{id}", self._wrap(self.show_type), methods=g),
            Route(
                "/flexible_asset_types/{id}/relationships/flexible_asset_fields",
                self._wrap(self.list_fields),
                methods=g,
            ),
            Route(
                "/organization_types", self._wrap(self._picklist(ORG_TYPES, "organization-types")), methods=g
            ),
            Route(
                "/organization_statuses",
                self._wrap(self._picklist(ORG_STATUSES, "organization-statuses")),
                methods=g,
            ),
            Route("/contact_types", self._wrap(self._picklist(CONTACT_TYPES, "contact-types")), methods=g),
            Route("/attachments/{id:int}", self.download, methods=g),
        ]

    def _wrap(
        self,
        get: Callable[..., Any] | None,
        post: Callable[..., Any] | None = None,
        patch: Callable[..., Any] | None = None,
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                try:
                    self._gate(request, body)
                    handler = {"GET": get, "POST": post, "PATCH": patch}.get(request.method)
                    if handler is None:
                        raise _Abort(404, "Not Found")
                    payload = self._payload(request, body) if request.method != "GET" else None
                    args = [request] if payload is None else [request, payload]
                    status, document = handler(*args)
                except _Abort as exc:
                    return _errors(exc.status, exc.title, exc.detail, exc.pointer, exc.headers)
                except UnprocessableEntity as exc:
                    return _errors(422, "Unprocessable Entity", exc.detail, exc.pointer)
                text = json.dumps(document)
            # files are downloaded from the host that was asked (the store knows only its own)
            text = text.replace(f'"{self.data.host}/attachments/', f'"{str(request.base_url).rstrip("/")}/attachments/')
            return Response(text, status_code=status, media_type=MEDIA_TYPE)

        return endpoint

    async def download(self, request: Request) -> Response:
        """An uploaded file's bytes (the ``url`` of an Upload trait item; a guess, see above)."""
        with self.lock:
            try:
                self._gate(request, b"")
            except _Abort as exc:
                return _errors(exc.status, exc.title, exc.detail, exc.pointer, exc.headers)
            found = self.data.attachments.get(request.path_params["id"])
            if found is None:
                return _errors(404, "Not Found", "attachment not found")
            return Response(found["content"], media_type="application/octet-stream")

    def _gate(self, request: Request, body: bytes) -> None:
        """Faults first, then the budget, then the key, then the media type."""
        self.requests += 1
        if self.faults:
            status, retry_after = self.faults.popleft()
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
            raise _Abort(status, _TITLES.get(status, "Error"), None, None, headers)
        now = self.monotonic()
        while self.hits and self.hits[0] <= now - self.window:
            self.hits.popleft()
        if len(self.hits) >= self.budget:
            wait = max(1, math.ceil(self.hits[0] + self.window - now))
            raise _Abort(
                429,
                "Too Many Requests",
                f"limit of {self.budget} requests per {self.window:g}s reached",
                None,
                {"Retry-After": str(wait)},
            )
        self.hits.append(now)
        key = request.headers.get("x-api-key")
        if not key:
            raise _Abort(401, "Unauthorized", "missing x-api-key header")
        if key != self.api_key:
            raise _Abort(403, "Forbidden", "invalid API key")
        if request.method in ("POST", "PATCH"):
            ctype = request.headers.get("content-type", "").split(";")[0].strip()
            if ctype != MEDIA_TYPE:
                raise _Abort(415, "Unsupported Media Type", f"Content-Type must be {MEDIA_TYPE}")

    @staticmethod
    def _payload(request: Request, body: bytes) -> dict[str, Any]:
        try:
            doc = json.loads(body or b"null")
        except ValueError:
            raise _Abort(400, "Bad Request", "body is not JSON") from None
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
            raise _Abort(400, "Bad Request", "data[attributes] must be a Hash")
        attrs = {k.replace("_", "-"): v for k, v in data["attributes"].items()}
        return {"type": data.get("type"), "attributes": attrs}

    @staticmethod
    def _filters(request: Request) -> dict[str, str]:
        out = {}
        for key, value in request.query_params.items():
            if key.startswith("filter[") and key.endswith("]"):
                out[key[7:-1].replace("-", "_")] = value
        return out

    def _page(
        self, request: Request, ids: list[int], table: Table, filters: dict[str, str]
    ) -> tuple[int, Any]:
        try:
            size = int(request.query_params.get("page[size]", 50))
            number = int(request.query_params.get("page[number]", 1))
        except ValueError:
            raise _Abort(400, "Bad Request", "page[size] and page[number] must be numbers") from None
        if size > MAX_PAGE_SIZE or size < 1 or number < 1:
            raise _Abort(400, "Bad Request", f"page[size] must be between 1 and {MAX_PAGE_SIZE}")
        total = len(ids)
        pages = max(1, math.ceil(total / size))
        chunk = ids[(number - 1) * size : number * size]

        def link(n: int) -> str:
            params = dict(request.query_params)
            params["page[number]"] = str(n)
            params["page[size]"] = str(size)
            return str(request.url.replace_query_params(**params))

        links = {"self": link(number), "first": link(1), "last": link(pages)}
        if number < pages:
            links["next"] = link(number + 1)
        if number > 1:
            links["prev"] = link(number - 1)
        return 200, {
            "data": [table.rows[i] for i in chunk],
            "meta": {
                "current-page": number,
                "next-page": number + 1 if number < pages else None,
                "prev-page": number - 1 if number > 1 else None,
                "total-pages": pages,
                "total-count": total,
                "filters": filters,
            },
            "links": links,
        }

    @staticmethod
    def _sort(request: Request, allowed: set[str]) -> str | None:
        sort = request.query_params.get("sort")
        if sort and sort.lstrip("-") not in allowed:
            raise _Abort(400, "Bad Request", f"sort must be one of: {', '.join(sorted(allowed))}")
        return sort

    @staticmethod
    def _range(value: str | None) -> tuple[str | None, str | None]:
        """``start,end`` with ``*`` for an open end, as the docs describe date filters."""
        if not value:
            return None, None
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2:
            raise _Abort(400, "Bad Request", "date filters are 'start_date, end_date'")

        def edge(p: str, end: bool) -> str | None:
            if p in ("", "*"):
                return None
            if len(p) == 10:  # a bare date
                p += "T23:59:59.999Z" if end else "T00:00:00.000Z"
            return p.replace("+00:00", "Z")

        return edge(parts[0], False), edge(parts[1], True)

    def _get(self, table: Table, id_: str) -> dict[str, Any]:
        row = table.get(id_)
        if row is None:
            raise _Abort(404, "Not Found", f"{table.type} {id_} not found")
        return row

    # -- organizations ----------------------------------------------------------------

    def list_organizations(self, request: Request) -> tuple[int, Any]:
        f = self._filters(request)
        equals = {
            k.replace("_", "-"): v
            for k, v in f.items()
            if k in ("id", "name", "organization_type_id", "organization_status_id")
        }
        if "psa_integration_type" in f:
            equals["psa-integration"] = f["psa_integration_type"]
        sort = self._sort(request, {"name", "id", "updated_at", "created_at", "short_name"})
        ids = self.data.organizations.query(equals, self._range(f.get("updated_at")), sort)
        return self._page(request, ids, self.data.organizations, f)

    def show_organization(self, request: Request) -> tuple[int, Any]:
        return 200, {"data": self._get(self.data.organizations, request.path_params["id"])}

    def _org_attrs(self, attrs: dict[str, Any], row: dict[str, Any]) -> None:
        for key, names in (("organization-type-id", ORG_TYPES), ("organization-status-id", ORG_STATUSES)):
            if key in attrs:
                try:
                    label = names[int(attrs[key])]
                except (KeyError, TypeError, ValueError):
                    raise UnprocessableEntity("must exist", f"/data/attributes/{key}") from None
                row["attributes"][key] = int(attrs[key])
                row["attributes"][key.replace("-id", "-name")] = label
        for key in ("name", "alert", "description", "quick-notes", "short-name"):
            if key in attrs:
                row["attributes"][key] = attrs[key]
        if not row["attributes"].get("name"):
            raise UnprocessableEntity("Name can't be blank", "/data/attributes/name")

    def create_organization(self, request: Request, payload: dict[str, Any]) -> tuple[int, Any]:
        stamp = self.data.now()
        row = {
            "id": str(self.data.next_id("organizations")),
            "type": "organizations",
            "relationships": {},
            "attributes": {
                "name": None,
                "alert": None,
                "description": None,
                "organization-type-id": None,
                "organization-type-name": None,
                "organization-status-id": 68,
                "organization-status-name": "Active",
                "primary": False,
                "logo": "",
                "quick-notes": None,
                "short-name": None,
                "psa-integration": None,
                "created-at": stamp,
                "updated-at": stamp,
                "parent-id": None,
                "ancestor-ids": "[]",
            },
        }
        self._org_attrs(payload["attributes"], row)
        return 201, {"data": self.data.organizations.put(row)}

    def update_organization(self, request: Request, payload: dict[str, Any]) -> tuple[int, Any]:
        current = self._get(self.data.organizations, request.path_params["id"])
        attrs = payload["attributes"]
        if current["attributes"].get("psa-integration") and set(attrs) - PSA_EDITABLE - {"id"}:
            raise UnprocessableEntity(
                "Organization is synced with your PSA; only alert, description and quick notes can be updated"
            )
        row = copy.deepcopy(current)
        self._org_attrs(attrs, row)
        row["attributes"]["updated-at"] = self.data.now()
        return 200, {"data": self.data.organizations.put(row)}

    # -- contacts -----------------------------------------------------------------------

    def list_contacts(self, request: Request) -> tuple[int, Any]:
        f = self._filters(request)
        equals: dict[str, Any] = {
            k.replace("_", "-"): v
            for k, v in f.items()
            if k in ("id", "first_name", "last_name", "title", "contact_type_id")
        }
        org = request.path_params.get("org_id") or f.get("organization_id")
        if request.path_params.get("org_id"):
            self._get(self.data.organizations, request.path_params["org_id"])
        if org:
            equals["organization-id"] = int(org) if str(org).isdigit() else org
        match = None
        if "primary_email" in f:
            wanted = f["primary_email"].lower()
            match = lambda row: any(  # noqa: E731 - a one-line predicate
                e.get("primary") and str(e.get("value", "")).lower() == wanted
                for e in row["attributes"].get("contact-emails") or []
            )
        sort = self._sort(request, {"first_name", "last_name", "id", "created_at", "updated_at"})
        ids = self.data.contacts.query(equals, (None, None), sort, match)
        return self._page(request, ids, self.data.contacts, f)

    def show_contact(self, request: Request) -> tuple[int, Any]:
        row = self._get(self.data.contacts, request.path_params["id"])
        org = request.path_params.get("org_id")
        if org and str(row["attributes"]["organization-id"]) != org:
            raise _Abort(404, "Not Found")
        return 200, {"data": row}

    def _contact_attrs(self, attrs: dict[str, Any], row: dict[str, Any]) -> None:
        a = row["attributes"]
        if "organization-id" in attrs:
            org = self.data.organizations.get(attrs["organization-id"])
            if org is None:
                raise UnprocessableEntity(
                    "Valid organization_id is required", "/data/attributes/organization_id"
                )
            a["organization-id"], a["organization-name"] = int(org["id"]), org["attributes"]["name"]
        if "contact-type-id" in attrs:
            if attrs["contact-type-id"] is not None and int(attrs["contact-type-id"]) not in CONTACT_TYPES:
                raise UnprocessableEntity("must exist", "/data/attributes/contact-type-id")
            a["contact-type-id"] = attrs["contact-type-id"]
            a["contact-type-name"] = CONTACT_TYPES.get(int(attrs["contact-type-id"] or 0))
        for key in ("first-name", "last-name", "title", "important", "notes", "location-id"):
            if key in attrs:
                a[key] = attrs[key]
        for key in ("contact-emails", "contact-phones"):
            if key in attrs:
                a[key] = [self._contact_item(key, i) for i in attrs[key] or []]
        a["name"] = " ".join(p for p in (a.get("first-name"), a.get("last-name")) if p)

    @staticmethod
    def _contact_item(key: str, item: Any) -> dict[str, Any]:
        if (
            not isinstance(item, dict)
            or not item.get("value")
            or not item.get("label-name", item.get("label_name"))
        ):
            raise UnprocessableEntity("value and label_name are required", f"/data/attributes/{key}")
        if not isinstance(item.get("primary", False), bool):
            raise UnprocessableEntity("primary must be true or false", f"/data/attributes/{key}")
        value = str(item["value"])
        out: dict[str, Any] = {
            "value": value,
            "primary": item.get("primary", False),
            "label-name": item.get("label-name", item.get("label_name")),
        }
        if key == "contact-emails":
            if "@" not in value:
                raise UnprocessableEntity("must be a valid email address", f"/data/attributes/{key}")
        else:
            digits = "".join(
                ch for ch in value if ch.isdigit()
            )  # "Phone numbers are stripped of all separators"
            out.update(
                {
                    "value": digits,
                    "extension": item.get("extension"),
                    "label-type": item.get("label-type", "phone"),
                    "formatted-value": None,
                }
            )
        return out

    def create_contact(self, request: Request, payload: dict[str, Any]) -> tuple[int, Any]:
        attrs = dict(payload["attributes"])
        if request.path_params.get("org_id"):
            self._get(self.data.organizations, request.path_params["org_id"])
            attrs["organization-id"] = request.path_params["org_id"]
        if "organization-id" not in attrs:
            raise UnprocessableEntity("Valid organization_id is required", "/data/attributes/organization_id")
        stamp = self.data.now()
        row = {
            "id": str(self.data.next_id("contacts")),
            "type": "contacts",
            "relationships": {},
            "attributes": {
                "organization-id": None,
                "organization-name": None,
                "name": "",
                "first-name": None,
                "last-name": None,
                "title": None,
                "contact-type-id": None,
                "contact-type-name": None,
                "location-id": None,
                "location-name": None,
                "important": None,
                "notes": None,
                "psa-integration": None,
                "created-at": stamp,
                "updated-at": stamp,
                "contact-emails": [],
                "contact-phones": [],
            },
        }
        self._contact_attrs(attrs, row)
        return 201, {"data": self.data.contacts.put(row)}

    def update_contact(self, request: Request, payload: dict[str, Any]) -> tuple[int, Any]:
        current = self._get(self.data.contacts, request.path_params["id"])
        if current["attributes"].get("psa-integration"):
            raise UnprocessableEntity("Contact is synced with your PSA and cannot be updated")
        row = copy.deepcopy(current)
        self._contact_attrs(payload["attributes"], row)
        row["attributes"]["updated-at"] = self.data.now()
        return 200, {"data": self.data.contacts.put(row)}

    # -- flexible assets ----------------------------------------------------------------

    def list_assets(self, request: Request) -> tuple[int, Any]:
        f = self._filters(request)
        type_id = f.get("flexible_asset_type_id")
        if not type_id:
            raise _Abort(400, "Bad Request", "filter[flexible_asset_type_id] is required")
        equals: dict[str, Any] = {"flexible-asset-type-id": int(type_id) if type_id.isdigit() else type_id}
        if "organization_id" in f:
            equals["organization-id"] = int(f["organization_id"]) if f["organization_id"].isdigit() else -1
        if "name" in f:
            equals["name"] = f["name"]
        sort = self._sort(request, {"name", "created_at", "updated_at"})
        ids = self.data.assets.query(equals, (None, None), sort)
        return self._page(request, ids, self.data.assets, f)

    def show_asset(self, request: Request) -> tuple[int, Any]:
        return 200, {"data": self._get(self.data.assets, request.path_params["id"])}

    def create_asset(self, request: Request, payload: dict[str, Any]) -> tuple[int, Any]:
        attrs = payload["attributes"]
        org_id = request.path_params.get("org_id") or attrs.get("organization-id")
        org = self.data.organizations.get(org_id)
        if org is None:
            raise UnprocessableEntity("Valid organization_id is required", "/data/attributes/organization_id")
        try:
            type_id = int(attrs.get("flexible-asset-type-id"))
        except (TypeError, ValueError):
            type_id = -1
        if type_id not in self.data.asset_types:
            raise UnprocessableEntity("must exist", "/data/attributes/flexible-asset-type-id")
        if not isinstance(attrs.get("traits"), dict):
            raise _Abort(400, "Bad Request", "data[attributes][traits] must be a Hash")
        asset_id = self.data.next_id("flexible-assets")
        traits = self.data.stored_traits(type_id, asset_id, attrs["traits"], creating=True)
        stamp = self.data.now()
        row = {
            "id": str(asset_id),
            "type": "flexible-assets",
            "relationships": {},
            "attributes": {
                "organization-id": int(org["id"]),
                "organization-name": org["attributes"]["name"],
                "resource-url": f"{self.data.host}/{org['id']}/assets/records/{asset_id}",
                "restricted": bool(attrs.get("restricted", False)),
                "my-glue": False,
                "flexible-asset-type-id": type_id,
                "flexible-asset-type-name": self.data.asset_types[type_id]["attributes"]["name"],
                "name": self.data.asset_name(type_id, traits),
                "traits": traits,
                "archived": bool(attrs.get("archived", False)),
                "created-at": stamp,
                "updated-at": stamp,
            },
        }
        return 201, {"data": self.data.assets.put(row)}

    def update_asset(self, request: Request, payload: dict[str, Any]) -> tuple[int, Any]:
        current = self._get(self.data.assets, request.path_params["id"])
        attrs = payload["attributes"]
        row = copy.deepcopy(current)
        a = row["attributes"]
        if "traits" in attrs:
            if not isinstance(attrs["traits"], dict):
                raise _Abort(400, "Bad Request", "data[attributes][traits] must be a Hash")
            # "Any traits you don't specify will be deleted": the new traits are exactly those sent
            a["traits"] = self.data.stored_traits(
                a["flexible-asset-type-id"], int(row["id"]), attrs["traits"], creating=False
            )
            a["name"] = self.data.asset_name(a["flexible-asset-type-id"], a["traits"])
        if "organization-id" in attrs:
            org = self.data.organizations.get(attrs["organization-id"])
            if org is None:
                raise UnprocessableEntity(
                    "Valid organization_id is required", "/data/attributes/organization_id"
                )
            a["organization-id"], a["organization-name"] = int(org["id"]), org["attributes"]["name"]
        for key in ("archived", "restricted"):
            if key in attrs:
                a[key] = bool(attrs[key])
        a["updated-at"] = self.data.now()
        return 200, {"data": self.data.assets.put(row)}

    # -- flexible asset types and picklists -------------------------------------------

    def list_types(self, request: Request) -> tuple[int, Any]:
        f = self._filters(request)
        types = list(self.data.asset_types.values())
        if "name" in f:
            wanted = f["name"].replace("\\,", ",")
            types = [t for t in types if t["attributes"]["name"] == wanted]
        if "id" in f:
            types = [t for t in types if t["id"] == f["id"]]
        document: dict[str, Any] = {
            "data": [self._type_doc(t) for t in types],
            "meta": {
                "current-page": 1,
                "next-page": None,
                "prev-page": None,
                "total-pages": 1,
                "total-count": len(types),
                "filters": f,
            },
            "links": {},
        }
        if "flexible_asset_fields" in request.query_params.get("include", "").split(","):
            document["included"] = [fld for t in types for fld in self.data.asset_fields[int(t["id"])]]
        return 200, document

    def _type_doc(self, t: dict[str, Any]) -> dict[str, Any]:
        fields = self.data.asset_fields[int(t["id"])]
        return {
            **t,
            "relationships": {
                "flexible-asset-fields": {
                    "data": [{"id": fld["id"], "type": "flexible-asset-fields"} for fld in fields]
                }
            },
        }

    def show_type(self, request: Request) -> tuple[int, Any]:
        t = self.data.asset_types.get(
            int(request.path_params["id"]) if request.path_params["id"].isdigit() else -1
        )
        if t is None:
            raise _Abort(404, "Not Found")
        document: dict[str, Any] = {"data": self._type_doc(t)}
        if "flexible_asset_fields" in request.query_params.get("include", "").split(","):
            document["included"] = self.data.asset_fields[int(t["id"])]
        return 200, document

    def list_fields(self, request: Request) -> tuple[int, Any]:
        type_id = int(request.path_params["id"]) if request.path_params["id"].isdigit() else -1
        if type_id not in self.data.asset_fields:
            raise _Abort(404, "Not Found")
        fields = self.data.asset_fields[type_id]
        return 200, {
            "data": fields,
            "links": {},
            "meta": {
                "current-page": 1,
                "next-page": None,
                "prev-page": None,
                "total-pages": 1,
                "total-count": len(fields),
                "filters": {},
            },
        }

    @staticmethod
    def _picklist(options: dict[int, str], type_: str) -> Callable[[Request], tuple[int, Any]]:
        def handler(request: Request) -> tuple[int, Any]:
            data = [
                {"id": str(i), "type": type_, "attributes": {"name": name, "synced": False}}
                for i, name in sorted(options.items())
            ]
            return 200, {
                "data": data,
                "links": {},
                "meta": {
                    "current-page": 1,
                    "next-page": None,
                    "prev-page": None,
                    "total-pages": 1,
                    "total-count": len(data),
                    "filters": {},
                },
            }

        return handler


class ITGlueSimulatorControl:
    """The contract suite's and the demo's handle on a running simulator."""

    def __init__(self, sim: ITGlueSimulator) -> None:
        self.sim = sim

    def _table(self, stream: str) -> Table:
        try:
            return getattr(self.sim.data, STREAMS[stream])
        except KeyError:
            raise ValueError(f"unknown stream {stream!r}; streams: {', '.join(STREAMS)}") from None

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        with self.sim.lock:
            self.sim.faults.extend([(status, retry_after)] * count)

    def touch(self, stream: str, record_id: str | None = None) -> str:
        with self.sim.lock:
            table = self._table(stream)
            row = table.get(record_id) if record_id is not None else table.rows[next(iter(table.rows))]
            if row is None:
                raise KeyError(f"{stream} has no record {record_id}")
            row = copy.deepcopy(row)
            row["attributes"]["updated-at"] = self.sim.data.now()
            table.put(row)
            return str(row["id"])

    def count(self, stream: str) -> int:
        with self.sim.lock:
            return len(self._table(stream))

    def record(self, stream: str, record_id: str) -> dict[str, Any]:
        """A copy of one stored resource, as IT Glue holds it now."""
        with self.sim.lock:
            row = self._table(stream).get(record_id)
            if row is None:
                raise KeyError(f"{stream} has no record {record_id}")
            return copy.deepcopy(row)

    def records(self, stream: str) -> list[dict[str, Any]]:
        """Copies of every stored resource of ``stream`` (for tests and the demo)."""
        with self.sim.lock:
            return [copy.deepcopy(row) for row in self._table(stream).rows.values()]

    def set_psa_synced(self, organization_id: str, psa: str | None = "autotask") -> None:
        """Make IT Glue keep an organization in sync with a PSA (or stop, with None)."""
        with self.sim.lock:
            row = copy.deepcopy(self.sim.data.organizations.rows[int(organization_id)])
            row["attributes"]["psa-integration"] = psa
            self.sim.data.organizations.put(row)

    def psa_synced_organizations(self) -> list[str]:
        with self.sim.lock:
            return [
                str(i)
                for i, r in self.sim.data.organizations.rows.items()
                if r["attributes"]["psa-integration"]
            ]

    def set_budget(self, requests: int, per_seconds: float) -> None:
        with self.sim.lock:
            self.sim.budget, self.sim.window = requests, per_seconds
            self.sim.hits.clear()

    @property
    def requests(self) -> int:
        """Requests the simulator has answered (any status)."""
        return self.sim.requests

    @property
    def api_key(self) -> str:
        return self.sim.api_key

    @property
    def site_summary_type_id(self) -> int:
        return SITE_SUMMARY_TYPE_ID


def build_sandbox(*, webhook_url: str | None = None, **options: Any) -> Sandbox:
    """The simulator as a :class:`hub.sdk.Sandbox`.

    ``size`` organizations (and as many contacts; a Site Summary for every other
    organization), every ``psa_every``-th organization PSA-synced, ``budget`` requests
    per ``window`` seconds measured on ``monotonic`` (pass a fake clock's to make
    Retry-After waits instant in tests): the options of :class:`ITGlueSimulator`, whose
    defaults are the only ones. ``webhook_url``, meant for vendors with webhooks, is
    accepted and unused: IT Glue sends none.
    """
    sim = ITGlueSimulator(**options)

    def settings(base_url: str) -> dict[str, Any]:
        return {"base_url": base_url, "api_key": sim.api_key, "site_summary_type": sim.site_summary_type}

    return Sandbox(
        app=sim.app, settings=settings, control=ITGlueSimulatorControl(sim), extra={"simulator": sim}
    )
