"""The RMM job tests' view of an RMM simulator, the same for N-central, Datto RMM and NinjaOne.

The RMM job tests run once per RMM (the ``rmm`` fixture) with the same assertions. They
arrange data in neutral terms (a customer, its devices, a problem "Disk Space C:" of
severity "critical") and an adapter says how each RMM's simulator shows it, and which
dedup key the hub must give the problem. The keys are written out literally per RMM, so a
change in either connector's mapping that changes a problem's key fails these tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.dattormm.simulator import DattoSimulator
from connectors.ncentral.simulator import NcentralSimulator
from connectors.ninjaone.simulator import NinjaSimulator
from hub.sandbox import SandboxSet

__all__ = ["RMMS", "DattoRmm", "NcentralRmm", "NinjaRmm", "RmmSim", "rmm_sim"]

RMMS = ("ncentral", "dattormm", "ninjaone")


class RmmSim(Protocol):
    """Neutral arrangements on one RMM simulator."""

    name: str

    @property
    def customers(self) -> list[Any]: ...

    def customer_name(self, customer: Any) -> str: ...

    def devices_of(self, customer: Any) -> list[Any]: ...

    def device_name(self, device: Any) -> str: ...

    def serial(self, device: Any) -> str | None: ...

    def raise_alert(self, device: Any, service: str, condition: str = "", severity: str = "critical") -> Any:
        """A problem appears; returns a handle for :meth:`repeat_alert` and :meth:`clear_alert`."""
        ...

    def repeat_alert(self, problem: Any, severity: str | None = None) -> None:
        """The same problem notified again (with a new severity, if given)."""
        ...

    def clear_alert(self, problem: Any) -> None: ...

    def restart(self) -> None:
        """The RMM forgets the tokens it issued (a restart, regenerated keys)."""
        ...

    def key(self, device: Any, service: str, condition: str = "") -> str:
        """The dedup key the hub must give the problem."""
        ...


@dataclass
class NcentralRmm:
    sim: NcentralSimulator
    name: str = "ncentral"

    LABELS = {"critical": "Failed", "warning": "Warning", "information": "No Data"}

    @property
    def customers(self) -> list[Any]:
        return list(self.sim.customer_ids)

    def customer_name(self, customer: Any) -> str:
        return str(self.sim.org_units[customer]["orgUnitName"])

    def devices_of(self, customer: Any) -> list[Any]:
        return list(self.sim.devices_by_org_unit[customer])

    def device_name(self, device: Any) -> str:
        return str(self.sim.devices[device]["longName"])

    def serial(self, device: Any) -> str | None:
        return self.sim.serials[device]

    def raise_alert(self, device: Any, service: str, condition: str = "", severity: str = "critical") -> Any:
        return self.sim.raise_alert(device, service, condition, self.LABELS[severity])

    def repeat_alert(self, problem: Any, severity: str | None = None) -> None:
        self.sim.repeat_alert(problem, self.LABELS[severity] if severity else None)

    def clear_alert(self, problem: Any) -> None:
        self.sim.clear_alert(problem)

    def restart(self) -> None:
        self.sim.restart()

    def key(self, device: Any, service: str, condition: str = "") -> str:
        return f"ncentral|{device}|{service.lower()}|{(condition or 'default').lower()}"


#: neutral service -> (Datto monitor class, the context of condition ``c``, the service label
#: of mappings/dattormm.yaml, the condition the hub sees for ``c``)
_DATTO_MONITORS: dict[str, tuple[str, Any, str, Any]] = {
    "Disk Space": ("perf_disk_usage_ctx", lambda c: {"diskName": c, "freeSpace": 2.5, "unitOfMeasure": "PERCENT"},
                   "disk usage", lambda c: c),
    "CPU": ("perf_resource_usage_ctx", lambda c: {"type": "CPU", "sample": 97.5}, "resource usage", lambda c: "cpu"),
    "Memory": ("perf_resource_usage_ctx", lambda c: {"type": "MEMORY", "sample": 93.0}, "resource usage",
               lambda c: "memory"),
    "Windows Service": ("srvc_status_ctx", lambda c: {"serviceName": c, "status": "STOPPED"}, "windows service",
                        lambda c: c),
    "Backup Status": ("comp_script_ctx", lambda c: {"samples": {"BackupStatus": "Failed at 02:00"}},
                      "component monitor", lambda c: "backupstatus"),
    "Agent Status": ("online_offline_status_ctx", lambda c: {"status": "OFFLINE"}, "online status",
                     lambda c: "default"),
    "Patch Status": ("patch_ctx", lambda c: {"policyUid": "7d1f2c1e-policy", "result": "2 patches failed"},
                     "patch monitor", lambda c: "7d1f2c1e-policy"),
}  # fmt: skip


@dataclass
class DattoRmm:
    sim: DattoSimulator
    name: str = "dattormm"
    #: problem handle -> the alertUids raised for it, the open one last
    _alerts: dict[int, list[str]] = field(default_factory=dict)
    _problems: dict[int, tuple[Any, str, str]] = field(default_factory=dict)

    PRIORITIES = {"critical": "Critical", "warning": "Moderate", "information": "Information"}

    @property
    def customers(self) -> list[Any]:
        return list(self.sim.site_uids)

    def customer_name(self, customer: Any) -> str:
        return str(self.sim.sites[customer]["name"])

    def devices_of(self, customer: Any) -> list[Any]:
        return list(self.sim.devices_by_site[customer])

    def device_name(self, device: Any) -> str:
        return str(self.sim.devices[device]["hostname"])

    def serial(self, device: Any) -> str | None:
        return self.sim.serials.get(device)

    def raise_alert(self, device: Any, service: str, condition: str = "", severity: str = "critical") -> Any:
        """A new alert (a new alertUid); the handle names the problem, as N-central's task
        id does, so raising the same problem again gives the same handle."""
        problem = (device, service, condition)
        handle = next((h for h, p in self._problems.items() if p == problem), len(self._problems) + 1)
        self._problems[handle] = problem
        self._alerts.setdefault(handle, []).append(self._raise(handle, severity))
        return handle

    def repeat_alert(self, problem: Any, severity: str | None = None) -> None:
        """Datto RMM's way: the open alert auto-resolves and the monitor raises a new one
        (a new alertUid) for the same problem."""
        current = self._alerts[problem][-1]
        priority = self.sim.alerts[current]["priority"]
        self.sim.resolve_alert(current, by="auto-resolve")
        new = self._raise(problem, severity) if severity else self._raise(problem, None, priority)
        self._alerts[problem].append(new)

    def clear_alert(self, problem: Any) -> None:
        for alert in self._alerts[problem]:
            self.sim.resolve_alert(alert, by="auto-resolve")

    def restart(self) -> None:
        self.sim.forget_tokens()

    def key(self, device: Any, service: str, condition: str = "") -> str:
        _, _, label, seen = _DATTO_MONITORS[service]
        return f"dattormm|{device}|{label}|{(seen(condition) or 'default').lower()}"

    def _raise(self, problem: int, severity: str | None, priority: str | None = None) -> str:
        device, service, condition = self._problems[problem]
        monitor, context, _, _ = _DATTO_MONITORS[service]
        return self.sim.raise_alert(device, monitor, priority or self.PRIORITIES[severity or "critical"],
                                    **context(condition))  # fmt: skip


#: neutral service -> (NinjaOne sourceType, the service label of its mapping, lower case)
_NINJA_CONDITIONS = {
    "Disk Space": ("CONDITION_AGENT_DISK_FREE_SPACE", "disk free space"),
    "CPU": ("CONDITION_AGENT_CPU", "cpu"),
    "Memory": ("CONDITION_AGENT_MEMORY", "memory"),
    "Windows Service": ("CONDITION_WINDOWS_SERVICE_STATE_CHANGED", "windows service"),
    "Backup Status": ("CONDITION_SCRIPT_RESULT", "script result"),
    "Agent Status": ("AGENT_OFFLINE", "agent offline"),
    "Patch Status": ("CONDITION_AGENT_PATCH_LAST_INSTALLED", "patch last installed"),
}


@dataclass
class NinjaRmm:
    """NinjaOne: a problem is a policy condition (its sourceType and name) on a device; the
    condition's name is the neutral service and condition, e.g. "Disk Space C:"."""

    sim: NinjaSimulator
    name: str = "ninjaone"
    #: problem handle -> the alert uids raised for it, the active one last
    _alerts: dict[int, list[str]] = field(default_factory=dict)
    _problems: dict[int, tuple[Any, str, str]] = field(default_factory=dict)
    _severity: dict[int, str] = field(default_factory=dict)

    SEVERITIES = {"critical": "CRITICAL", "warning": "MODERATE", "information": "NONE"}

    @property
    def customers(self) -> list[Any]:
        return list(self.sim.organization_ids)

    def customer_name(self, customer: Any) -> str:
        return str(self.sim.organizations[customer]["name"])

    def devices_of(self, customer: Any) -> list[Any]:
        return list(self.sim.devices_by_organization[customer])

    def device_name(self, device: Any) -> str:
        return str(self.sim.devices[device]["systemName"])

    def serial(self, device: Any) -> str | None:
        system = self.sim.devices[device].get("system")
        return str(system["serialNumber"]) if system else None

    def raise_alert(self, device: Any, service: str, condition: str = "", severity: str = "critical") -> Any:
        problem = (device, service, condition)
        handle = next((h for h, p in self._problems.items() if p == problem), len(self._problems) + 1)
        self._problems[handle] = problem
        self._alerts.setdefault(handle, []).append(self._raise(handle, self.SEVERITIES[severity]))
        return handle

    def repeat_alert(self, problem: Any, severity: str | None = None) -> None:
        """The condition resets and triggers again: a new alert (a new activity series)."""
        self.sim.reset_alert(self._alerts[problem][-1])
        self._alerts[problem].append(self._raise(problem, self.SEVERITIES[severity] if severity else None))

    def clear_alert(self, problem: Any) -> None:
        for alert in self._alerts[problem]:
            self.sim.reset_alert(alert)

    def restart(self) -> None:
        self.sim.forget_tokens()

    def key(self, device: Any, service: str, condition: str = "") -> str:
        return f"ninjaone|{device}|{_NINJA_CONDITIONS[service][1]}|{f'{service} {condition}'.strip().lower()}"

    def _raise(self, problem: int, severity: str | None) -> str:
        device, service, condition = self._problems[problem]
        self._severity[problem] = severity or self._severity[problem]
        source_type = _NINJA_CONDITIONS[service][0]
        return self.sim.raise_alert(device, source_type, f"{service} {condition}".strip(), self._severity[problem])


def rmm_sim(sandboxes: SandboxSet, rmm: str) -> RmmSim:
    """The adapter over the simulator of ``rmm`` that ``sandboxes`` serves."""
    control = sandboxes.control(rmm)
    if rmm == "ncentral":
        return NcentralRmm(control)
    if rmm == "ninjaone":
        return NinjaRmm(control)
    return DattoRmm(control)
