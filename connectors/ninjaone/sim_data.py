"""Seed data for the NinjaOne simulator: organizations with a location each, and devices,
shaped like the spec's ``Organization``, ``Location`` and ``Device`` / ``AgentDevice``.

Deterministic for one ``seed``; everything lives in dicts keyed by id with a sorted id
list per collection (the API pages by id), so the simulator answers quickly with 100,000
devices. Timestamps are the spec's ``number`` (``format: double``): epoch seconds.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["ACCOUNT_NAME", "CONDITIONS", "SeedData", "epoch", "new_uid", "seed"]

ACCOUNT_NAME = "Northwind MSP"

#: (sourceType, sourceName) of the conditions seeded alerts come from: the spec's
#: ``Alert.sourceType`` values, with condition names as an MSP's policies name them
CONDITIONS: tuple[tuple[str, str], ...] = (
    ("CONDITION_AGENT_DISK_FREE_SPACE", "Disk Space C:"),
    ("CONDITION_AGENT_CPU", "CPU"),
    ("CONDITION_AGENT_MEMORY", "Memory"),
    ("CONDITION_WINDOWS_SERVICE_STATE_CHANGED", "Windows Service Spooler"),
    ("AGENT_OFFLINE", "Agent Offline"),
    ("CONDITION_SCRIPT_RESULT", "Backup Status"),
)

_COMPANIES = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent", "Tyrell",
    "Cyberdyne", "Wonka", "Gringotts", "Monarch", "Oceanic", "Pied Piper", "Dunder", "Massive", "Aperture",
)  # fmt: skip
_SUFFIXES = ("Dental", "Legal", "Logistics", "Clinic", "Holdings", "Builders", "Foods", "Partners", "Labs")
#: (nodeClass, OS name or None for devices without an agent, hostname prefix, weight)
_KINDS = (
    ("WINDOWS_WORKSTATION", "Windows 11 Professional Edition", "WS", 55),
    ("WINDOWS_SERVER", "Windows Server 2022 Standard Edition", "SRV", 15),
    ("MAC", "macOS Sonoma", "MAC", 10),
    ("LINUX_SERVER", "Ubuntu 22.04.4 LTS", "LNX", 6),
    ("VMWARE_VM_HOST", None, "ESX", 4),
    ("NMS_SWITCH", None, "NET", 5),
    ("NMS_PRINTER", None, "PRN", 5),
)
_MAKERS = (("Dell Inc.", "OptiPlex 7010"), ("LENOVO", "21AH00BJUS"), ("HP", "ProLiant DL360 Gen10"))


def epoch(moment: datetime) -> float:
    """The spec's timestamps: epoch seconds with milliseconds."""
    return round(moment.timestamp(), 3)


@dataclass
class SeedData:
    organizations: dict[int, dict[str, Any]] = field(default_factory=dict)
    organization_ids: list[int] = field(default_factory=list)
    locations: dict[int, dict[str, Any]] = field(default_factory=dict)
    devices: dict[int, dict[str, Any]] = field(default_factory=dict)
    device_ids: list[int] = field(default_factory=list)
    #: organization id -> device ids
    devices_by_organization: dict[int, list[int]] = field(default_factory=dict)


def _name(n: int) -> str:
    name = f"{_COMPANIES[n % len(_COMPANIES)]} {_SUFFIXES[(n // len(_COMPANIES)) % len(_SUFFIXES)]}"
    if n >= len(_COMPANIES) * len(_SUFFIXES):
        name += f" {n // (len(_COMPANIES) * len(_SUFFIXES)) + 1}"
    return name


def seed(size: int, seed_value: int, now: datetime) -> SeedData:
    """``size`` devices spread over ``size // 12`` organizations (at least 2)."""
    rng = random.Random(seed_value)
    data = SeedData()
    n_orgs = max(2, size // 12)
    for n in range(n_orgs):
        org_id, location_id = n + 1, n + 1
        name = _name(n)
        data.organizations[org_id] = {
            "id": org_id,
            "name": name,
            "description": f"{name} - managed since {2015 + rng.randrange(10)}",
            "nodeApprovalMode": "AUTOMATIC",
            "tags": [],
            "fields": {},
        }
        data.locations[location_id] = {"id": location_id, "organizationId": org_id, "name": "Main Office",
                                       "address": "", "description": ""}  # fmt: skip
        data.organization_ids.append(org_id)
        data.devices_by_organization[org_id] = []
    weights = [k[-1] for k in _KINDS]
    for n in range(size):
        org_id = data.organization_ids[rng.randrange(n_orgs)]
        device = _device(n, org_id, rng.choices(_KINDS, weights)[0], rng, now)
        data.devices[device["id"]] = device
        data.device_ids.append(device["id"])
        data.devices_by_organization[org_id].append(device["id"])
    return data


def _device(n: int, org_id: int, kind: tuple[Any, ...], rng: random.Random, now: datetime) -> dict[str, Any]:
    node_class, os_name, prefix, _ = kind
    device_id = n + 1
    hostname = f"{prefix}-{n + 1:06d}"
    contact = now - timedelta(minutes=rng.randrange(1, 7 * 24 * 60))
    device: dict[str, Any] = {
        "id": device_id,
        "uid": new_uid(rng),
        "organizationId": org_id,
        "locationId": org_id,
        "nodeClass": node_class,
        "nodeRoleId": 1,
        "rolePolicyId": 10,
        "approvalStatus": "APPROVED",
        "offline": rng.random() < 0.2,
        "displayName": hostname,
        "systemName": hostname,
        "dnsName": f"{hostname.lower()}.northwind.local",
        "created": epoch(now - timedelta(days=rng.randrange(30, 1500))),
        "lastContact": epoch(contact),
        "lastUpdate": epoch(contact - timedelta(minutes=rng.randrange(0, 60))),
        "tags": [],
        "fields": {},
        "ipAddresses": [f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"],
        "macAddresses": [":".join(f"{rng.randrange(256):02x}" for _ in range(6))],
        "publicIP": f"203.0.113.{rng.randrange(1, 255)}",
    }
    if os_name is not None:
        maker, model = _MAKERS[n % len(_MAKERS)]
        serial = "".join(rng.choices(string.ascii_uppercase + string.digits, k=10))
        device["netbiosName"] = hostname
        device["os"] = {"manufacturer": "Microsoft Corporation" if "Windows" in os_name else "", "name": os_name,
                        "architecture": "64-bit", "needsReboot": rng.random() < 0.1}  # fmt: skip
        device["system"] = {"name": hostname, "manufacturer": maker, "model": model, "serialNumber": serial,
                            "biosSerialNumber": serial, "domain": "northwind.local", "virtualMachine": False,
                            "numberOfProcessors": 1, "totalPhysicalMemory": 17179869184}  # fmt: skip
        device["lastLoggedInUser"] = rng.choice(("NORTHWIND\\dana", "NORTHWIND\\lee", "NORTHWIND\\sam"))
    return device


def new_uid(rng: random.Random) -> str:
    """A UUID from the seeded generator, so a seed gives the same uids."""
    value = f"{rng.getrandbits(128):032x}"
    return f"{value[:8]}-{value[8:12]}-4{value[13:16]}-a{value[17:20]}-{value[20:]}"
