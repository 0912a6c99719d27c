"""The plugin manager: discovery, registration, and a typed facade over pluggy.

Plugins are found through the ``msp_hub`` entry-point group. A plugin that fails to
import, implements a hook no spec declares, or registers something that is not a
valid connector is *listed with its error* (``hub connectors``) instead of crashing
the hub. ``HUB_DISABLE_PLUGINS=a,b`` skips plugins by entry-point name.

After tox 4's plugin manager, the hub calls hooks only through :class:`HubPlugins`: one
typed method per hook spec (``mapping_dirs()`` for ``hub_mapping_dirs``, ...), so a
caller gets checked arguments and a typed answer, never pluggy's untyped ``hook``.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pluggy

from hub import hookspecs
from hub.connector import Connector, Event
from hub.errors import ConfigError
from hub.roles import fill

if TYPE_CHECKING:
    from hub.models import Record
    from hub.sync.jobs import SyncJob

__all__ = ["ConnectorRegistry", "HubPlugins", "JobRegistry", "PluginInfo"]

ENTRY_POINT_GROUP = "msp_hub"


@dataclass
class PluginInfo:
    """One plugin as ``hub connectors`` lists it."""

    name: str
    distribution: str | None = None
    version: str | None = None
    error: str | None = None
    disabled: bool = False
    connectors: list[str] = field(default_factory=list)


class ConnectorRegistry:
    """Passed to ``hub_register_connectors``; keeps where each connector came from."""

    def __init__(self) -> None:
        self.classes: dict[str, type[Connector]] = {}
        self.origin: dict[str, str] = {}
        self._current: str = "?"

    def add(self, cls: type[Connector]) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            raise TypeError(f"{cls!r} is not a subclass of hub.sdk.Connector")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
            raise TypeError(f"{cls.__name__}.name must be a lower-case identifier, got {name!r}")
        if name in self.classes and self.classes[name] is not cls:
            raise TypeError(f"connector name {name!r} is already registered by {self.origin[name]}")
        for role in cls.roles:
            try:
                fill(cls, role)
            except ValueError as exc:
                raise TypeError(f"{cls.__name__} declares a role it cannot fill: {exc}") from None
        self.classes[name] = cls
        self.origin[name] = self._current


class JobRegistry:
    """Passed to ``hub_register_sync_jobs``: job name -> :class:`~hub.sync.jobs.SyncJob`."""

    def __init__(self) -> None:
        self.jobs: dict[str, SyncJob] = {}

    def add(self, job: SyncJob) -> None:
        name = getattr(job, "name", None)
        if not name or not hasattr(job, "steps"):
            raise TypeError(f"{job!r} is not a sync job (hub.sdk.SyncJob)")
        self.jobs[name] = job


def _short_error(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


class HubPlugins:
    """The one plugin manager of a hub process."""

    def __init__(self, disabled: Iterable[str] = (), *, entry_points_group: str | None = ENTRY_POINT_GROUP):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.disabled = set(disabled)
        self.infos: dict[str, PluginInfo] = {}
        self._connectors: ConnectorRegistry | None = None
        self._jobs: JobRegistry | None = None
        if entry_points_group:
            for ep in entry_points(group=entry_points_group):
                self._load_entry_point(ep)

    # -- loading --------------------------------------------------------------------

    def _load_entry_point(self, ep: EntryPoint) -> None:
        dist = ep.dist.name if ep.dist else None
        version = ep.dist.version if ep.dist else None
        info = PluginInfo(name=ep.name, distribution=dist, version=version)
        self.infos[ep.name] = info
        if ep.name in self.disabled:
            info.disabled = True
            return
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin is reported, never fatal
            info.error = f"failed to import {ep.value}: {_short_error(exc)}"
            return
        self.register(plugin, ep.name, info)

    def register(self, plugin: Any, name: str, info: PluginInfo | None = None) -> PluginInfo:
        """Register a plugin object (module or instance); errors are kept on its info."""
        info = info or self.infos.get(name) or PluginInfo(name=name)
        self.infos[name] = info
        if name in self.disabled:
            info.disabled = True
            return info
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            info.error = f"cannot register: {_short_error(exc)}"
            return info
        unknown = [
            impl.hookwrapper or impl.function.__name__
            for hook in self.pm.hook.__dict__.values()
            if isinstance(hook, pluggy.HookCaller) and not hook.has_spec()
            for impl in hook.get_hookimpls()
            if impl.plugin_name == name
        ]
        if unknown:
            self.pm.unregister(name=name)
            info.error = f"implements hooks that no spec declares: {', '.join(map(str, unknown))}"
        self._connectors = None
        self._jobs = None
        return info

    def _call_each(self, hook_name: str, *args: Any, before: Any = None) -> None:
        """Call every implementation separately so one plugin's error stays its own
        (``before(plugin_name)`` runs ahead of each)."""
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            if before is not None:
                before(impl.plugin_name)
            try:
                impl.function(*args)
            except Exception as exc:
                info = self.infos.setdefault(impl.plugin_name, PluginInfo(name=impl.plugin_name))
                info.error = f"{hook_name} failed: {_short_error(exc)}"

    # -- registries -----------------------------------------------------------------

    @property
    def connector_registry(self) -> ConnectorRegistry:
        if self._connectors is None:
            registry = ConnectorRegistry()
            self.register_connectors(registry)
            for cname, origin in registry.origin.items():
                self.infos.setdefault(origin, PluginInfo(name=origin)).connectors.append(cname)
            self._connectors = registry
        return self._connectors

    def connector_classes(self) -> dict[str, type[Connector]]:
        return dict(self.connector_registry.classes)

    def connector_class(self, name: str) -> type[Connector]:
        classes = self.connector_classes()
        if name not in classes:
            known = ", ".join(sorted(classes)) or "none installed"
            broken = self.infos.get(name)
            if broken and broken.error:
                raise ConfigError(f"connector {name!r} is broken: {broken.error}")
            if broken and broken.disabled:
                raise ConfigError(f"connector {name!r} is disabled by HUB_DISABLE_PLUGINS")
            raise ConfigError(f"unknown connector {name!r}; installed: {known}")
        return classes[name]

    def jobs(self) -> dict[str, SyncJob]:
        """Every registered job definition by name (role-named steps not bound: ``hub.sync.get_job``)."""
        if self._jobs is None:
            registry = JobRegistry()
            self.register_sync_jobs(registry)
            self._jobs = registry
        return dict(self._jobs.jobs)

    # -- one typed method per hook spec -------------------------------------------------

    def register_connectors(self, registry: ConnectorRegistry) -> None:
        """``hub_register_connectors`` of every plugin, each connector kept with the plugin that
        added it (see :attr:`connector_registry`)."""

        def current(plugin: str) -> None:
            registry._current = plugin

        self._call_each("hub_register_connectors", registry, before=current)

    def register_sync_jobs(self, registry: JobRegistry) -> None:
        """``hub_register_sync_jobs`` of every plugin (see :meth:`jobs`)."""
        self._call_each("hub_register_sync_jobs", registry)

    def workflow_dirs(self) -> list[Path]:
        """The workflow folders every plugin ships, in registration order."""
        return self._dirs(self.pm.hook.hub_workflow_dirs())

    def mapping_dirs(self) -> list[Path]:
        """The mapping folders every plugin ships (the built-in connectors' too)."""
        return self._dirs(self.pm.hook.hub_mapping_dirs())

    @staticmethod
    def _dirs(results: list[Iterable[Path | str] | None]) -> list[Path]:
        return [Path(p) for result in results for p in result or ()]

    def transform_record(self, job: str, system: str, record: Record) -> Record:
        """``record`` after every plugin's ``hub_transform_record``, each seeing the previous result."""
        for impl in reversed(self.pm.hook.hub_transform_record.get_hookimpls()):
            result = cast("Record | None", impl.function(job=job, system=system, record=record))
            if result is not None:
                record = result
        return record

    def before_write(
        self, job: str, system: str, entity: str, operation: str, record: Record, payload: dict[str, Any]
    ) -> str | None:
        """The first veto reason, if any plugin vetoes the write."""
        reasons = self.pm.hook.hub_before_write(
            job=job, system=system, entity=entity, operation=operation, record=record, payload=payload
        )
        return next((r for r in reasons if r), None)

    def after_write(self, job: str, system: str, entity: str, operation: str, record: Record, result_id: str) -> None:
        self.pm.hook.hub_after_write(
            job=job, system=system, entity=entity, operation=operation, record=record, result_id=result_id
        )

    def sync_started(self, job: str, dry_run: bool) -> None:
        self.pm.hook.hub_sync_started(job=job, dry_run=dry_run)

    def sync_finished(self, job: str, summary: dict[str, Any]) -> None:
        self.pm.hook.hub_sync_finished(job=job, summary=summary)

    def sync_error(self, job: str, error: BaseException) -> None:
        self.pm.hook.hub_sync_error(job=job, error=error)

    def event_received(self, event: Event) -> None:
        self.pm.hook.hub_event_received(event=event)
