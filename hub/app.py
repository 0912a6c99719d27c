"""The hub runtime: settings, plugins, state store and connector instances of one process."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import structlog

from hub.clock import Clock, SystemClock
from hub.connector import Connector, ConnectorContext
from hub.http import RetryPolicy
from hub.logging import configure_logging
from hub.mapping import Mapping, load_mapping
from hub.mapping import configure as configure_mapping
from hub.plugins import HubPlugins
from hub.ratelimit import RateLimiter, SharedBudgets
from hub.roles import RoleTable
from hub.secretkey import master_key
from hub.settings import HubSettings, load_connector_settings, load_settings
from hub.state.mutex import StoreLocks
from hub.state.store import StateStore

__all__ = ["Hub"]


class Hub:
    """Everything one command needs, created lazily so ``hub --version`` stays instant.

    Connectors built by one hub share its rate limiters (one budget per credential)
    and its state store (one key/value namespace per connector).
    """

    def __init__(
        self,
        settings: HubSettings | None = None,
        *,
        plugins: HubPlugins | None = None,
        store: StateStore | None = None,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        connector_overrides: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        configure_mapping(phone_region=self.settings.phone_region)
        if not structlog.is_configured():
            # Embedded use (tests, scripts): logs go to stderr, never into a caller's stdout.
            configure_logging(json=self.settings.log_json, level=self.settings.log_level)
        self._plugins = plugins
        self._store = store
        self.clock = clock or SystemClock()
        self.transport = transport
        self.retry = retry
        self.connector_overrides = connector_overrides or {}
        self._limiters: dict[str, RateLimiter] = {}
        self._budgets: SharedBudgets | None = None
        self._locks: StoreLocks | None = None
        self._connectors: dict[str, Connector] = {}

    @property
    def plugins(self) -> HubPlugins:
        if self._plugins is None:
            self._plugins = HubPlugins(disabled=self.settings.disable_plugins)
        return self._plugins

    @property
    def roles(self) -> RoleTable:
        """Which connector fills each role the jobs, rules, reports and workflows name."""
        return RoleTable(self.settings.roles, self.plugins)

    @property
    def store(self) -> StateStore:
        if self._store is None:
            settings = self.settings
            self._store = StateStore.open(settings.state_url, key=lambda: master_key(settings))
        return self._store

    @property
    def budgets(self) -> SharedBudgets | None:
        """The shared rate budgets (``HUB_BUDGET_URL``), or None: each process keeps its own."""
        if self._budgets is None and self.settings.budget_url:
            # a slot of a concurrency cap is held at most as long as a request may take
            self._budgets = SharedBudgets(self.settings.budget_url, hold_seconds=2 * self.settings.http_timeout + 5)
        return self._budgets

    @property
    def limiters(self) -> dict[str, RateLimiter]:
        """The budgets this process's connectors draw on, by budget key (for metrics)."""
        return dict(self._limiters)

    def lock(self, name: str) -> AbstractContextManager[None]:
        """A lock held by one thread of one process at a time across every process sharing
        the state store (:mod:`hub.state.mutex`)."""
        if self._locks is None:
            self._locks = StoreLocks(self.store.engine)
        return self._locks.hold(name)

    def context(self, name: str) -> ConnectorContext:
        budgets = self.budgets
        return ConnectorContext(
            state=self.store.kv(f"connector:{name}"),
            clock=self.clock,
            zone=self.settings.zone,
            documents_root=self.settings.documents_root,
            transport=self.transport,
            retry=self.retry,
            limiters=self._limiters,
            timeout=self.settings.http_timeout,
            budgets=budgets.limiter if budgets is not None else None,
            lock=self.lock,
        )

    def connector(self, name: str) -> Connector:
        """The connector ``name`` with its settings loaded (ConfigError names a bad one)."""
        if name not in self._connectors:
            cls = self.plugins.connector_class(name)
            settings = load_connector_settings(cls.settings_model, name, **self.connector_overrides.get(name, {}))
            self._connectors[name] = cls(settings, self.context(name))
        return self._connectors[name]

    def mapping(self, connector: str) -> Mapping:
        """The mapping file that applies: ``HUB_MAPPINGS_DIR``'s, else the one its plugin ships."""
        return load_mapping(connector, self.mapping_dirs())

    def mapping_dirs(self) -> list[Path]:
        """Where mapping files are looked for, first match wins: ``HUB_MAPPINGS_DIR``, then the
        folders plugins ship (the built-in connectors' among them)."""
        dirs = [self.settings.mappings_dir] if self.settings.mappings_dir else []
        return [*dirs, *self.plugins.mapping_dirs()]

    def api_calls(self) -> dict[str, int]:
        return {name: c.api_calls for name, c in self._connectors.items()}

    def budget_waits(self) -> dict[str, tuple[float, float | None]]:
        """Connectors whose requests wait for the vendor's budget now: name -> (seconds
        left, the budget's requests a second). Safe to call from a display thread."""
        waits: dict[str, tuple[float, float | None]] = {}
        for name, connector in self._connectors.copy().items():
            wait = connector.budget_wait()
            if wait is not None:
                waits[name] = (wait, connector.budget_rate())
        return waits

    def close(self) -> None:
        for connector in self._connectors.values():
            connector.close()
        self._connectors.clear()
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
