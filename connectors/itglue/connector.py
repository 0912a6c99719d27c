"""The IT Glue connector: organizations, contacts and the Site Summary flexible asset.

Speaks IT Glue's JSON:API (https://api.itglue.com/developer) with the ``x-api-key``
header on one of its data-center hosts (US ``https://api.itglue.com``, EU
``https://api.eu.itglue.com``, AU ``https://api.au.itglue.com``, or a simulator).

Two vendor rules shape the writes:

* IT Glue replaces a flexible asset's whole ``traits`` object on PATCH, so a Site
  Summary update reads the asset first and sends every trait back
  (:func:`connectors.itglue.site_summary.traits_for_write`).
* IT Glue answers 422 to a PATCH of an organization (or contact) it keeps in sync with
  a PSA ("Returns 422 ... if trying to update an externally synced record on
  attributes other than: alert, description, quick_notes"). The connector confirms
  the record is PSA-synced (its ``psa-integration`` attribute) and raises
  :class:`hub.sdk.RecordRejected` with that reason: never retried, dead-lettered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr, field_validator

from connectors.itglue.contacts import LIST_FIELDS, merge_primary, normalize_items
from connectors.itglue.jsonapi import MEDIA_TYPE, document, error_message, next_page, resource, resources
from connectors.itglue.recovery import find_created
from connectors.itglue.site_summary import AssetType, labels_of, parse_type, traits_for_write
from connectors.itglue.streams import ContactsStream, OrganizationsStream, SiteSummariesStream
from hub.sdk import (
    AuthenticationError,
    CheckResult,
    ConfigError,
    ConflictError,
    Connector,
    ConnectorContext,
    ConnectorSettings,
    ErrorPolicy,
    Finding,
    HttpClient,
    HttpError,
    Need,
    NotFoundError,
    RateLimit,
    RecordRejected,
    VendorError,
    WriteResult,
)

__all__ = ["ITGlueConnector", "ITGlueSettings"]

#: IT Glue's published limit: "a maximum of 3000 requests within a 5-minute window"
PUBLISHED_LIMIT = RateLimit(3000, 300)

#: vendor entity -> (collection path, JSON:API type)
ENTITIES: dict[str, tuple[str, str]] = {
    "organizations": ("/organizations", "organizations"),
    "contacts": ("/contacts", "contacts"),
    "site_summaries": ("/flexible_assets", "flexible-assets"),
}

#: picklist fields (mapping vendor path) -> the IT Glue route listing their labels
PICKLISTS: dict[str, str] = {
    "attributes.organization-type-id": "/organization_types",
    "attributes.organization-status-id": "/organization_statuses",
    "attributes.contact-type-id": "/contact_types",
}

#: attributes IT Glue computes; never sent back
READ_ONLY = frozenset(
    {
        "created-at",
        "updated-at",
        "resource-url",
        "organization-name",
        "flexible-asset-type-name",
        "organization-type-name",
        "organization-status-name",
        "contact-type-name",
        "location-name",
        "psa-integration",
        "my-glue",
    }
)
#: a flexible asset's name comes from its use-for-title traits; its traits are built by the connector
ASSET_COMPUTED = frozenset({"name", "traits", "flexible-asset-type-id"})


class ITGlueSettings(ConnectorSettings):
    """``HUB_ITGLUE__*``: the API key, the data-center host and the Site Summary type."""

    api_key: SecretStr = Field(description="IT Glue API key (Account > Settings > API Keys)")
    base_url: str = Field(
        default="https://api.itglue.com",
        description="https://api.itglue.com, https://api.eu.itglue.com or https://api.au.itglue.com",
    )
    site_summary_type: str = Field(
        default="Site Summary", description="name of the Site Summary flexible asset type"
    )
    rate_limit_requests: int = Field(default=3000, gt=0, description="requests allowed per window")
    rate_limit_seconds: float = Field(default=300.0, gt=0, description="length of the request window")
    page_size: int = Field(default=1000, ge=1, le=1000, description="page[size]; IT Glue allows at most 1000")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"must be an http(s) URL such as https://api.itglue.com, not {value!r}")
        return value

    @field_validator("site_summary_type")
    @classmethod
    def _type_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a flexible asset type")
        return value.strip()


class ITGlueConnector(Connector):
    """IT Glue documentation platform: organizations, contacts, Site Summary assets."""

    name = "itglue"
    version = "1.0.0"
    title = "IT Glue"
    #: the documentation role
    roles = {"docs": {}}
    settings_model = ITGlueSettings
    stream_classes: ClassVar[list[type]] = [OrganizationsStream, ContactsStream, SiteSummariesStream]
    writable: ClassVar[dict[str, str]] = {
        "organizations": "organization",
        "contacts": "contact",
        "site_summaries": "site_summary",
    }
    rate_limits: ClassVar[list[RateLimit]] = [PUBLISHED_LIMIT]
    has_webhooks = False
    auth_settings = ("api_key", "base_url")

    settings: ITGlueSettings

    def __init__(self, settings: ITGlueSettings, context: ConnectorContext | None = None) -> None:
        super().__init__(settings, context)
        self._client: HttpClient | None = None
        self._type: AssetType | None = None
        self._picklists: dict[str, dict[str, str]] = {}

    # -- HTTP -------------------------------------------------------------------

    def client(self) -> HttpClient:
        if self._client is None:
            s = self.settings
            key = s.api_key.get_secret_value()
            hint = ", ".join(f"HUB_ITGLUE__{name.upper()}" for name in self.auth_settings)
            self._client = self.make_client(
                s.base_url,
                # one budget per credential: every client of this key shares it
                budget_key=f"itglue:{s.base_url}:{hashlib.sha256(key.encode()).hexdigest()[:12]}",
                limits=[RateLimit(s.rate_limit_requests, s.rate_limit_seconds)],
                # IT Glue documents 403 for an incorrect key and 401 for a missing one
                policy=ErrorPolicy(
                    errors={
                        401: AuthenticationError,
                        403: AuthenticationError,
                        404: NotFoundError,
                        409: ConflictError,
                    },
                    auth_hint=hint,
                ),
                # IT Glue's examples send the JSON:API media type on every request; set once
                # here, no per-request header merge on each of a sync's writes
                headers={"x-api-key": key, "Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE},
                vendor_message=error_message,
            )
        return self._client

    def _send(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client().request(method, path, content=json.dumps(body).encode())
        return self._resource(response)

    def _resource(self, response: httpx.Response) -> dict[str, Any]:
        try:
            return resource(response)
        except ValueError as exc:
            raise self.client().error(response, f"malformed answer: {exc}") from None

    # -- Site Summary type --------------------------------------------------------

    def _type_state_key(self) -> str:
        return f"site_summary_type:{self.settings.base_url}:{self.settings.site_summary_type}"

    def site_summary_type(self, refresh: bool = False) -> AssetType:
        """The tenant's Site Summary type: memory, then the state store, then IT Glue."""
        if self._type is not None and not refresh:
            return self._type
        cached = None if refresh else self.context.state.get(self._type_state_key())
        if cached:
            self._type = AssetType.from_state(cached)
            return self._type
        name = self.settings.site_summary_type
        client = self.client()
        response = client.get(
            "/flexible_asset_types",
            # IT Glue filters split on commas unless escaped with a backslash
            params={"filter[name]": name.replace(",", "\\,"), "include": "flexible_asset_fields"},
        )
        try:
            found = parse_type(response.json(), name)
        except (ValueError, KeyError, TypeError) as exc:
            raise client.error(response, f"malformed flexible asset type list: {exc}") from None
        if found is None:
            raise ConfigError(
                f"IT Glue has no flexible asset type named {name!r}; "
                "set HUB_ITGLUE__SITE_SUMMARY_TYPE to the name of your Site Summary type"
            )
        if not found.fields:  # include not honoured: ask the nested fields route
            fields = client.get(
                f"/flexible_asset_types/{found.id}/relationships/flexible_asset_fields",
                params={"page[size]": 1000},
            )
            try:
                found = (
                    parse_type(
                        {
                            "data": [{"id": found.id, "attributes": {"name": found.name}}],
                            "included": resources(fields),
                        },
                        name,
                    )
                    or found
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise client.error(fields, f"malformed flexible asset field list: {exc}") from None
        self._type = found
        self.context.state.set(self._type_state_key(), found.to_state())
        return found

    def with_labels(self, record: dict[str, Any]) -> dict[str, Any]:
        """A Site Summary resource plus ``labels``: every trait keyed by its field label."""
        traits = (record.get("attributes") or {}).get("traits") or {}
        return {**record, "labels": labels_of(self.site_summary_type(), traits)}

    # -- checks ------------------------------------------------------------------

    def check(self) -> CheckResult:
        response = self.client().get("/organizations", params={"page[size]": 1, "page[number]": 1})
        meta = response.json().get("meta") or {}
        site_type = self.site_summary_type(refresh=True)
        s = self.settings
        return CheckResult(
            ok=True,
            details={
                "host": self.settings.base_url,
                "organizations": str(meta.get("total-count", "unknown")),
                "site summary type": f"{site_type.name} (id {site_type.id}, {len(site_type.fields)} fields)",
                "request budget": f"{s.rate_limit_requests} per {s.rate_limit_seconds:g}s",
            },
        )

    def readiness(self, needs: list[Need]) -> list[Finding]:
        """The Site Summary type's fields the mapping names by label (``labels.<Label>``) and the
        organization type and status labels it writes; IT Glue's own fields need no check."""
        site_type = self.site_summary_type(refresh=True)
        out = []
        for need in needs:
            what = f"{need.entity}.{need.field}" + (f" {need.value!r}" if need.value else "")
            if need.kind == "field" and need.entity == "site_summaries" and need.field.startswith("labels."):
                label = need.field.removeprefix("labels.")
                try:
                    site_type.field_by_label(label)
                    out.append(Finding(what=what, ok=True, detail="present", source=need.source, need=need))
                except ConfigError as exc:
                    out.append(Finding(what=what, ok=False, detail=str(exc), source=need.source, need=need,
                                       fix=f"add the field {label!r} to the flexible asset type {site_type.name!r} "
                                       "(Account > Customize > Flexible Asset Types)"))  # fmt: skip
            elif need.kind == "value" and need.field in PICKLISTS:
                try:
                    self.picklist_value(need.entity, need.field, need.value)
                    out.append(Finding(what=what, ok=True, detail="present", required=need.required,
                                       source=need.source, need=need))  # fmt: skip
                except ConfigError as exc:
                    out.append(Finding(what=what, ok=False, detail=str(exc), required=need.required,
                                       source=need.source, need=need,
                                       fix=f"add {need.value!r} in Account > Customize (organization types and "
                                       "statuses)"))  # fmt: skip
        return out

    # -- writes ------------------------------------------------------------------

    def _entity(self, entity: str) -> tuple[str, str]:
        try:
            return ENTITIES[entity]
        except KeyError:
            raise ConfigError(f"itglue has no entity {entity!r}; entities: {', '.join(ENTITIES)}") from None

    def get(self, entity: str, id: str) -> dict[str, Any]:
        path, _ = self._entity(entity)
        record = self._resource(self.client().get(f"{path}/{id}"))
        return self.with_labels(record) if entity == "site_summaries" else record

    @staticmethod
    def _writable(entity: str, attributes: dict[str, Any] | None) -> dict[str, Any]:
        skip = READ_ONLY | ASSET_COMPUTED if entity == "site_summaries" else READ_ONLY
        return {k: v for k, v in (attributes or {}).items() if k not in skip}

    def create(self, entity: str, payload: dict[str, Any], *, key: str | None = None) -> WriteResult:
        path, type_ = self._entity(entity)
        attrs = self._writable(entity, payload.get("attributes"))
        if entity == "contacts":
            org = attrs.pop("organization-id", None)
            if org in (None, ""):
                raise RecordRejected("an IT Glue contact needs its organization (attributes.organization-id)")
            for name in LIST_FIELDS:
                if name in attrs:
                    attrs[name] = normalize_items(attrs[name], phones=name == "contact-phones")
            # the documented nested route: the contact belongs to the organization in the URL
            path = f"/organizations/{org}/relationships/contacts"
        elif entity == "site_summaries":
            if attrs.get("organization-id") in (None, ""):
                raise RecordRejected(
                    "an IT Glue Site Summary needs its organization (attributes.organization-id)"
                )
            site_type = self.site_summary_type()
            attrs["flexible-asset-type-id"] = site_type.id
            attrs["traits"] = self._traits(site_type, {}, payload.get("labels") or {}, skip_empty=True)
        record = self._send("POST", path, document(type_, attrs))
        if entity == "site_summaries":
            record = self.with_labels(record)
        return WriteResult(str(record["id"]), record)

    def find_created(
        self, entity: str, payload: dict[str, Any], *, since: datetime, key: str | None = None
    ) -> WriteResult | None:
        """The record a create whose answer was lost made (see connectors.itglue.recovery)."""
        self._entity(entity)
        return find_created(self, entity, payload, since)

    def update(self, entity: str, id: str, changes: dict[str, Any], *, key: str | None = None) -> WriteResult:
        path, type_ = self._entity(entity)
        attrs = self._writable(entity, changes.get("attributes"))
        if entity == "site_summaries":
            current = self._resource(self.client().get(f"{path}/{id}"))
            site_type = self.site_summary_type()
            cur_attrs = current.get("attributes") or {}
            if int(cur_attrs.get("flexible-asset-type-id", site_type.id)) != site_type.id:
                raise RecordRejected(f"IT Glue flexible asset {id} is not a {site_type.name!r} asset")
            attrs["traits"] = self._traits(
                site_type, cur_attrs.get("traits") or {}, changes.get("labels") or {}, download=self._download
            )
        elif entity == "contacts" and any(name in attrs for name in LIST_FIELDS):
            current_attrs = self._resource(self.client().get(f"{path}/{id}")).get("attributes") or {}
            for name in LIST_FIELDS:
                if name in attrs:
                    attrs[name] = merge_primary(
                        current_attrs.get(name), attrs[name], phones=name == "contact-phones"
                    )
        try:
            record = self._send("PATCH", f"{path}/{id}", document(type_, attrs))
        except VendorError as exc:
            if exc.status == 422 and entity in ("organizations", "contacts"):
                self._reject_if_psa_synced(entity, id, exc)
            raise
        if entity == "site_summaries":
            record = self.with_labels(record)
        return WriteResult(str(record["id"]), record)

    def _traits(
        self,
        site_type: AssetType,
        current: dict[str, Any],
        labels: dict[str, Any],
        skip_empty: bool = False,
        download: Any = None,
    ) -> dict[str, Any]:
        if skip_empty:
            labels = {k: v for k, v in labels.items() if v not in (None, "", [])}
        try:
            return traits_for_write(site_type, current, labels, download)
        except ConfigError:
            # the type may have gained a field since it was cached: look again, once
            fresh = self.site_summary_type(refresh=True)
            return traits_for_write(fresh, current, labels, download)

    def _download(self, item: Mapping[str, Any]) -> bytes | None:
        """An Upload trait's file, to upload it again (see :mod:`.site_summary`); None if it
        cannot be had. The API key goes only to the API's own host: a file elsewhere (a
        signed storage link) is fetched without it."""
        url = str(item.get("url") or "")
        if not url.startswith(("https://", "http://")):
            return None
        same_host = httpx.URL(url).host == httpx.URL(self.settings.base_url).host
        try:
            if same_host:
                return self.client().get(url).content
            with httpx.Client(transport=self.context.transport, timeout=30.0, follow_redirects=True) as plain:
                response = plain.get(url)
            return response.content if response.status_code == 200 else None
        except (HttpError, httpx.HTTPError):
            return None

    def _reject_if_psa_synced(self, entity: str, id: str, error: VendorError) -> None:
        """A 422 on PATCH: dead-letter the record if IT Glue keeps it in sync with a PSA."""
        path, _ = self._entity(entity)
        attrs = self._resource(self.client().get(f"{path}/{id}")).get("attributes") or {}
        psa = attrs.get("psa-integration")
        if psa:
            reason = error.vendor_message or "IT Glue refused the update"
            raise RecordRejected(
                f"IT Glue {entity[:-1]} {id} is kept in sync with a PSA ({psa}); IT Glue refuses changes "
                f"other than alert, description and quick notes, so change it in the PSA: {reason}"
            ) from None

    # -- vocabulary ----------------------------------------------------------------

    def _options(self, field: str) -> dict[str, str]:
        """id -> label of one picklist, read once per connector instance."""
        if field not in self._picklists:
            options: dict[str, str] = {}
            page: int | None = 1
            while page:
                response = self.client().get(
                    PICKLISTS[field], params={"page[size]": 1000, "page[number]": page}
                )
                try:
                    for item in resources(response):
                        options[str(item["id"])] = str((item.get("attributes") or {}).get("name"))
                    body = response.json()
                except (ValueError, KeyError) as exc:
                    raise self.client().error(
                        response, f"malformed picklist {PICKLISTS[field]}: {exc}"
                    ) from None
                page = next_page(body, page)
            self._picklists[field] = options
        return self._picklists[field]

    def picklist_label(self, entity: str, field: str, value: Any) -> str | None:
        if field not in PICKLISTS:
            return super().picklist_label(entity, field, value)
        if value in (None, ""):
            return None
        return self._options(field).get(str(value))

    def picklist_value(self, entity: str, field: str, label: str | None) -> Any:
        if field not in PICKLISTS:
            return super().picklist_value(entity, field, label)
        if label in (None, ""):
            return None
        options = self._options(field)
        wanted = str(label).strip().casefold()
        for id_, name in options.items():
            if name.strip().casefold() == wanted:
                return int(id_) if id_.isdigit() else id_
        known = ", ".join(sorted(options.values())) or "none"
        raise ConfigError(f"IT Glue {PICKLISTS[field].strip('/')} has no {label!r}; valid: {known}")

    @classmethod
    def sandbox(cls, **options: Any) -> Any:
        """The IT Glue simulator (see :mod:`connectors.itglue.simulator`)."""
        from connectors.itglue.simulator import build_sandbox

        return build_sandbox(**options)
