"""Settings: environment (``HUB_`` prefix, ``__`` nesting), a ``.env`` file and ``hub.yaml``.

Precedence, highest first: environment, ``.env``, ``hub.yaml``, defaults. The core
settings are :class:`HubSettings`; each connector declares its own model (a subclass of
:class:`ConnectorSettings`) that is read under ``HUB_<CONNECTOR>__`` and the
``<connector>:`` section of ``hub.yaml``. A connector's settings are only loaded when
the connector is used, so a missing Autotask secret does not stop ``hub connectors``.

A missing or invalid value raises :class:`hub.errors.ConfigError` with one line naming
the environment variable and what is wrong; the CLI exits 2 with it. So does a name the
hub does not know (a ``hub.yaml`` key, a ``HUB_*`` variable), naming the closest known
one: a typo must not pass silently as an unset setting.

A list setting is comma-separated in the environment at any depth
(``HUB_LIFECYCLE__HOLIDAYS=2026-12-25,2026-12-26``); JSON still works.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import types
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from hub.errors import ConfigError
from hub.yamlfile import load_yaml_lines

__all__ = [
    "CommaList",
    "ConnectorSettings",
    "ConsoleSettings",
    "HubSettings",
    "LifecycleSettings",
    "MaintenanceWindow",
    "MissingSettings",
    "RmmAlertSettings",
    "RoleSettings",
    "ScheduleSpec",
    "TicketPortSettings",
    "check_broker_url",
    "check_cron",
    "check_names",
    "check_zone",
    "configured",
    "env_name",
    "load_connector_settings",
    "load_settings",
    "split_commas",
]

ENV_PREFIX = "HUB_"
S = TypeVar("S", bound=BaseSettings)


def split_commas(value: Any) -> Any:
    """``"a,b"`` -> ``["a", "b"]``; a single value needs no comma and no JSON."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]


#: variables the hub reads that are not settings
NOT_SETTINGS = frozenset({"HUB_CONFIG_FILE"})


def _config_file() -> Path:
    return Path(os.environ.get("HUB_CONFIG_FILE", "hub.yaml"))


def _read_yaml_lines() -> tuple[dict[str, Any], dict[tuple[Any, ...], int]]:
    """``hub.yaml`` (or ``HUB_CONFIG_FILE``) and the line of every key in it.

    The default ``hub.yaml`` may be absent; a file named by ``HUB_CONFIG_FILE`` must exist.
    """
    path = _config_file()
    if "HUB_CONFIG_FILE" in os.environ and not path.exists():
        raise ConfigError(f"HUB_CONFIG_FILE: {path} does not exist")
    if not path.exists():
        return {}, {}
    if path.is_dir():
        raise ConfigError(f"HUB_CONFIG_FILE: {path} is a folder, not a settings file")
    data, _ = load_yaml_lines(path)  # a YAML error says file:line
    if data in (None, {}):
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of settings")
    lines: dict[tuple[Any, ...], int] = {}
    _key_lines(yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader), (), lines)
    return data, lines


