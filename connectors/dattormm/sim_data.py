"""Seed data for the Datto RMM simulator: an account, sites, devices with audits, and the
monitors whose alerts the simulator raises, shaped like the spec's ``Account``, ``Site``,
``Device``, ``DeviceAudit`` / ``ESXiHostAudit`` / ``PrinterAudit`` and ``Alert``.

Deterministic for one ``seed`` (uids come from the seeded generator); everything lives in
dicts keyed by uid with a few indexes, so the simulator answers quickly with 100,000
devices. Timestamps are the spec's ISO 8601 ``date-time``.
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["ACCOUNT_NAME", "MONITORS", "SeedData", "audit", "iso", "seed", "uid"]

ACCOUNT_NAME = "Northwind MSP"
FIRST_SITE_ID = 400
FIRST_DEVICE_ID = 8_000_001

#: a monitor kind (the context's @class) -> contexts its seeded alerts carry; the @class
#: values are those public Datto RMM clients report (the spec lists none), the fields are
#: those of the spec's context schemas
MONITORS: dict[str, list[dict[str, Any]]] = {
    "perf_disk_usage_ctx": [{"diskName": "C:", "freeSpace": 4.5, "unitOfMeasure": "PERCENT"}, {"diskName": "D:"}],
    "perf_resource_usage_ctx": [{"type": "CPU", "sample": 97.0}, {"type": "MEMORY", "sample": 92.5}],
    "srvc_status_ctx": [{"serviceName": "Spooler", "status": "STOPPED"}, {"serviceName": "wuauserv"}],
    "online_offline_status_ctx": [{"status": "OFFLINE"}],
    "eventlog_ctx": [{"logName": "System", "source": "Service Control Manager", "code": "7031", "triggerCount": 2}],
    "antivirus_ctx": [{"productName": "Datto AV", "status": "NOTRUNNING"}],
    "patch_ctx": [{"policyUid": "0b5e9d0e-7c2c-4c55-9a7e-2f6b0f3a11d2", "result": "3 patches failed"}],
    "comp_script_ctx": [{"samples": {"Result": "Backup job failed"}}],
}

_COMPANIES = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent", "Tyrell",
    "Cyberdyne", "Wonka", "Gringotts", "Monarch", "Oceanic", "Pied Piper", "Dunder", "Massive", "Aperture",
)  # fmt: skip
_SUFFIXES = ("Dental", "Legal", "Logistics", "Clinic", "Holdings", "Builders", "Foods", "Partners", "Labs")
#: (deviceClass, deviceType category, deviceType type, operating system, hostname prefix, weight)
_KINDS = (
    ("device", "Desktop", "Desktop", "Microsoft Windows 11 Pro 10.0.22631", "WS", 40),
    ("device", "Laptop", "Laptop", "Microsoft Windows 11 Pro 10.0.22631", "LT", 30),
    ("device", "Server", "Main System Chassis", "Microsoft Windows Server 2022 Standard 10.0.20348", "SRV", 12),
    ("device", "Desktop", "Desktop", "macOS Sonoma (14.4)", "MAC", 6),
    ("esxihost", "ESXi Host", "ESXi Host", "VMware ESXi 8.0.2", "ESX", 4),
    ("printer", "Printer", "Printer", "", "PRN", 4),
    ("rmmnetworkdevice", "Network Device", "Switch", "", "NET", 4),
)
_MAKERS = (("Dell Inc.", "OptiPlex 7010"), ("LENOVO", "21AH00BJUS"), ("HP", "ProLiant DL360 Gen10"))


def iso(moment: datetime) -> str:
    """The spec's ``date-time``: ISO 8601 in UTC with milliseconds and ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def uid(rng: random.Random) -> str:
    """A Datto-style uid (a UUID), from the seeded generator so a seed gives the same uids."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class SeedData:
    account_uid: str = ""
    sites: dict[str, dict[str, Any]] = field(default_factory=dict)
    site_uids: list[str] = field(default_factory=list)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    device_uids: list[str] = field(default_factory=list)
    serials: dict[str, str] = field(default_factory=dict)
    #: site uid -> device uids
    devices_by_site: dict[str, list[str]] = field(default_factory=dict)


def _site(n: int, name: str, account_uid: str, rng: random.Random) -> dict[str, Any]:
    site_id = FIRST_SITE_ID + n
    return {
        "id": site_id,
        "uid": uid(rng),
        "accountUid": account_uid,
        "name": name,
        "description": f"{name} - managed since {2015 + rng.randrange(10)}",
        "notes": "",
        "onDemand": False,
        "splashtopAutoInstall": False,
        "autotaskCompanyName": "",
        "autotaskCompanyId": "",
        "portalUrl": f"https://sim.centrastage.test/csm/profile/site/{site_id}",
    }


def seed(size: int, seed_value: int, now: datetime) -> SeedData:
    """``size`` devices spread over ``size // 12`` sites (at least 2)."""
    rng = random.Random(seed_value)
    data = SeedData(account_uid=uid(rng))
    n_sites = max(2, size // 12)
    for n in range(n_sites):
        name = f"{_COMPANIES[n % len(_COMPANIES)]} {_SUFFIXES[(n // len(_COMPANIES)) % len(_SUFFIXES)]}"
        if n >= len(_COMPANIES) * len(_SUFFIXES):
            name += f" {n // (len(_COMPANIES) * len(_SUFFIXES)) + 1}"
        site = _site(n, name, data.account_uid, rng)
        data.sites[site["uid"]] = site
        data.site_uids.append(site["uid"])
        data.devices_by_site[site["uid"]] = []
    weights = [k[-1] for k in _KINDS]
    for n in range(size):
        site = data.sites[data.site_uids[rng.randrange(n_sites)]]
        kind = rng.choices(_KINDS, weights)[0]
        device = _device(n, site, kind, rng, now)
        data.devices[device["uid"]] = device
        data.device_uids.append(device["uid"])
        data.devices_by_site[site["uid"]].append(device["uid"])
        if device["deviceClass"] != "rmmnetworkdevice":
            data.serials[device["uid"]] = "".join(rng.choices(string.ascii_uppercase + string.digits, k=10))
    return data


def _device(n: int, site: dict[str, Any], kind: tuple[Any, ...], rng: random.Random, now: datetime) -> dict[str, Any]:
    device_class, category, device_type, os_name, prefix, _ = kind
    device_id = FIRST_DEVICE_ID + n
    seen = now - timedelta(minutes=rng.randrange(1, 7 * 24 * 60))
    created = now - timedelta(days=rng.randrange(30, 1500))
    return {
        "id": device_id,
        "uid": uid(rng),
        "siteId": site["id"],
        "siteUid": site["uid"],
        "siteName": site["name"],
        "deviceType": {"category": category, "type": device_type},
        "hostname": f"{prefix}-{n + 1:06d}",
        "intIpAddress": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        "operatingSystem": os_name,
        "lastLoggedInUser": rng.choice(("NORTHWIND\\dana", "NORTHWIND\\lee", "NORTHWIND\\sam")),
        "domain": "NORTHWIND",
        "cagVersion": "4.4.2235.2235",
        "displayVersion": "4.4.2235",
        "extIpAddress": f"203.0.113.{rng.randrange(1, 255)}",
        "description": "",
        "a64Bit": True,
        "rebootRequired": rng.random() < 0.1,
        "online": rng.random() < 0.8,
        "suspended": False,
        "deleted": False,
        "lastSeen": iso(seen),
        "lastReboot": iso(seen - timedelta(hours=rng.randrange(1, 400))),
        "lastAuditDate": iso(seen - timedelta(hours=rng.randrange(0, 24))),
        "creationDate": iso(created),
        "snmpEnabled": device_class in ("printer", "rmmnetworkdevice"),
        "deviceClass": device_class,
        "portalUrl": f"https://sim.centrastage.test/csm/profile/summary/{device_id}",
        "warrantyDate": (created + timedelta(days=3 * 365)).date().isoformat(),
        "antivirus": {"antivirusProduct": "Datto AV", "antivirusStatus": "RunningAndUpToDate"},
        "patchManagement": {
            "patchStatus": "FullyPatched",
            "patchesApprovedPending": 0,
            "patchesNotApproved": 0,
            "patchesInstalled": rng.randrange(10, 200),
        },
        "softwareStatus": "Compliant",
        "webRemoteUrl": f"https://sim.centrastage.test/csm/remote/rto/{device_id}",
        "networkProbe": False,
        "onboardedViaNetworkMonitor": device_class == "rmmnetworkdevice",
    }


def audit(device: dict[str, Any], serial: str | None) -> dict[str, Any]:
    """The device's audit as its class's endpoint answers it (``DeviceAudit`` of a generic
    device, ``ESXiHostAudit``, ``PrinterAudit``)."""
    maker, model = _MAKERS[device["id"] % len(_MAKERS)]
    if device["deviceClass"] == "esxihost":
        return {
            "portalUrl": device["portalUrl"],
            "systemInfo": {"manufacturer": maker, "model": model, "name": device["hostname"],
                           "numberOfSnapshots": 2, "serviceTag": serial or ""},
            "guests": [],
        }  # fmt: skip
    if device["deviceClass"] == "printer":
        return {
            "portalUrl": device["portalUrl"],
            "snmpInfo": {"snmpName": device["hostname"], "snmpSerial": serial or "", "objectId": "1.3.6.1.4.1.11"},
            "systemInfo": {"manufacturer": "HP", "model": "LaserJet Pro M404"},
            "printer": {"printedPageCount": 12000 + device["id"] % 5000},
        }
    return {
        "portalUrl": device["portalUrl"],
        "webRemoteUrl": device["webRemoteUrl"],
        "systemInfo": {"manufacturer": maker, "model": model, "totalPhysicalMemory": 17179869184,
                       "username": device["lastLoggedInUser"], "dotNetVersion": "4.8.1", "totalCpuCores": 8},
        "bios": {"instance": "Default System BIOS", "releaseDate": "2023-05-01T00:00:00.000Z",
                 "serialNumber": serial or "", "smBiosVersion": "3.4"},
        "baseBoard": {"manufacturer": maker, "product": "0KV9KW"},
        "logicalDisks": [{"description": "Local Fixed Disk", "diskIdentifier": "C:", "freespace": 120_000_000_000,
                          "size": 510_000_000_000}],
    }  # fmt: skip
