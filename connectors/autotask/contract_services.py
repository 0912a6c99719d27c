"""A recurring service contract's services, named by name (``add_contract_services``).

The service catalog is the ``Services`` entity; a contract bills the services added to
it as ``ContractServices`` (``POST V1.0/Contracts/{id}/Services`` with the contract, the
service and its unit price). Services are named by their name in Autotask, never by id:
each name must match exactly one active service. The action reads the contract's
services first and adds only the missing ones, at the catalog's unit price, so a
retried or repeated step adds nothing twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, field_validator

from hub.sdk import ConfigError, create_once

if TYPE_CHECKING:
    from .connector import AutotaskConnector

__all__ = ["ContractServicesParams", "add_contract_services"]


class ContractServicesParams(BaseModel):
    """The contract and the names of the services it bills."""

    contract_id: int = Field(gt=0, description="the recurring service contract")
    services: list[str] = Field(min_length=1, description="service names as Autotask shows them")

    @field_validator("services")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        names = [v.strip() for v in value if v.strip()]
        if not names:
            raise ValueError("name at least one service")
        return list(dict.fromkeys(names))


def _service(at: AutotaskConnector, name: str) -> dict[str, Any]:
    found = [s for s in at.find("Services", {"name": name}) if s.get("isActive") is not False]
    if len(found) != 1:
        what = "no active service" if not found else f"{len(found)} active services"
        raise ConfigError(f"autotask: {what} named {name!r} (name the services as Autotask shows them)")
    return found[0]


def add_contract_services(at: AutotaskConnector, params: ContractServicesParams) -> dict[str, Any]:
    """Add the services the contract lacks; report each service's ContractServices id by name."""
    catalog = {name: _service(at, name) for name in params.services}
    existing = {int(r["serviceID"]): r for r in at.find("ContractServices", {"contractID": params.contract_id})}
    ids: dict[str, str] = {}
    added: list[str] = []
    for name, service in catalog.items():
        row = existing.get(int(service["id"]))
        if row is None:
            payload = {"contractID": params.contract_id, "serviceID": int(service["id"]),
                       "unitPrice": service.get("unitPrice") or 0}  # fmt: skip
            ids[name] = str(create_once(at, "ContractServices", payload).id)
            added.append(name)
        else:
            ids[name] = str(row["id"])
    at.log.info("autotask.contract_services", contract=params.contract_id, added=added)
    return {"contract_id": str(params.contract_id), "services": ids, "added": added, "changed": bool(added)}