def _key_lines(node: yaml.Node | None, loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    """The line of every key (not of its value, which may start on the next line)."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*loc, key.value)
            lines[here] = key.start_mark.line + 1
            _key_lines(value, here, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _key_lines(item, (*loc, i), lines)


def _read_yaml() -> dict[str, Any]:
    return _read_yaml_lines()[0]


class _YamlSection(PydanticBaseSettingsSource):
    """Values from ``hub.yaml``: the top level for the core, a named section for a connector."""

    def __init__(self, settings_cls: type[BaseSettings], section: str | None) -> None:
        super().__init__(settings_cls)
        data = _read_yaml()
        if section is not None:
            data = data.get(section) or {}
            if not isinstance(data, dict):
                raise ConfigError(f"{_config_file()}: section '{section}' must be a mapping")
        self._data = data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        fields = self.settings_cls.model_fields
        return {k: v for k, v in self._data.items() if k in fields and v is not None}


def _unwrap_optional(annotation: Any) -> Any:
    """``X`` of ``X | None`` (and of ``Optional[X]``); anything else as it is."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_scalar_list(annotation: Any) -> bool:
    """Whether a field holds a list of plain values (dates, numbers, names), not of models."""
    annotation = _unwrap_optional(annotation)
    if get_origin(annotation) not in (list, set, tuple, frozenset):
        return False
    return not any(isinstance(arg, type) and issubclass(arg, BaseModel) for arg in get_args(annotation))


class _CommaLists:
    """Environment decoding of the hub: a list of plain values is comma-separated at any
    depth (``HUB_LIFECYCLE__WEEKEND=5,6``), JSON (``[5, 6]``) still works, and a value that
    is neither is left as text for validation to reject with the variable's name (instead
    of pydantic-settings' "error parsing value for field", which names no variable)."""

    def decode_complex_value(self, field_name: str, field: FieldInfo | None, value: Any) -> Any:
        if field is not None and NoDecode in field.metadata:
            return value
        if isinstance(value, str) and not value.lstrip().startswith(("[", "{", '"')):
            if field is not None and _is_scalar_list(field.annotation):
                return split_commas(value)
            return value
        try:
            return json.loads(value)
        except ValueError:
            return value


class _Env(_CommaLists, EnvSettingsSource):
    pass


class _DotEnv(_CommaLists, DotEnvSettingsSource):
    pass


def _sources(
    settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, section: str | None
) -> tuple[PydanticBaseSettingsSource, ...]:
    """Init arguments, the environment, ``.env``, then ``hub.yaml`` (``section`` of it)."""
    return init_settings, _Env(settings_cls), _DotEnv(settings_cls), _YamlSection(settings_cls, section)


def check_cron(value: str) -> str:
    """``value`` if it is a five-field cron expression, else a ValueError."""
    from croniter import croniter

    if not croniter.is_valid(value):
        raise ValueError(f"not a cron expression: {value!r}")
    return value


def _split_leaves(value: Any) -> Any:
    """A mapping whose leaves are lists: comma-separated text at a leaf becomes a list
    (``HUB_EVENT_STREAMS__QUICKBOOKS__CUSTOMER=customers,invoices``)."""
    if isinstance(value, Mapping):
        return {k: _split_leaves(v) for k, v in value.items()}
    if isinstance(value, str):
        return split_commas(value)
    return value


#: what a schedule may run: ``sync:<job>``, the workflow engine's tick or poll, the ticket
#: lifecycle rules, or a pass over the events due for retry
_TASK = re.compile(r"^(sync:[A-Za-z0-9_.-]+|workflow\.tick|workflow\.poll|lifecycle|events\.retry)$")


class ScheduleSpec(BaseModel):
    """One entry of ``schedules:`` in hub.yaml: a cron expression and what it runs.

    Polling reconciliation for what has no webhook is a schedule like any other: a sync
    job whose source is the polled stream (Autotask contracts, N-central alerts), or
    ``workflow.poll`` for waits the workflow engine polls (DocuSign without Connect).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    cron: str = Field(description="five-field cron expression, evaluated in UTC")
    task: str = Field(description="sync:<job>, workflow.tick, workflow.poll, lifecycle or events.retry")
    full_refresh: bool = Field(default=False, description="for sync tasks: ignore the cursors")
    part: str | None = Field(
        default=None,
        pattern=r"^[1-9][0-9]*/[1-9][0-9]*$",
        description="for sync tasks: only part I/N of the job (one schedule per part spreads it over workers)",
    )
    enabled: bool = True

    _cron = field_validator("cron")(check_cron)

    @model_validator(mode="after")
    def _part(self) -> ScheduleSpec:
        if self.part is not None:
            if not self.task.startswith("sync:"):
                raise ValueError(f"part {self.part}: only a sync task runs in parts")
            if self.full_refresh:
                raise ValueError(f"part {self.part}: a full refresh reads for deletions, which needs the whole job")
            index, count = (int(n) for n in self.part.split("/"))
            if index > count:
                raise ValueError(f"part {self.part}: the part must be between 1 and {count}")
        return self

    @field_validator("task")
    @classmethod
    def _task(cls, value: str) -> str:
        if not _TASK.match(value):
            raise ValueError(
                f"unknown task {value!r}; use sync:<job>, workflow.tick, workflow.poll, "
                "lifecycle or events.retry"
            )
        return value


class TicketPortSettings(BaseModel):
    """Where the lifecycle rules read and update tickets: a PSA connector's ticket stream and
    entity, each by default the PSA role's (``HUB_ROLES__PSA`` and its tickets).

    Who acted last and whether someone is assigned are the tickets' core fields
    (``last_activity_at``, ``last_activity_by``, ``assigned_to``), read through the PSA's
    mapping.
    """

    model_config = ConfigDict(extra="forbid")

    connector: str | None = Field(default=None, description="the PSA connector (default: HUB_ROLES__PSA)")
    stream: str | None = Field(default=None, description="the connector's ticket stream (default: the PSA role's)")
    entity: str | None = Field(
        default=None, description="the mapping entity of tickets, kind ticket (default: the PSA role's)"
    )


def check_zone(value: str) -> str:
    """``value`` if it names an IANA time zone (``Australia/Sydney``), else a ValueError."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (an IANA name such as America/New_York)") from None
    return value


