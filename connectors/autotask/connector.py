"""The Autotask PSA connector: zone discovery, auth headers, queries, writes, vocabulary, webhooks.

Autotask serves each customer database from one zone (``webservices5.autotask.net``,
...). The zone is found with ``GET {api_root}v1.0/zoneInformation?user=<API user>``
and remembered in the connector's state store, so later runs skip the lookup. Every
request carries ``ApiIntegrationCode``, ``UserName`` and ``Secret`` (plus
``ImpersonationResourceId`` when configured, so writes are attributed to that resource).

Autotask reports business-rule failures (a required field missing, a picklist value
that does not exist) as HTTP 500 with ``{"errors": [...]}``; those are refusals, not
outages, so 500 is not retried here (502/503/504 and 429 are). The ``errors`` texts
become the message the user sees.

Workflow actions write what has no change timestamp to stream, each reading before it
writes: ``set_account_team`` (:mod:`.team`), ``activate_client_portal`` (:mod:`.portal`),
``schedule_service_call`` (:mod:`.service_calls`) and ``add_contract_services``
(:mod:`.contract_services`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr, field_validator

from hub.sdk import (
    ActionContext,
    CheckResult,
    ConfigError,
    Connector,
    ConnectorSettings,
    ErrorPolicy,
    Event,
    HttpClient,
    NotFoundError,
    Page,
    RateLimit,
    RecordRejected,
    Sandbox,
    VendorError,
    WebhookRejected,
    WriteResult,
    action,
)

from . import contract_services, portal, service_calls, team
from .contract_services import ContractServicesParams
from .entities import ENTITIES, EntitySpec
from .portal import ActivatePortalParams, check_password, generate_password
from .query import cond, query_body
from .registration import register_webhooks
from .service_calls import ServiceCallParams
from .streams import STREAM_CLASSES, follow_pages
from .team import AccountTeamParams
from .vocabulary import Vocabulary
from .webhooks import parse_callout, verify_signature

__all__ = ["AutotaskConnector", "AutotaskSettings", "autotask_errors"]

DEFAULT_API_ROOT = "https://webservices.autotask.net/atservicesrest/"


class AutotaskSettings(ConnectorSettings):
    """``HUB_AUTOTASK__*``: the API user, where zone discovery starts, the webhook key."""

    connector_name: ClassVar[str] = "autotask"

    username: str = Field(description="API user's user name (an API-only resource)")
    secret: SecretStr = Field(description="API user's secret")
    integration_code: SecretStr = Field(description="API tracking identifier of the integration")
    api_root: str = Field(
        default=DEFAULT_API_ROOT, description="where zone discovery starts ({root}v1.0/zoneInformation)"
    )
    webhook_secret: SecretStr | None = Field(default=None, description="key that signs X-Hook-Signature")
    impersonation_resource_id: int | None = Field(
        default=None, description="resource the API user acts as (ImpersonationResourceId header)"
    )

    @field_validator("api_root")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                "must be an http(s) URL such as https://webservices.autotask.net/atservicesrest/"
            )
        return value if value.endswith("/") else value + "/"


def autotask_errors(response: httpx.Response) -> str | None:
    """The ``{"errors": [...]}`` texts of an Autotask answer, joined."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or None
    if not isinstance(body, dict):
        return None
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
    message = body.get("message") or body.get("Message")
    return str(message) if message else None


