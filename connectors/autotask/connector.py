"""The Autotask PSA connector: zone discovery, auth headers, queries, writes, vocabulary, webhooks.

Autotask serves each customer database from one zone (``webservices5.autotask.net``,
...). The zone is found with ``GET {api_root}v1.0/zoneInformation?user=<API user>``
and remembered in the connector's state store, so later runs skip the lookup. Datto
moves databases between zones; the old zone then refuses the API user with 401. So a
401 from a zone remembered by an earlier run discovers the zone once more and, if it
moved, sends the request again there (as django-autotask re-reads its cached zone). Every
request carries ``ApiIntegrationCode``, ``UserName`` and ``Secret`` (plus
``ImpersonationResourceId`` when configured, so writes are attributed to that resource).

Autotask reports business-rule failures (a required field missing, a picklist value
that does not exist) as HTTP 500 with ``{"errors": [...]}``; those are refusals, not
outages, so 500 is not retried here (502/503/504 and 429 are). The ``errors`` texts
become the message the user sees.

No tenant's ids ship with the hub: a company the hub creates is owned by the resource
``HUB_AUTOTASK__ACCOUNT_OWNER`` names (by name, user name or e-mail; default the API
user's own resource), a configuration item gets the product ``HUB_AUTOTASK__DEVICE_PRODUCT``
names (per configuration item type: ``HUB_AUTOTASK__DEVICE_PRODUCTS``), and mappings and
workflows name resources, roles and products by name (:meth:`AutotaskConnector.named`,
looked up once per run). An unknown name is a :class:`ConfigError` naming the setting or
field and the valid choices.

Two workflow actions write what has no change timestamp to stream:
``set_account_team`` (:mod:`.team`) and ``activate_client_portal`` (:mod:`.portal`).

Workflow actions write what has no change timestamp to stream, each reading before it
writes: ``set_account_team`` (:mod:`.team`), ``activate_client_portal`` (:mod:`.portal`),
``schedule_service_call`` (:mod:`.service_calls`) and ``add_contract_services``
(:mod:`.contract_services`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr, field_validator

from hub.sdk import (
    ActionContext,
    Answer,
    AuthenticationError,
    CheckResult,
    ConfigError,
    Connector,
    ConnectorSettings,
    ErrorPolicy,
    Event,
    Finding,
    HttpClient,
    Need,
    NotFoundError,
    Page,
    RateLimit,
    RecordRejected,
    Sandbox,
    VendorError,
    WebhookRejected,
    WriteResult,
    action,
    message_from,
)

from . import contract_services, portal, readiness, recovery, service_calls, team
from .contract_services import ContractServicesParams
from .entities import ENTITIES, EntitySpec
from .portal import ActivatePortalParams, check_password, generate_password
from .query import cond, query_body
from .registration import register_webhooks
from .service_calls import ServiceCallParams
from .streams import STREAM_CLASSES, QueryPages, query_items
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
    account_owner: str | None = Field(
        default=None,
        description="resource (name, user name or e-mail) that owns the companies the hub creates; "
        "default: the API user's own resource",
    )
    device_product: str | None = Field(
        default=None,
        description="name of the product the configuration items the hub creates get "
        "(Autotask requires one; `hub check autotask` lists the products)",
    )
    device_products: dict[str, str] = Field(
        default_factory=dict,
        description="configuration item type label -> product name, where the MSP uses several "
        "(e.g. HUB_AUTOTASK__DEVICE_PRODUCTS__SERVER=Managed Server); others get DEVICE_PRODUCT",
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


#: Autotask's errors: ``{"errors": ["..."]}`` (a list of texts, or of objects with a message)
autotask_errors = message_from("{message}", each="errors")


class AutotaskConnector(Connector):
    """Autotask PSA REST API v1.0: the MSP's system of record."""

    name: ClassVar[str] = "autotask"
    version: ClassVar[str] = "1.0.0"
    title: ClassVar[str] = "Datto/Kaseya Autotask PSA"
    #: the PSA; notes are kept on tickets and on companies, the role's ticket notes are TicketNotes
    roles: ClassVar[dict[str, dict[str, str]]] = {"psa": {"ticket_notes": "TicketNotes"}}
    settings_model: ClassVar[type[ConnectorSettings]] = AutotaskSettings
    stream_classes = STREAM_CLASSES
    writable: ClassVar[dict[str, str]] = {name: spec.kind for name, spec in ENTITIES.items() if spec.writable}
    natural_keys: ClassVar[dict[str, tuple[tuple[str, ...], ...]]] = recovery.NATURAL_KEYS
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
        #: whether the zone was discovered by this process (a 401 then means the credentials)
        self._zone_discovered = False
        self.vocabulary = Vocabulary(self._entity_information, self.named)
        #: active resources, roles and products by entity, read once per run (see :meth:`named`)
        self._named: dict[str, list[dict[str, Any]]] = {}

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
        # queries are POSTed (``V1.0/{Entity}/query`` and its next pages) but only read
        return ErrorPolicy(errors=errors, auth_hint=hint, replayable_posts=(r"/query(/next)?/?$",))

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
        self._zone_discovered = True
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

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request to the zone (``url`` relative to it, or a ``nextPageUrl``).

        A 401 from a zone remembered by an earlier run may mean the database moved: the
        zone is discovered again (once per connector) and, if it changed, the request is
        sent to the new zone. A 401 from the zone just discovered is the credentials'.
        """
        client = self.client()
        try:
            return client.request(method, url, **kwargs)
        except AuthenticationError:
            if self._zone_discovered:
                raise
            old = self.zone()["url"]
            self._zone = self._discover_zone()
            new = self._zone["url"]
            if new == old:
                raise
            self.log.warning("autotask.zone_moved", old=old, new=new)
            client.base_url = new
            return client.request(method, new + url[len(old) :] if url.startswith(old) else url, **kwargs)

    def _entity_information(self, entity: str, what: str) -> dict[str, Any]:
        return dict(self.call("GET", f"V1.0/{entity}/entityInformation/{what}").json())

    # -- reads --------------------------------------------------------------------

    def query_pages(self, entity: str, body: dict[str, Any]) -> Iterator[Page]:
        """Pages of ``POST V1.0/{entity}/query`` with ``body``: each ``nextPageUrl`` is POSTed
        the same body (a GET there answers 405; see :mod:`.streams`)."""

        def fetch(next_url: str | None) -> Answer:
            return query_items(self.call("POST", next_url or f"V1.0/{entity}/query", json=body))

        yield from QueryPages(self.zone).pages(fetch)

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
        body = self.call("GET", f"V1.0/{spec.name}/{int(id)}").json()
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

    def create(self, entity: str, payload: dict[str, Any], *, key: str | None = None) -> WriteResult:
        spec = self._spec(entity)
        body = {k: v for k, v in payload.items() if k != "id"}
        if spec.name == "Companies" and body.get("ownerResourceID") in (None, ""):
            body["ownerResourceID"] = self.account_owner()  # Autotask requires an owner
        elif spec.name == "ConfigurationItems" and body.get("productID") in (None, ""):
            body["productID"] = self.device_product(body.get("configurationItemType"))  # and a product
        self._guard_secrets(spec, body, create=True)
        path = spec.collection_path(self._parent_id(spec, None, body))
        return WriteResult(self.item_id(self.call("POST", path, json=body)))

    def update(self, entity: str, id: str, changes: dict[str, Any], *, key: str | None = None) -> WriteResult:
        spec = self._spec(entity)
        if not spec.updatable:
            raise ConfigError(f"autotask cannot update {spec.name}: delete the record and create another")
        body = {**changes, "id": int(id)}
        self._guard_secrets(spec, body, create=False)
        path = spec.collection_path(self._parent_id(spec, id, changes))
        return WriteResult(self.item_id(self.call("PATCH", path, json=body)))

    def delete(self, entity: str, id: str, parent_id: int | None = None) -> WriteResult:
        """``DELETE`` a record under its parent (account team members); one GET finds a missing parent."""
        spec = self._spec(entity)
        if not spec.deletable:
            raise ConfigError(f"autotask cannot delete {spec.name}")
        parent = parent_id if parent_id is not None else self._parent_id(spec, id, {})
        path = f"{spec.collection_path(parent)}/{int(id)}"
        return WriteResult(self.item_id(self.call("DELETE", path)))

    def find_created(
        self, entity: str, payload: dict[str, Any], *, since: datetime, key: str | None = None
    ) -> WriteResult | None:
        """The record a create whose answer was lost made: its natural key, created since ``since``."""
        return recovery.find_created(self, self._spec(entity).name, payload, since)

    def deactivate(self, entity: str, id: str, *, key: str | None = None) -> WriteResult:
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

    # -- records named by name -----------------------------------------------------

    def named_records(self, entity: str) -> list[dict[str, Any]]:
        """The active resources, roles or products, read once per connector (per run)."""
        if entity not in _NAMES:
            raise ConfigError(f"autotask: {entity} are not looked up by name; these are: {', '.join(_NAMES)}")
        if entity not in self._named:
            fields = [f for keys in _NAMES[entity] for f in keys]
            self._named[entity] = list(self.query_records(entity, cond("eq", "isActive", True), fields=fields))
        return self._named[entity]

    def named(self, entity: str, name: str, where: str) -> int:
        """The id of the active resource, role or product called ``name`` (a resource also by
        user name or e-mail); ``where`` names what asked, for the error that lists the choices."""
        wanted = " ".join(name.split()).casefold()
        records = self.named_records(entity)
        for record in records:
            if wanted in _names_of(entity, record):
                return int(record["id"])
        choices = sorted({_display(entity, r) for r in records}, key=str.casefold)
        shown = ", ".join(f"'{c}'" for c in choices[:20])
        if len(choices) > 20:
            shown += f" and {len(choices) - 20} more"
        what = entity[:-1].lower()
        raise ConfigError(f"autotask: no active {what} named {name!r} ({where}); {entity.lower()}: {shown or 'none'}")

    def forget_named(self) -> None:
        """Read resources, roles and products again (after ``hub check --fix`` created some)."""
        self._named.clear()

    def api_user_resource(self) -> int | None:
        """The API user's own resource (its user name is the API user name), if readable."""
        wanted = self.settings.username.casefold()
        for record in self.query_records("Resources", cond("eq", "userName", self.settings.username),
                                         fields=["userName", "email", "isActive"]):  # fmt: skip
            if str(record.get("userName", "")).casefold() == wanted:
                return int(record["id"])
        return None

    def account_owner(self) -> int:
        """``HUB_AUTOTASK__ACCOUNT_OWNER``'s resource, else the API user's own."""
        if self.settings.account_owner:
            return self.named("Resources", self.settings.account_owner, "HUB_AUTOTASK__ACCOUNT_OWNER")
        found = self.api_user_resource()
        if found is None:
            raise ConfigError(
                f"autotask: the API user {self.settings.username!r} has no resource the hub can read to own the "
                "companies it creates; set HUB_AUTOTASK__ACCOUNT_OWNER to a resource's name (hub check autotask "
                "lists them)"
            )
        return found

    def device_product(self, ci_type: Any = None) -> int:
        """The product of a new configuration item: by its type (DEVICE_PRODUCTS), else DEVICE_PRODUCT."""
        label = self.picklist_label("ConfigurationItems", "configurationItemType", ci_type) if ci_type else None
        by_type = {k.strip().casefold(): v for k, v in self.settings.device_products.items()}
        if label and label.strip().casefold() in by_type:
            key = "HUB_AUTOTASK__DEVICE_PRODUCTS__" + label.strip().upper().replace(" ", "_")
            return self.named("Products", by_type[label.strip().casefold()], key)
        if not self.settings.device_product:
            products = ", ".join(f"'{_display('Products', r)}'" for r in self.named_records("Products")[:20])
            raise ConfigError(
                "autotask: configuration items need a product and HUB_AUTOTASK__DEVICE_PRODUCT is not set; "
                f"set it to the name of one of the products: {products or 'none (create one in Autotask)'}"
            )
        return self.named("Products", self.settings.device_product, "HUB_AUTOTASK__DEVICE_PRODUCT")

    def query_records(
        self, entity: str, *filters: dict[str, Any], fields: list[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Records of any entity (not only the hub's own), e.g. resources for :meth:`named`."""
        for page in self.query_pages(entity, query_body(*filters, include_fields=fields)):
            yield from page.records

    # -- vocabulary ---------------------------------------------------------------

    def picklist_label(self, entity: str, field: str, value: Any) -> str | None:
        return self.vocabulary.label(entity, field, value)

    def picklist_value(self, entity: str, field: str, label: str | None) -> Any:
        return self.vocabulary.value(entity, field, label)

    # -- check --------------------------------------------------------------------

    def readiness(self, needs: list[Need]) -> list[Finding]:
        """What this database has of what the hub names (see :mod:`.readiness`)."""
        return readiness.readiness(self, needs)

    def fix(self, findings: list[Finding]) -> list[str]:
        """Create the missing UDFs, list-UDF values, roles and products (see :mod:`.readiness`)."""
        return readiness.fix(self, findings)

    def check(self) -> CheckResult:
        zone = self.zone()
        body = self.call("GET", "V1.0/ThresholdInformation").json()
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


#: entity -> the fields a record of it is named by (a resource by its name, user name or e-mail)
_NAMES: dict[str, tuple[tuple[str, ...], ...]] = {
    "Resources": (("firstName", "lastName"), ("userName",), ("email",)),
    "Roles": (("name",),),
    "Products": (("name",),),
}


def _names_of(entity: str, record: dict[str, Any]) -> set[str]:
    out = set()
    for keys in _NAMES[entity]:
        text = " ".join(str(record.get(k) or "").strip() for k in keys).strip()
        if text:
            out.add(" ".join(text.split()).casefold())
    return out


def _display(entity: str, record: dict[str, Any]) -> str:
    keys = _NAMES[entity][0]
    return " ".join(str(record.get(k) or "").strip() for k in keys).strip() or str(record.get("id"))


def _without_secrets(spec: EntitySpec, record: dict[str, Any]) -> dict[str, Any]:
    """The record without fields the API never fills (a portal user's ``password`` reads null)."""
    if not spec.secret_fields:
        return record
    return {k: v for k, v in record.items() if k not in spec.secret_fields}