class RoleSettings(BaseModel):
    """Which connector fills each role the jobs, workflows, checks and reports name.

    The core names roles, never vendors: ``psa`` (accounts, contacts, tickets,
    contracts), ``docs`` (documentation), ``rmm`` (monitoring), ``accounting`` (invoice
    recipients), ``esign`` (signatures) and ``billing`` (where the MSP's services are
    contracted and invoiced: contracts, contract parts, invoice numbering). The defaults
    are the built-in connectors.

    ``billing`` is a role, not a workflow setting, because it is one fact about the MSP
    that core commands read (``hub report acronis-billing``) as well as workflows: a
    setting inside one workflow file could not reach a report, and would have to be
    repeated in every procedure that bills.
    """

    model_config = ConfigDict(extra="forbid")

    psa: str = Field(default="autotask", description="the PSA connector")
    docs: str = Field(default="itglue", description="the documentation connector")
    rmm: str = Field(default="ncentral", description="the RMM connector")
    accounting: str = Field(default="quickbooks", description="the accounting connector")
    esign: str = Field(default="docusign", description="the e-signature connector")
    billing: str = Field(
        default="acronis", description="the billing connector (contracts, contract parts, invoice numbering)"
    )


class ConsoleSettings(BaseModel):
    """The web console that ``hub serve`` serves at ``/`` (people are added with ``hub users``)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="serve the web console at / beside the webhook routes")
    session_hours: float = Field(default=12, gt=0, description="how long a sign-in lasts")
    login_attempts: int = Field(
        default=5, gt=0, description="failed sign-ins allowed per name and per address within the window"
    )
    login_window_minutes: float = Field(default=15, gt=0, description="the window failed sign-ins are counted in")
    proxy_user_header: str | None = Field(
        default=None,
        description="header in which an authenticating reverse proxy names the signed-in person "
        "(e.g. X-Forwarded-User); trusted only from trusted_proxies",
    )
    trusted_proxies: CommaList = Field(
        default_factory=list, description="addresses or networks of that proxy (e.g. 127.0.0.1,10.0.0.0/8)"
    )

    _split = field_validator("trusted_proxies", mode="before")(split_commas)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @model_validator(mode="after")
    def _proxy_pair(self) -> ConsoleSettings:
        if self.proxy_user_header and not self.trusted_proxies:
            raise ValueError("proxy_user_header needs trusted_proxies: the addresses the header is believed from")
        return self


class LifecycleSettings(BaseModel):
    """The co-managed help desk's ticket rules (statuses are PSA labels; a status set to none turns
    its rule off). The rules are those the procedure states for its statuses
    (shared/procedures/co-managed-helpdesk-setup.txt, step 14)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=False, description="run the rules on a schedule in hub serve (they write to the PSA)")
    cron: str = Field(default="*/15 * * * *", description="how often the rules run")
    waiting_customer: str = Field(default="Waiting Customer", description="status waiting on the customer")
    no_response: str = Field(default="Client No Response", description="status after no answer in time")
    no_response_business_days: int = Field(default=8, gt=0, description="business days to wait for an answer")
    waiting_vendor: str = Field(default="Waiting Vendor", description="status waiting on a vendor")
    vendor_no_response: str | None = Field(
        default="Vendor No Response", description="status after no vendor answer in time (none: no rule)"
    )
    vendor_no_response_business_days: int = Field(default=8, gt=0, description="business days to wait for a vendor")
    auto_complete: str = Field(default="Auto-Complete in 2 Days", description="status that completes by itself")
    complete: str = Field(default="Complete", description="status of completed tickets")
    auto_complete_days: int = Field(default=2, gt=0, description="days before auto-complete")
    auto_complete_business_days: bool = Field(
        default=False, description="count auto-complete days as business days"
    )
    reopened: str = Field(default="Ticket Reopened", description="status when a customer answers a completed ticket")
    feedback_received: str | None = Field(
        default="Feedback Received", description="status when the customer answers an open ticket (none: no rule)"
    )
    feedback_not_from: list[str] = Field(
        default_factory=lambda: ["New", "Feedback Received", "Ticket Reopened"],
        description="statuses a customer's answer leaves as they are",
    )
    assigned: str | None = Field(
        default="Assigned", description="status of a ticket once someone is assigned to it (none: no rule)"
    )
    assign_from: list[str] = Field(
        default_factory=lambda: ["New"], description="statuses an assignment moves to assigned"
    )
    holidays: list[date] = Field(default_factory=list, description="dates that are not business days")
    holiday_country: str | None = Field(
        default=None, description="country whose public holidays are not business days (ISO code, e.g. US)"
    )
    holiday_subdivision: str | None = Field(
        default=None, description="state or region of holiday_country whose holidays count too (e.g. NY)"
    )
    weekend: list[int] = Field(default_factory=lambda: [5, 6], description="ISO weekday numbers - 1 (Mon=0)")
    timezone: str | None = Field(
        default=None, description="IANA zone in which business days are counted (default: HUB_TIMEZONE)"
    )
    psa: TicketPortSettings = Field(default_factory=TicketPortSettings)

    _cron = field_validator("cron")(check_cron)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_zone(value)

    @field_validator("weekend")
    @classmethod
    def _weekend(cls, value: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in value):
            raise ValueError("weekend days are 0 (Monday) to 6 (Sunday)")
        return value

    @model_validator(mode="after")
    def _holiday_calendar(self) -> LifecycleSettings:
        if self.holiday_subdivision and not self.holiday_country:
            raise ValueError("holiday_subdivision needs holiday_country")
        if self.holiday_country:
            import holidays

            try:
                holidays.country_holidays(self.holiday_country, subdiv=self.holiday_subdivision)
            except NotImplementedError as exc:
                raise ValueError(f"holidays: {exc} (see https://holidays.readthedocs.io)") from None
        return self


