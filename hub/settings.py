"""Settings: environment (``HUB_`` prefix, ``__`` nesting), a ``.env`` file and ``hub.yaml``.

Precedence, highest first: environment, ``.env``, ``hub.yaml``, defaults. The core
settings are :class:`HubSettings`; each connector declares its own model (a subclass of
:class:`ConnectorSettings`) that is read under ``HUB_<CONNECTOR>__`` and the
``<connector>:`` section of ``hub.yaml``. A connector's settings are only loaded when
the connector is used, so a missing Autotask secret does not stop ``hub connectors``.

A missing or invalid value raises :class:`hub.errors.ConfigError` with one line naming
the environment variable and what is wrong; the CLI exits 2 with it.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from hub.errors import ConfigError

__all__ = [
    "CommaList",
    "ConnectorSettings",
    "HubSettings",
    "LifecycleSettings",
    "MaintenanceWindow",
    "RmmAlertSettings",
    "RoleSettings",
    "ScheduleSpec",
    "TicketPortSettings",
    "check_zone",
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


def _config_file() -> Path:
    return Path(os.environ.get("HUB_CONFIG_FILE", "hub.yaml"))


def _read_yaml() -> dict[str, Any]:
    path = _config_file()
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of settings")
    return data


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
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(f"not a cron expression: {value!r}")
        return value

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
    """Where the lifecycle rules read and update tickets: a PSA connector's stream and entity.

    The defaults name the Autotask REST API: ``Tickets`` records carry
    ``lastActivityDate`` and ``lastActivityPersonType`` (2 = a contact, i.e. the customer).
    """

    model_config = ConfigDict(extra="forbid")

    connector: str | None = Field(default=None, description="the PSA connector (default: HUB_ROLES__PSA)")
    stream: str = Field(default="Tickets", description="the connector's ticket stream")
    entity: str = Field(default="Tickets", description="the mapping entity of tickets (kind ticket)")
    activity_field: str = Field(
        default="lastActivityDate", description="vendor field: time of the last activity"
    )
    actor_field: str | None = Field(
        default="lastActivityPersonType", description="vendor field: who acted last"
    )
    customer_actors: list[str] = Field(
        default_factory=lambda: ["2"], description="actor values meaning the customer"
    )
    assigned_field: str | None = Field(
        default="assignedResourceID", description="vendor field: who the ticket is assigned to"
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
    recipients) and ``esign`` (signatures). The defaults are the built-in connectors.
    """

    model_config = ConfigDict(extra="forbid")

    psa: str = Field(default="autotask", description="the PSA connector")
    docs: str = Field(default="itglue", description="the documentation connector")
    rmm: str = Field(default="ncentral", description="the RMM connector")
    accounting: str = Field(default="quickbooks", description="the accounting connector")
    esign: str = Field(default="docusign", description="the e-signature connector")


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
        from croniter import croniter

        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"not a cron expression: {value!r}")
        return value

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
    note_publish: str = Field(default="All Autotask Users", description="visibility label of the hub's notes")
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
    public_url: str | None = Field(default=None, description="URL at which vendors reach `hub serve`")
    celery_broker_url: str = Field(default="redis://127.0.0.1:6379/0", description="Celery broker")
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
    rmm_alerts: RmmAlertSettings = Field(
        default_factory=RmmAlertSettings, description="how RMM alerts become PSA tickets (rmm-alerts)"
    )

    _split = field_validator("disable_plugins", mode="before")(split_commas)
    _zone = field_validator("timezone")(check_zone)

    @property
    def zone(self) -> ZoneInfo:
        """:attr:`timezone` as a ``tzinfo``."""
        return ZoneInfo(self.timezone)

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
        return init_settings, env_settings, dotenv_settings, _YamlSection(settings_cls, None)


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


def _one_line(exc: ValidationError, prefix: str) -> str:
    err = exc.errors()[0]
    name = env_name(prefix, tuple(err.get("loc", ())))
    if err.get("type") == "missing":
        what = "required but not set"
    else:
        what = err.get("msg", "invalid")
        what = what.removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{name}: {what}{more}"


def load_settings(**overrides: Any) -> HubSettings:
    """The core settings, or :class:`ConfigError` naming the bad variable."""
    try:
        return HubSettings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, ENV_PREFIX)) from None


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
            return init_settings, env_settings, dotenv_settings, _YamlSection(settings_cls, connector)

    _Bound.__name__ = model.__name__
    _Bound.__qualname__ = model.__qualname__
    try:
        loaded = _Bound(**overrides)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, prefix)) from None
    # Hand back an instance of the connector's own class, not of the bound subclass.
    return model.model_construct(**{name: getattr(loaded, name) for name in model.model_fields})