class AutotaskConnector(Connector):
    """Autotask PSA REST API v1.0: the MSP's system of record."""

    name: ClassVar[str] = "autotask"
    version: ClassVar[str] = "1.0.0"
    title: ClassVar[str] = "Datto/Kaseya Autotask PSA"
    settings_model: ClassVar[type[ConnectorSettings]] = AutotaskSettings
    stream_classes = STREAM_CLASSES
    writable: ClassVar[dict[str, str]] = {name: spec.kind for name, spec in ENTITIES.items() if spec.writable}
    #: 10,000 requests an hour per database; 3 concurrent requests per endpoint (capped
    #: here per credential, which is stricter)
    rate_limits: ClassVar[list[RateLimit]] = [RateLimit(10_000, 3600, concurrent=3)]
    has_webhooks: ClassVar[bool] = True
    auth_settings: ClassVar[tuple[str, ...]] = ("username", "secret", "integration_code")

    settings: AutotaskSettings

    def __init__(self, settings: ConnectorSettings, context: Any = None) -> None:
        super().__init__(settings, context)
        self._client: HttpClient | None = None
        self._zone: dict[str, Any] | None = None
        self.vocabulary = Vocabulary(self._entity_information)

    # -- HTTP ---------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        s = self.settings
        headers = {
            "ApiIntegrationCode": s.integration_code.get_secret_value(),
            "UserName": s.username,
            "Secret": s.secret.get_secret_value(),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if s.impersonation_resource_id is not None:
            headers["ImpersonationResourceId"] = str(s.impersonation_resource_id)
        return headers

    def _policy(self, *, refuse_500: bool = True) -> ErrorPolicy:
        base = ErrorPolicy()
        errors = dict(base.errors)
        if refuse_500:
            errors[500] = VendorError
        hint = ", ".join(f"HUB_AUTOTASK__{s.upper()}" for s in self.auth_settings)
        return ErrorPolicy(errors=errors, auth_hint=hint)

    @property
    def _zone_key(self) -> str:
        return f"zone:{self.settings.api_root}:{self.settings.username}"

    def zone(self) -> dict[str, Any]:
        """The API user's zone (``zoneName``, ``url``, ``webUrl``, ``ci``), discovered once."""
        if self._zone is None:
            cached = self.context.state.get(self._zone_key)
            self._zone = cached if isinstance(cached, dict) and cached.get("url") else self._discover_zone()
        return self._zone

    def _discover_zone(self) -> dict[str, Any]:
        client = self.make_client(
            self.settings.api_root,
            limits=[],
            headers=self._headers(),
            policy=self._policy(),
            vendor_message=autotask_errors,
        )
        try:
            response = client.get("v1.0/zoneInformation", params={"user": self.settings.username})
        except VendorError as exc:
            if exc.status == 500:
                raise ConfigError(
                    f"autotask: zone discovery does not know API user {self.settings.username!r} "
                    f"(HTTP 500 from {self.settings.api_root}v1.0/zoneInformation); "
                    "check HUB_AUTOTASK__USERNAME"
                ) from None
            raise
        finally:
            client.close()
        zone = response.json()
        url = zone.get("url") if isinstance(zone, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise VendorError(
                "zone discovery answered without a zone url",
                connector=self.name,
                url=str(response.request.url),
            )
        zone["url"] = url if url.endswith("/") else url + "/"
        self.context.state.set(self._zone_key, zone)
        return zone

    def client(self) -> HttpClient:
        if self._client is None:
            zone_url = self.zone()["url"]
            self._client = self.make_client(
                zone_url,
                budget_key=f"autotask:{zone_url}:{self.settings.username}",
                headers=self._headers(),
                policy=self._policy(),
                vendor_message=autotask_errors,
            )
        return self._client

    def _entity_information(self, entity: str, what: str) -> dict[str, Any]:
        return dict(self.client().get(f"V1.0/{entity}/entityInformation/{what}").json())

    # -- reads --------------------------------------------------------------------

    def query_pages(self, entity: str, body: dict[str, Any]) -> Iterator[Page]:
        """Pages of ``POST V1.0/{entity}/query`` with ``body``, following ``nextPageUrl``."""
        client = self.client()
        first = client.post(f"V1.0/{entity}/query", json=body)
        yield from follow_pages(first, client.get, self.zone()["url"], entity)

    def query(
        self, entity: str, *filters: dict[str, Any], fields: list[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record of ``entity`` matching ``filters`` (``fields``: only these, plus id)."""
        spec = self._spec(entity)
        for page in self.query_pages(spec.name, query_body(*filters, include_fields=fields)):
            for record in page.records:
                yield _without_secrets(spec, record)

    def find(self, entity: str, criteria: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Records whose fields equal ``criteria`` (one ``eq`` condition each, values as JSON)."""
        if not criteria:
            raise ConfigError(f"autotask: finding {entity} needs at least one field to compare")
        return list(self.query(entity, *(cond("eq", field, value) for field, value in criteria.items())))

    def get(self, entity: str, id: str) -> dict[str, Any]:
        spec = self._spec(entity)
        body = self.client().get(f"V1.0/{spec.name}/{int(id)}").json()
        item = body.get("item") if isinstance(body, dict) else None
        if not isinstance(item, dict):
            raise NotFoundError(f"{spec.name} {id} does not exist", connector=self.name)
        return _without_secrets(spec, item)

    # -- writes -------------------------------------------------------------------

    def _spec(self, entity: str) -> EntitySpec:
        spec = ENTITIES.get(entity)
        if spec is None:
            raise ConfigError(f"autotask has no entity {entity!r}; entities: {', '.join(ENTITIES)}")
        return spec

    def _parent_id(self, spec: EntitySpec, id: str | None, payload: Mapping[str, Any]) -> Any:
        field = spec.parent_field
        if field is None:
            return None
        value = payload.get(field)
        if value in (None, "", 0) and id is not None:
            value = self.get(spec.name, id).get(field)
        if value in (None, "", 0):
            raise RecordRejected(f"autotask {spec.name} needs {field} (it is written under its parent)")
        return int(value)

    def item_id(self, response: httpx.Response) -> str:
        """The ``itemId`` a create or update answers with (every write, webhooks included)."""
        body = response.json()
        item_id = body.get("itemId") if isinstance(body, dict) else None
        if item_id is None:
            raise VendorError(
                "write answered without itemId", connector=self.name, url=str(response.request.url)
            )
        return str(item_id)

    def _guard_secrets(self, spec: EntitySpec, body: dict[str, Any], *, create: bool) -> None:
        """Secret fields: generated on create when missing, checked, and known to the redactor.

        Registered with the client's redactor before the request goes out, so neither a
        log line nor an error built from the vendor's answer can carry the value.
        """
        for name in spec.secret_fields:
            value = body.get(name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value in (None, ""):
                if not create:
                    body.pop(name, None)
                    continue
                value = generate_password()
            check_password(str(value))
            body[name] = str(value)
            self.client().redactor.add(str(value))

    def create(self, entity: str, payload: dict[str, Any]) -> WriteResult:
        spec = self._spec(entity)
        body = {k: v for k, v in payload.items() if k != "id"}
        self._guard_secrets(spec, body, create=True)
        path = spec.collection_path(self._parent_id(spec, None, body))
        return WriteResult(self.item_id(self.client().post(path, json=body)))

    def update(self, entity: str, id: str, changes: dict[str, Any]) -> WriteResult:
        spec = self._spec(entity)
        if not spec.updatable:
            raise ConfigError(f"autotask cannot update {spec.name}: delete the record and create another")
        body = {**changes, "id": int(id)}
        self._guard_secrets(spec, body, create=False)
        path = spec.collection_path(self._parent_id(spec, id, changes))
        return WriteResult(self.item_id(self.client().patch(path, json=body)))

    def delete(self, entity: str, id: str, parent_id: int | None = None) -> WriteResult:
        """``DELETE`` a record under its parent (account team members); one GET finds a missing parent."""
        spec = self._spec(entity)
        if not spec.deletable:
            raise ConfigError(f"autotask cannot delete {spec.name}")
        parent = parent_id if parent_id is not None else self._parent_id(spec, id, {})
        path = f"{spec.collection_path(parent)}/{int(id)}"
        return WriteResult(self.item_id(self.client().delete(path)))

    def deactivate(self, entity: str, id: str) -> WriteResult:
        spec = self._spec(entity)
        if spec.deactivate is None:
            hint = "; delete them instead" if spec.deletable else ""
            raise ConfigError(f"autotask {spec.name} have no active flag or status to deactivate{hint}")
        field, value = spec.deactivate
        if spec.deactivate_is_label:
            value = self.picklist_value(spec.name, field, value)
        return self.update(spec.name, id, {field: value})

    # -- workflow actions ---------------------------------------------------------

    @action("set_account_team", params=AccountTeamParams)
    def set_account_team(self, params: AccountTeamParams, ctx: ActionContext) -> dict[str, Any]:
        """Add resources to a company's account team (``exact``: remove the others; co-managed stay)."""
        return team.set_account_team(self, params)

    @action("schedule_service_call", params=ServiceCallParams)
    def schedule_service_call(self, params: ServiceCallParams, ctx: ActionContext) -> dict[str, Any]:
        """A service call for a ticket at a time, with its technician (found, not repeated, on retry)."""
        return service_calls.schedule_service_call(self, params)

    @action("add_contract_services", params=ContractServicesParams)
    def add_contract_services(self, params: ContractServicesParams, ctx: ActionContext) -> dict[str, Any]:
        """Add services (by name) to a recurring service contract, each once."""
        return contract_services.add_contract_services(self, params)

    @action("activate_client_portal", params=ActivatePortalParams)
    def activate_client_portal(self, params: ActivatePortalParams, ctx: ActionContext) -> dict[str, Any]:
        """Create or re-activate a contact's Client Portal user at a security level (by label)."""
        return portal.activate_client_portal(self, params)

    # -- vocabulary ---------------------------------------------------------------

    def picklist_label(self, entity: str, field: str, value: Any) -> str | None:
        return self.vocabulary.label(entity, field, value)

    def picklist_value(self, entity: str, field: str, label: str | None) -> Any:
        return self.vocabulary.value(entity, field, label)

    # -- check --------------------------------------------------------------------

    def check(self) -> CheckResult:
        zone = self.zone()
        body = self.client().get("V1.0/ThresholdInformation").json()
        used = body.get("currentTimeframeRequestCount")
        limit = body.get("externalRequestThreshold")
        window = body.get("requestThresholdTimeframe")
        details = {
            "zone": f"{zone.get('zoneName') or '?'} ({zone['url']})",
            "api user": self.settings.username,
            "usage": f"{used} of {limit} requests in the current {window}-minute window",
        }
        if self.settings.impersonation_resource_id is not None:
            details["impersonating resource"] = str(self.settings.impersonation_resource_id)
        details["webhooks"] = (
            "signature key set" if self.settings.webhook_secret else "no HUB_AUTOTASK__WEBHOOK_SECRET"
        )
        return CheckResult(ok=True, details=details)

    # -- webhooks -----------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        secret = self.settings.webhook_secret
        if secret is None:
            raise WebhookRejected("autotask webhook: HUB_AUTOTASK__WEBHOOK_SECRET is not set", status=401)
        verify_signature(headers, body, secret.get_secret_value().encode("utf-8"))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        return parse_callout(body)

    def register_webhooks(self, url: str) -> list[str]:
        """Create, complete or re-activate the hub's five webhooks delivering to ``url``."""
        return register_webhooks(self, url)

    # -- sandbox ------------------------------------------------------------------

    @classmethod
    def sandbox(cls, **options: Any) -> Sandbox:
        from .simulator import build_sandbox

        return build_sandbox(**options)


def _without_secrets(spec: EntitySpec, record: dict[str, Any]) -> dict[str, Any]:
    """The record without fields the API never fills (a portal user's ``password`` reads null)."""
    if not spec.secret_fields:
        return record
    return {k: v for k, v in record.items() if k not in spec.secret_fields}