class MaintenanceWindow(BaseModel):
    """A time in which RMM alerts open no ticket: once (``start``/``end``) or recurring
    (``cron`` + ``minutes``), for some devices or customers (names or RMM ids) or, with
    neither listed, for all."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="maintenance", min_length=1)
    start: datetime | None = Field(default=None, description="one-off window: first moment (with zone)")
    end: datetime | None = Field(default=None, description="one-off window: last moment (with zone)")
    cron: str | None = Field(default=None, description="recurring window: when it opens (UTC cron)")
    minutes: int | None = Field(default=None, gt=0, description="recurring window: how long it lasts")
    devices: list[str] = Field(default_factory=list, description="device names or RMM ids")
    customers: list[str] = Field(default_factory=list, description="customer names or RMM ids")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-03-01T02:00:00Z")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> MaintenanceWindow:
        once = self.start is not None or self.end is not None
        recurring = self.cron is not None or self.minutes is not None
        if once == recurring:
            raise ValueError("give either start and end, or cron and minutes")
        if once and (self.start is None or self.end is None or self.end <= self.start):
            raise ValueError("a one-off window needs start and a later end")
        if recurring and (self.cron is None or self.minutes is None):
            raise ValueError("a recurring window needs cron and minutes")
        return self


class RmmAlertSettings(BaseModel):
    """How ``rmm-alerts`` turns RMM alerts into PSA tickets (labels are the PSA's picklist labels).

    ``new_status`` is the status the hub gives a ticket it opens; a ticket still in the
    status the hub last set, with nobody assigned, has not been worked by a person, so a
    cleared alert may move it to ``auto_resolved_status``. Noise rules (minimum severity,
    exclusions, maintenance windows) only stop tickets from being opened or reopened;
    a ticket already open is still followed to its end.
    """

    model_config = ConfigDict(extra="forbid")

    queue: str = Field(default="Monitoring Alert", description="queue of the tickets the hub opens")
    priorities: dict[str, str] = Field(
        default_factory=lambda: {"critical": "Critical", "warning": "Medium", "information": "Low"},
        description="alert severity -> ticket priority label",
    )
    ticket_type: str | None = Field(default="Alert", description="ticket type label (none: the PSA's default)")
    source: str | None = Field(default="Monitoring Alert", description="ticket source label")
    new_status: str = Field(default="New", description="status of a ticket nobody has worked yet")
    auto_resolved_status: str = Field(default="Auto-Resolved", description="status of a ticket whose alert cleared")
    reopened_status: str = Field(default="Ticket Reopened", description="status of a ticket whose alert returned")
    complete_status: str = Field(
        default="Complete", description="status of a completed ticket (its alert returning reopens it)"
    )
    note_publish: str | None = Field(
        default=None, description="visibility label of the hub's notes (none: the PSA mapping's default)"
    )
    minimum_severity: str = Field(default="warning", description="information, warning or critical")
    exclude_devices: CommaList = Field(default_factory=list, description="device names or RMM ids")
    exclude_customers: CommaList = Field(default_factory=list, description="customer names or RMM ids")
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)
    reopen_window_minutes: float = Field(
        default=24 * 60,
        ge=0,
        description="an alert returning this soon after it cleared reopens the ticket the hub auto-resolved "
        "(later, it gets a new ticket; a ticket a person worked is always the one reopened or noted)",
    )

    _split = field_validator("exclude_devices", "exclude_customers", mode="before")(split_commas)

    @field_validator("minimum_severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        if value.strip().lower() not in _SEVERITIES:
            raise ValueError(f"must be one of {', '.join(_SEVERITIES)}")
        return value.strip().lower()

    @field_validator("priorities")
    @classmethod
    def _priorities(cls, value: dict[str, str]) -> dict[str, str]:
        out = {k.strip().lower(): v for k, v in value.items()}
        missing = [s for s in _SEVERITIES if s not in out]
        unknown = [s for s in out if s not in _SEVERITIES]
        if missing or unknown:
            raise ValueError(f"needs a priority label for exactly {', '.join(_SEVERITIES)}")
        return out

    @property
    def reopen_window(self) -> timedelta:
        return timedelta(minutes=self.reopen_window_minutes)


_SEVERITIES = ("information", "warning", "critical")


#: broker transports that need no host (kombu's in-process, folder and AWS-default ones)
_HOSTLESS_BROKERS = {"memory", "filesystem", "sqs", "sqla", "sqlalchemy"}


def check_broker_url(value: str) -> str:
    """``value`` if it is a Celery broker URL (``redis://host:6379/0``), else a ValueError.

    kombu reads a bare word as a host of its default AMQP transport (``notaurl`` became
    ``amqp://guest:**@notaurl:5672//``, retried forever), so the scheme is required.
    """
    from kombu.transport import TRANSPORT_ALIASES

    from hub.logging import redact_url

    scheme, sep, rest = value.partition("://")
    transport = scheme.split("+", 1)[0].lower()
    example = "e.g. redis://127.0.0.1:6379/0"
    if not sep or transport not in TRANSPORT_ALIASES:
        raise ValueError(f"not a broker URL: {redact_url(value)!r} ({example})")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    if not host and transport not in _HOSTLESS_BROKERS:
        raise ValueError(f"{redact_url(value)!r} names no host ({example})")
    return value


def _default_state_url() -> str:
    path = Path(user_data_dir("msp-hub", appauthor=False)) / "state.sqlite"
    return f"sqlite:///{path}"


class HubSettings(BaseSettings):
    """Core settings. Every field is ``HUB_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    state_url: str = Field(
        default_factory=_default_state_url,
        description="state store URL (SQLite file or postgresql+psycopg://...)",
        json_schema_extra={"doc_default": "SQLite file `state.sqlite` in the user's data directory"},
    )
    documents_root: Path = Field(
        default=Path("./client-folders"),
        description="root of the client folders, one per PSA account, named exactly like it",
    )
    mappings_dir: Path | None = Field(default=None, description="folder of user mapping files")
    workflows_dir: Path | None = Field(default=None, description="folder of user workflow files")
    disable_plugins: CommaList = Field(default_factory=list, description="plugins to skip")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_json: bool = Field(default=False, description="JSON log lines on stderr")
    webhook_max_bytes: int = Field(default=1024 * 1024, gt=0, description="largest webhook body accepted")
    webhook_body_seconds: float = Field(
        default=10.0, gt=0, le=300, description="time a webhook body may take to arrive before it is refused"
    )
    public_url: str | None = Field(default=None, description="URL at which vendors reach `hub serve`")
    celery_broker_url: str = Field(default="redis://127.0.0.1:6379/0", description="Celery broker")
    dispatch: Literal["inline", "celery"] = Field(
        default="inline",
        description="where `hub serve` runs events, syncs and workflow steps: inline (its own threads) or "
        "celery (the queues `hub worker` consumes, on HUB_CELERY_BROKER_URL)",
    )
    budget_url: str | None = Field(
        default=None,
        description="Redis server keeping the vendors' rate budgets every process shares (redis://host:6379/1); "
        "unset: each process keeps its own",
    )
    http_timeout: float = Field(
        default=30.0, gt=0, le=600, description="seconds to wait for a vendor's answer before it counts as lost"
    )
    sync_concurrency: int = Field(
        default=4, ge=1, le=32, description="writes a sync sends at once (capped by each vendor's own limit)"
    )
    sync_pin_cpu: bool = Field(
        default=True,
        description="run a sync's threads on one CPU (Linux): they take turns under Python's interpreter lock, "
        "and handing it between CPUs cost a third of a large sync's CPU",
    )
    mass_deactivate_threshold: float = Field(
        default=0.10, gt=0, le=1, description="share of a target a sync may deactivate"
    )
    schedules: list[ScheduleSpec] = Field(
        default_factory=list, description="what `hub serve` runs on a clock"
    )
    event_streams: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict,
        description="connector -> webhook event entity -> streams it touches, where names differ",
    )
    event_max_attempts: int = Field(
        default=8, gt=0, description="processing attempts before an event is dead"
    )
    event_retry_seconds: float = Field(
        default=30.0, gt=0, description="first retry delay; doubles per attempt"
    )
    timezone: str = Field(
        default="UTC", description="the MSP's time zone (IANA name), for dates shown to people and written as dates"
    )
    phone_region: str = Field(
        default="US",
        description="the MSP's region (ISO 3166 code, e.g. AU) whose dialling rules read phone numbers "
        "written without a country code",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="key that encrypts credentials in the state store and signs console sessions (required with "
        "PostgreSQL; else generated once into `secret.key` beside the SQLite store)",
    )
    roles: RoleSettings = Field(
        default_factory=RoleSettings, description="which connector fills each role"
    )
    workflow_vars: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="workflow name -> constants (vars) that replace the file's, e.g. the services a new contract "
        "bills, without copying the file",
    )
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    rmm_alerts: RmmAlertSettings = Field(
        default_factory=RmmAlertSettings, description="how RMM alerts become PSA tickets (rmm-alerts)"
    )

    _split = field_validator("disable_plugins", mode="before")(split_commas)
    _split_leaves = field_validator("event_streams", mode="before")(_split_leaves)
    _zone = field_validator("timezone")(check_zone)

    @field_validator("mappings_dir", "workflows_dir")
    @classmethod
    def _folder(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a folder" if value.exists() else f"{value} does not exist")
        return value

    @field_validator("celery_broker_url")
    @classmethod
    def _broker(cls, value: str) -> str:
        return check_broker_url(value)

    @field_validator("budget_url")
    @classmethod
    def _budgets(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from hub.logging import redact_url

        if value.partition("://")[0].lower() not in ("redis", "rediss", "unix"):
            raise ValueError(f"not a Redis URL: {redact_url(value)!r} (e.g. redis://127.0.0.1:6379/1)")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """:attr:`timezone` as a ``tzinfo``."""
        return ZoneInfo(self.timezone)

    @field_validator("phone_region")
    @classmethod
    def _region(cls, value: str) -> str:
        import phonenumbers

        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region code such as US, GB, AU or DE")
        return region

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return _sources(settings_cls, init_settings, None)


class ConnectorSettings(BaseSettings):
    """Base of every connector's settings model.

    Subclasses declare fields (secrets as ``SecretStr``); :func:`load_connector_settings`
    reads them under ``HUB_<CONNECTOR>__``. ``base_url``-like fields must exist for
    every vendor host so the hub can be pointed at a sandbox or a simulator.
    """

    model_config = SettingsConfigDict(extra="ignore", env_file=".env", env_file_encoding="utf-8")

    connector_name: ClassVar[str] = ""


def env_name(prefix: str, loc: tuple[Any, ...]) -> str:
    return prefix + "__".join(str(p) for p in loc if not isinstance(p, int)).upper()


class MissingSettings(ConfigError):
    """Required settings that are not set; ``variables`` names every one of them."""

    def __init__(self, message: str, variables: list[str]) -> None:
        super().__init__(message)
        self.variables = variables


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _one_line(exc: ValidationError, prefix: str) -> ConfigError:
    """Every problem of a validation in one line: all missing variables named together
    (never "(and 2 more)"), then each invalid one with what is wrong."""
    missing: list[str] = []
    problems: list[str] = []
    for err in exc.errors():
        name = env_name(prefix, tuple(err.get("loc", ())))
        if err.get("type") == "missing":
            if name not in missing:
                missing.append(name)
            continue
        what = "unknown setting" if err.get("type") == "extra_forbidden" else str(err.get("msg", "invalid"))
        line = f"{name}: {what.removeprefix('Value error, ')}"
        if line not in problems:
            problems.append(line)
    parts = ([f"{_listed(missing)}: required but not set"] if missing else []) + problems
    if missing and not problems:
        return MissingSettings(parts[0], missing)
    return ConfigError("; ".join(parts))


# -- names the hub knows ----------------------------------------------------------------


def _model_of(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap_optional(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _item_model(annotation: Any) -> type[BaseModel] | None:
    """``M`` of a ``list[M]`` field (``schedules``, ``maintenance_windows``)."""
    annotation = _unwrap_optional(annotation)
    if get_origin(annotation) is list and get_args(annotation):
        return _model_of(get_args(annotation)[0])
    return None


def _is_mapping(annotation: Any) -> bool:
    annotation = _unwrap_optional(annotation)
    return annotation is dict or get_origin(annotation) is dict


def _env_names_of(model: type[BaseModel], prefix: str, exact: set[str], open_: set[str]) -> None:
    """Every ``HUB_*`` name of ``model``'s fields; a mapping field takes any key below it."""
    for name, field in model.model_fields.items():
        full = f"{prefix}{name.upper()}"
        exact.add(full)
        sub = _model_of(field.annotation)
        if sub is not None:
            _env_names_of(sub, f"{full}__", exact, open_)
        elif _is_mapping(field.annotation):
            open_.add(f"{full}__")


def _environment() -> list[tuple[str, str]]:
    """``HUB_*`` names set in the environment and in ``.env``, with where each is set."""
    names = [(k.upper(), "") for k in os.environ if k.upper().startswith(ENV_PREFIX)]
    dotenv = DotEnvSettingsSource(HubSettings).env_vars  # .env as pydantic-settings reads it
    names += [(k.upper(), " (in .env)") for k in dotenv if k.upper().startswith(ENV_PREFIX)]
    return names


def _suggest(word: str, candidates: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


_NO_SUGGESTION = " (`hub config reference` lists every setting)"


def _unknown_in_yaml(
    data: Mapping[str, Any], model: type[BaseModel], loc: tuple[Any, ...], lines: Mapping[tuple[Any, ...], int]
) -> str | None:
    """The first key of a ``hub.yaml`` mapping that ``model`` has no field for, as an error."""
    fields = model.model_fields
    for key, value in data.items():
        here = (*loc, key)
        if key not in fields:
            return _yaml_problem(here, lines, _suggest(str(key), fields))
        found = _unknown_below(value, fields[key].annotation, here, lines)
        if found:
            return found
    return None


def _unknown_below(
    value: Any, annotation: Any, loc: tuple[Any, ...], lines: Mapping[tuple[Any, ...], int]
) -> str | None:
    sub, item = _model_of(annotation), _item_model(annotation)
    if sub is not None and isinstance(value, Mapping):
        return _unknown_in_yaml(value, sub, loc, lines)
    if item is not None and isinstance(value, list):
        for i, element in enumerate(value):
            found = _unknown_in_yaml(element, item, (*loc, i), lines) if isinstance(element, Mapping) else None
            if found:
                return found
    return None


def _dotted(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _yaml_problem(loc: tuple[Any, ...], lines: Mapping[tuple[Any, ...], int], best: str | None) -> str:
    line = lines.get(loc)
    where = f"{_config_file()}{f':{line}' if line else ''}"
    hint = f"; did you mean {_dotted((*loc[:-1], best))}?" if best else _NO_SUGGESTION
    return f"{where}: {_dotted(loc)}: unknown setting{hint}"


def _unknown_name(
    connectors: Mapping[str, type[BaseModel]] | None, open_sections: Iterable[str] = ()
) -> str | None:
    """The first setting name (``hub.yaml`` key or ``HUB_*`` variable) nobody knows.

    With ``connectors`` None only the core's own names are checked (before the plugins
    are loaded): keys below a core section and variables below a core setting.
    """
    data, lines = _read_yaml_lines()
    core = HubSettings.model_fields
    sections = dict(connectors or {})
    foreign = {s.lower() for s in open_sections}
    for key, value in data.items():
        if key in core:
            found = _unknown_below(value, core[key].annotation, (key,), lines)
        elif key in sections:
            found = _unknown_in_yaml(value, sections[key], (key,), lines) if isinstance(value, Mapping) else None
        elif connectors is None or str(key).lower() in foreign:
            found = None
        else:
            found = _yaml_problem((key,), lines, _suggest(str(key), [*core, *sections]))
        if found:
            return found
    exact: set[str] = set(NOT_SETTINGS)
    open_: set[str] = {f"{ENV_PREFIX}{s.upper()}__" for s in foreign}
    _env_names_of(HubSettings, ENV_PREFIX, exact, open_)
    core_heads = {name for name in exact if "__" not in name}
    for name, model in sections.items():
        _env_names_of(model, f"{ENV_PREFIX}{name.upper()}__", exact, open_)
    for name, where in _environment():
        if name in exact or any(name.startswith(p) for p in open_):
            continue
        if connectors is None and name.split("__", 1)[0] not in core_heads:
            continue  # may be a connector's: checked once the plugins are loaded
        best = _suggest(name, exact - NOT_SETTINGS)
        return f"{name}{where}: unknown setting" + (f"; did you mean {best}?" if best else _NO_SUGGESTION)
    return None


def check_names(connectors: Mapping[str, type[BaseModel]], open_sections: Iterable[str] = ()) -> None:
    """ConfigError for the first ``hub.yaml`` key or ``HUB_*`` variable that is no setting of
    the core or of an installed connector (``connectors``: name -> settings model), naming
    the closest known one. ``open_sections`` are plugins whose settings are unknown
    (disabled or broken): anything under their name passes."""
    found = _unknown_name(connectors, open_sections)
    if found:
        raise ConfigError(found)


def configured(connector: str) -> bool:
    """Whether any setting of ``connector`` is given (environment, ``.env`` or ``hub.yaml``):
    a connector nobody configured is not in use, one partly configured is a mistake."""
    prefix = f"{ENV_PREFIX}{connector.upper()}__"
    if any(name.startswith(prefix) for name, _ in _environment()):
        return True
    return bool(_read_yaml().get(connector))


def load_settings(**overrides: Any) -> HubSettings:
    """The core settings, or :class:`ConfigError` naming the bad variable or key."""
    found = _unknown_name(None)
    if found:
        raise ConfigError(found)
    try:
        return HubSettings(**overrides)
    except ValidationError as exc:
        raise _one_line(exc, ENV_PREFIX) from None


def load_connector_settings(model: type[S], connector: str, **overrides: Any) -> S:
    """Read ``model`` from ``HUB_<CONNECTOR>__*``, ``.env`` and ``hub.yaml``'s section."""
    prefix = f"{ENV_PREFIX}{connector.upper()}__"

    class _Bound(model):  # type: ignore[valid-type,misc]
        model_config = SettingsConfigDict(
            **{**model.model_config, "env_prefix": prefix, "env_nested_delimiter": "__"}
        )

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return _sources(settings_cls, init_settings, connector)

    _Bound.__name__ = model.__name__
    _Bound.__qualname__ = model.__qualname__
    try:
        loaded = _Bound(**overrides)
    except ValidationError as exc:
        raise _one_line(exc, prefix) from None
    # Hand back an instance of the connector's own class, not of the bound subclass.
    return model.model_construct(**{name: getattr(loaded, name) for name in model.model_fields})
