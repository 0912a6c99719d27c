"""Seed data for the N-central simulator: a service organization, customers, sites,
devices with asset records, and monitored tasks, shaped like the API-Service's
``OrganizationUnit``, ``Customer``, ``Device``, ``DeviceAssetInfo`` and ``ActiveIssue``.

Deterministic for one ``seed``; everything lives in dicts keyed by id (and a few
indexes) so the simulator answers quickly with 100,000 devices.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["SERVICES", "SO_ID", "SeedData", "assets", "iso", "seed"]

SO_ID = 50
SO_NAME = "Northwind MSP"
FIRST_CUSTOMER_ID = 100
FIRST_DEVICE_ID = 1_000_000_001

#: service name -> (serviceId, serviceType, conditions it is usually seen with)
SERVICES: dict[str, tuple[int, str, tuple[str, ...]]] = {
    "Disk Space": (101, "AMP", ("C:", "D:")),
    "CPU": (102, "Agent", ("",)),
    "Memory": (103, "Agent", ("",)),
    "Agent Status": (104, "Agent", ("",)),
    "Windows Service": (105, "Agent", ("Spooler", "wuauserv", "W32Time")),
    "Backup Status": (106, "AMP", ("",)),
    "Patch Status": (107, "Agent", ("",)),
    "Windows UAC Status": (496, "AMP", ("",)),
}

_COMPANIES = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Gringotts",
    "Monarch",
    "Oceanic",
    "Pied Piper",
    "Dunder",
    "Massive",
    "Aperture",
)
_SUFFIXES = ("Dental", "Legal", "Logistics", "Clinic", "Holdings", "Builders", "Foods", "Partners", "Labs")
_CITIES = (("Ottawa", "ON", "CA"), ("Toronto", "ON", "CA"), ("Austin", "TX", "US"), ("Denver", "CO", "US"))
_CLASSES = (
    ("Workstations - Windows", "winnt", "Microsoft Windows 11 Pro x64 Edition", "WS"),
    ("Workstations - Windows", "winnt", "Microsoft Windows 10 Enterprise x64 Edition", "WS"),
    ("Laptop - Windows", "winnt", "Microsoft Windows 11 Pro x64 Edition", "LT"),
    ("Servers - Windows", "winnt", "Microsoft Windows Server 2022 Standard", "SRV"),
    ("Workstations - Mac OS X", "macos", "macOS 14 Sonoma", "MAC"),
    ("Servers - Linux", "linux", "Ubuntu 22.04 LTS", "LNX"),
)
_MODELS = (
    ("Dell Inc.", "OptiPlex 7010"),
    ("LENOVO", "ThinkPad T14"),
    ("HP", "ProLiant DL360"),
    ("Apple", "Mac14,2"),
)


def iso(moment: datetime) -> str:
    """N-central's timestamp form: ISO 8601 with milliseconds and an offset."""
    return moment.isoformat(timespec="milliseconds")


@dataclass
class SeedData:
    org_units: dict[int, dict[str, Any]] = field(default_factory=dict)
    customer_ids: list[int] = field(default_factory=list)
    devices: dict[int, dict[str, Any]] = field(default_factory=dict)
    serials: dict[int, str] = field(default_factory=dict)
    #: customer or site id -> device ids
    devices_by_org_unit: dict[int, list[int]] = field(default_factory=dict)
    #: the service organization's id
    so_id: int = SO_ID


def _org_unit(oid: int, name: str, kind: str, parent: int, rng: random.Random) -> dict[str, Any]:
    city, prov, country = rng.choice(_CITIES)
    first, last = rng.choice(("Dana", "Lee", "Sam", "Alex")), rng.choice(("Ng", "Patel", "Smith", "Garcia"))
    return {
        "orgUnitId": str(oid),
        "orgUnitName": name,
        "orgUnitType": kind,
        "parentId": str(parent),
        "externalId": "",
        "externalId2": "",
        "contactFirstName": first,
        "contactLastName": last,
        "phone": f"(613) 555-{rng.randrange(10000):04d}",
        "contactTitle": "Office Manager",
        "contactEmail": f"{first.lower()}.{last.lower()}@example.com",
        "contactPhone": f"(613) 555-{rng.randrange(10000):04d}",
        "contactPhoneExt": None,
        "contactDepartment": "Administration",
        "street1": f"{rng.randrange(1, 999)} Main Street",
        "street2": "",
        "city": city,
        "stateProv": prov,
        "country": country,
        "county": None,
        "postalCode": f"K{rng.randrange(10)}A {rng.randrange(10)}B{rng.randrange(10)}",
        "generation": {"SO": 1, "CUSTOMER": 2, "SITE": 3}[kind],
        "descendantCount": 0,
    }


