"""Managed-services devices that no recurring-service contract covers.

The rule (procedures: managed-services devices are tied to service contracts): a
device is *managed* when it is an active configuration item of a managed-services
company (service model from the PSA account's classification) or when it was synced
from the RMM (it has an RMM counterpart in the crosswalk). A managed device is
*covered* when its configuration item is attached to a contract that is active today,
of the recurring-service type, and of the device's own company. Everything else is
listed with the reason, so a person knows whether to attach the device to an existing
contract or to sell one.

The PSA is read whole through its streams and mapping (companies and contracts kept in
memory as small tuples, configuration items streamed), so the rule does not depend on
the vendor: any PSA connector whose mapping yields organizations, contracts and
configuration items works.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from hub.errors import RecordRejected
from hub.logging import get_logger
from hub.models import ConfigurationItem, Contract, ContractType, Organization, Record, ServiceModel

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["UncoveredDevice", "uncovered_devices"]

log = get_logger("hub.reports")


@dataclass(frozen=True)
class UncoveredDevice:
    """One managed device no active recurring-service contract of its company covers."""

    configuration_item: str
    name: str
    serial_number: str | None
    company: str | None
    company_name: str | None
    rmm_device: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Contract:
    name: str
    company: str | None
    recurring_active: bool


def _records(hub: Hub, system: str, slot: str) -> Iterator[Record]:
    """Every record of the PSA role's ``slot`` in ``system``, mapped to the core model
    (unmappable ones logged)."""
    connector = hub.connector(system)
    stream = connector.stream(hub.roles.stream("psa", slot, system))
    bound = hub.mapping(system).entity(stream.mapping_entity)
    for page in stream.read():
        for raw in page.records:
            try:
                yield bound.to_core(raw, connector)
            except RecordRejected as exc:
                log.warning("report.record_skipped", system=system, kind=bound.kind, reason=str(exc))


def _in_force(contract: Contract, today: date) -> bool:
    return (
        contract.active
        and contract.contract_type == ContractType.recurring_service
        and (contract.start_date is None or contract.start_date <= today)
        and (contract.end_date is None or contract.end_date >= today)
    )


def uncovered_devices(
    hub: Hub, *, psa: str | None = None, rmm: str | None = None, today: date | None = None
) -> list[UncoveredDevice]:
    """The managed devices in ``psa`` that no contract covers (see the module docstring); the
    PSA and the RMM are the connectors filling those roles unless named."""
    psa = psa or hub.roles.connector("psa")
    rmm = rmm or hub.roles.connector("rmm")
    today = today or hub.clock.now().astimezone(hub.settings.zone).date()  # contract dates are the MSP's days
    companies: dict[str, tuple[str, bool]] = {}
    for org in _records(hub, psa, "companies"):
        assert isinstance(org, Organization)
        org_id = org.ref_id(psa)
        if org_id:
            companies[org_id] = (org.name, org.service_model == ServiceModel.managed_services)
    contracts: dict[str, _Contract] = {}
    in_force_by_company: dict[str, list[str]] = {}
    for record in _records(hub, psa, "contracts"):
        assert isinstance(record, Contract)
        contract_id = record.ref_id(psa)
        if not contract_id:
            continue
        company = record.organization.id if record.organization else None
        recurring = _in_force(record, today)
        contracts[contract_id] = _Contract(record.name, company, recurring)
        if recurring and company:
            in_force_by_company.setdefault(company, []).append(record.name)
    out: list[UncoveredDevice] = []
    for record in _records(hub, psa, "configuration_items"):
        assert isinstance(record, ConfigurationItem)
        ci_id = record.ref_id(psa)
        if not ci_id or not record.active:
            continue
        company = record.organization.id if record.organization else None
        company_name, managed = companies.get(company or "", (None, False))
        rmm_device = hub.store.counterpart(ConfigurationItem.kind, psa, ci_id, rmm)
        if not managed and rmm_device is None:
            continue
        reason = _uncovered_reason(record, company, contracts, in_force_by_company)
        if reason is not None:
            out.append(UncoveredDevice(ci_id, record.name, record.serial_number, company, company_name, rmm_device,
                                       reason))  # fmt: skip
    return out


def _uncovered_reason(
    item: ConfigurationItem,
    company: str | None,
    contracts: dict[str, _Contract],
    in_force_by_company: dict[str, list[str]],
) -> str | None:
    """None if the item is covered, else why not (and what a person could attach it to)."""
    if company is None:
        return "the device belongs to no company"
    attached = contracts.get(item.contract.id) if item.contract else None
    if attached is not None and attached.recurring_active and attached.company == company:
        return None
    available = in_force_by_company.get(company, [])
    if attached is not None:
        what = f"its contract {attached.name!r} is not an active recurring-service contract of its company"
    else:
        what = "it is attached to no contract"
    if available:
        return f"{what}; the company has {', '.join(repr(n) for n in sorted(available))}"
    return f"{what}; the company has no active recurring-service contract"