def seed(size: int, seed_value: int, now: datetime, id_base: int = 0) -> SeedData:
    """``size`` devices spread over ``size // 25`` customers (at least 2), some with a site;
    every org unit and device id moved by ``id_base`` (another server's ids)."""
    rng = random.Random(seed_value)
    data = SeedData(so_id=SO_ID + id_base)
    data.org_units[data.so_id] = _org_unit(data.so_id, SO_NAME, "SO", 1, rng)
    n_customers = max(2, size // 25)
    next_id = FIRST_CUSTOMER_ID + id_base
    sites: dict[int, int] = {}
    for n in range(n_customers):
        name = f"{_COMPANIES[n % len(_COMPANIES)]} {_SUFFIXES[(n // len(_COMPANIES)) % len(_SUFFIXES)]}"
        if n >= len(_COMPANIES) * len(_SUFFIXES):
            name += f" {n // (len(_COMPANIES) * len(_SUFFIXES)) + 1}"
        data.org_units[next_id] = _org_unit(next_id, name, "CUSTOMER", data.so_id, rng)
        data.customer_ids.append(next_id)
        data.devices_by_org_unit[next_id] = []
        next_id += 1
    data.org_units[data.so_id]["descendantCount"] = n_customers
    for customer in data.customer_ids:
        if rng.random() < 0.3:
            name = data.org_units[customer]["orgUnitName"] + " - Branch"
            data.org_units[next_id] = _org_unit(next_id, name, "SITE", customer, rng)
            data.org_units[customer]["descendantCount"] = 1
            data.devices_by_org_unit[next_id] = []
            sites[customer] = next_id
            next_id += 1
    for n in range(size):
        device_id = FIRST_DEVICE_ID + id_base + n
        customer = data.customer_ids[rng.randrange(n_customers)]
        site = sites.get(customer) if rng.random() < 0.5 else None
        data.devices[device_id] = _device(device_id, n, customer, site, data, rng, now)
        data.serials[device_id] = "".join(rng.choices(string.ascii_uppercase + string.digits, k=10))
        data.devices_by_org_unit[customer].append(device_id)
        if site is not None:
            data.devices_by_org_unit[site].append(device_id)
    return data


def _device(
    device_id: int,
    n: int,
    customer: int,
    site: int | None,
    data: SeedData,
    rng: random.Random,
    now: datetime,
) -> dict[str, Any]:
    device_class, os_id, os_name, prefix = rng.choice(_CLASSES)
    name = f"{prefix}-{n + 1:06d}"
    seen = iso(now - timedelta(minutes=rng.randrange(1, 7 * 24 * 60)))
    site_unit = data.org_units[site] if site is not None else None
    return {
        "deviceId": device_id,
        "uri": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        "remoteControlUri": "",
        "sourceUri": "",
        "longName": name,
        "deviceClass": device_class,
        "description": "",
        "isProbe": False,
        "osId": os_id,
        "supportedOs": os_name,
        "discoveredName": name,
        "deviceClassLabel": device_class,
        "supportedOsLabel": os_name,
        "lastLoggedInUser": rng.choice(("-", "dana", "lee", "sam")),
        "stillLoggedIn": "",
        "licenseMode": "Professional",
        "orgUnitId": site if site is not None else customer,
        "soId": data.so_id,
        "soName": SO_NAME,
        "customerId": customer,
        "customerName": data.org_units[customer]["orgUnitName"],
        "siteId": site,
        "siteName": site_unit["orgUnitName"] if site_unit else None,
        "applianceId": device_id + 7,
        "lastApplianceCheckinTime": seen,
        "lastApplianceCheckinTimeLocal": seen,
    }


def assets(device: dict[str, Any], serial: str) -> dict[str, Any]:
    """A device's asset record (the default categories of ``DeviceAssetInfoResponse``)."""
    maker, model = _MODELS[device["deviceId"] % len(_MODELS)]
    return {
        "os": {"reportedos": device["supportedOs"], "osarchitecture": "64-bit", "version": "10.0.22631"},
        "computersystem": {
            "serialnumber": serial,
            "netbiosname": device["longName"],
            "model": model,
            "totalphysicalmemory": "17179869184",
            "manufacturer": maker,
        },
        "device": {
            "longname": device["longName"],
            "deleted": "false",
            "deviceclass": device["deviceClass"],
            "deviceid": str(device["deviceId"]),
            "uri": device["uri"],
        },
        "processor": {"name": "Intel(R) Core(TM) i7-1265U", "numberofcores": "10", "numberofcpus": "1"},
    }
