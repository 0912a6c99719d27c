"""Roles: what the core asks of a connector, named by the part it plays, never by its vendor.

The sync jobs, compliance rules, reports, ticket lifecycle rules and workflows name a role
(``psa``, ``docs``, ``rmm``, ``accounting``, ``esign``, ``billing``); ``HUB_ROLES__<ROLE>``
says which installed connector plays it (defaults: :class:`hub.settings.RoleSettings`).

A role is a set of *slots*: a kind of core record the core reads through a stream or writes
to an entity (the PSA's tickets, the RMM's alerts), and the actions it runs. A connector
class declares the roles it can fill in :attr:`hub.connector.Connector.roles`, naming its
own entity for a slot only where the slot's kind alone picks none or several (N-central has
two streams of organizations; Autotask keeps notes on tickets and on companies). Whether a
connector really has every slot of a role it declares is checked when it registers
(:func:`fill`), so a third party learns it from ``hub connectors``, not from a failed run; a
role filled by a connector that cannot fill it is a configuration error naming
``HUB_ROLES__<ROLE>`` (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.connector import Connector
    from hub.plugins import HubPlugins
    from hub.settings import RoleSettings

__all__ = ["ROLES", "Role", "RoleTable", "Slot", "fill", "role_setting"]


@dataclass(frozen=True)
class Slot:
    """A kind of record a role's connector must read (a stream) or write (an entity)."""

    name: str
    kind: str
    read: bool = False
    write: bool = False
    description: str = ""

    @property
    def needs(self) -> str:
        return " and ".join(w for w, on in (("read", self.read), ("write", self.write)) if on)


@dataclass(frozen=True)
class Role:
    """One role: its slots and the workflow actions the core runs through it."""

    name: str
    title: str
    slots: tuple[Slot, ...] = ()
    actions: tuple[str, ...] = ()

    def slot(self, name: str) -> Slot:
        for slot in self.slots:
            if slot.name == name:
                return slot
        known = ", ".join(s.name for s in self.slots) or "none"
        raise ConfigError(f"role {self.name} has no slot {name!r}; its slots: {known}")


#: every role the core names, with what it needs (the jobs, rules and reports that use each slot)
ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role(
            "psa",
            "PSA: the system of record for accounts, contacts, tickets, contracts and devices",
            (
                Slot("companies", "organization", read=True, write=True, description="accounts"),
                Slot("contacts", "contact", read=True, write=True, description="people of an account"),
                Slot("tickets", "ticket", read=True, write=True, description="tickets (alerts, compliance, lifecycle)"),
                Slot("ticket_notes", "note", write=True, description="notes on a ticket"),
                Slot("contracts", "contract", read=True, description="contracts (compliance, device coverage)"),
                Slot("configuration_items", "configuration_item", read=True, write=True, description="devices"),
            ),
        ),
        Role(
            "docs",
            "documentation platform",
            (
                Slot("organizations", "organization", write=True, description="documented customers"),
                Slot("contacts", "contact", write=True, description="their people"),
            ),
        ),
        Role(
            "rmm",
            "RMM: monitored customers, their devices and the alerts on them",
            (
                Slot("customers", "organization", read=True, description="the RMM's customers (or sites)"),
                Slot("devices", "configuration_item", read=True, description="monitored devices"),
                Slot("alerts", "alert", read=True, description="what is wrong now"),
            ),
        ),
        Role(
            "accounting",
            "accounting: customers and who receives their invoices",
            (
                Slot("customers", "organization", read=True, write=True, description="invoiced customers"),
                Slot("invoice_recipients", "invoice_recipient", read=True, description="who receives invoices"),
            ),
        ),
        Role(
            "esign",
            "e-signature: documents sent for signature",
            (Slot("signature_requests", "signature_request", read=True, description="envelopes and their status"),),
        ),
        Role(
            "billing", "billing: where services are contracted and invoiced", actions=("billing_gaps", "list_clients")
        ),
    )
}


def role_setting(role: str) -> str:
    """The variable that names the connector of ``role`` (``HUB_ROLES__PSA``)."""
    return f"HUB_ROLES__{role.upper()}"


def _stream_entities(cls: type[Connector], kind: str) -> list[str]:
    """The mapping entities of ``cls``'s streams that yield ``kind``, in declaration order."""
    out: list[str] = []
    for stream in cls.stream_classes:
        entity = stream.entity or stream.name
        if stream.kind == kind and entity not in out:
            out.append(entity)
    return out


def _candidates(cls: type[Connector], slot: Slot) -> list[str]:
    readable = _stream_entities(cls, slot.kind)
    writable = [entity for entity, kind in cls.writable.items() if kind == slot.kind]
    if slot.read and slot.write:
        return [e for e in readable if e in writable]
    return readable if slot.read else writable


def _slot_entity(cls: type[Connector], role: Role, slot: Slot, named: str | None) -> str:
    """The entity of ``cls`` that fills ``slot``; ValueError saying why none does."""
    candidates = _candidates(cls, slot)
    what = f"{slot.kind} records to {slot.needs}"
    if named is not None:
        if named not in candidates:
            raise ValueError(f"{role.name}.{slot.name}: {named!r} is no entity of {what}; "
                             f"its entities of that kind: {', '.join(candidates) or 'none'}")  # fmt: skip
        return named
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ValueError(f"{role.name}.{slot.name}: no entity of {what}")
    raise ValueError(f"{role.name}.{slot.name}: several entities of {what} ({', '.join(candidates)}); "
                     f"name one in roles = {{{role.name!r}: {{{slot.name!r}: ...}}}}")  # fmt: skip


def fill(cls: type[Connector], role: str) -> dict[str, str]:
    """Slot -> entity of ``cls`` for ``role``; ValueError naming the first slot or action ``cls``
    lacks (also when it does not declare the role)."""
    spec = ROLES.get(role)
    if spec is None:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    declared = dict(cls.roles)
    if role not in declared:
        raise ValueError(f"it fills {', '.join(declared) or 'no role'}")
    named = dict(declared[role])
    unknown = sorted(set(named) - {s.name for s in spec.slots})
    if unknown:
        raise ValueError(f"{role}: no slot {unknown[0]!r}; its slots: {', '.join(s.name for s in spec.slots)}")
    missing = [a for a in spec.actions if a not in cls.action_specs]
    if missing:
        raise ValueError(f"{role}: no action {missing[0]!r}, which the role needs")
    return {slot.name: _slot_entity(cls, spec, slot, named.get(slot.name)) for slot in spec.slots}


class RoleTable:
    """The roles of one hub: which connector fills each (``HUB_ROLES__*``), and its entity and
    stream for each slot. Every question about a misconfigured role is a :class:`ConfigError`
    naming the variable to fix."""

    def __init__(self, settings: RoleSettings, plugins: HubPlugins) -> None:
        self.settings = settings
        self.plugins = plugins

    def names(self) -> dict[str, str]:
        """Role -> the connector ``HUB_ROLES__*`` names for it (checked or not)."""
        return {role: str(getattr(self.settings, role)) for role in ROLES}

    def connector(self, role: str) -> str:
        """The connector that fills ``role``, once it is known to be able to."""
        self._fill(role)
        return self.names()[role]

    def entity(self, role: str, slot: str, connector: str | None = None) -> str:
        """The mapping entity that fills ``role``'s ``slot`` (of ``connector``, by default the role's)."""
        filled = self._fill(role, connector)
        if slot not in filled:
            ROLES[role].slot(slot)  # raises, naming the role's slots
        return filled[slot]

    def stream(self, role: str, slot: str, connector: str | None = None) -> str:
        """The name of the stream that reads ``role``'s ``slot`` (of ``connector``, by default the role's)."""
        entity = self.entity(role, slot, connector)
        cls = self.plugins.connector_class(connector or self.names()[role])
        return next(s.name for s in cls.stream_classes if (s.entity or s.name) == entity)

    def can_fill(self, role: str) -> list[str]:
        """The installed connectors that can fill ``role``."""
        out = []
        for name, cls in sorted(self.plugins.connector_classes().items()):
            try:
                fill(cls, role)
            except ValueError:
                continue
            out.append(name)
        return out

    def _fill(self, role: str, connector: str | None = None) -> dict[str, str]:
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        variable = role_setting(role)
        name = connector or self.names()[role]
        try:
            cls = self.plugins.connector_class(name)
        except ConfigError as exc:
            if connector is not None:
                raise
            raise ConfigError(f"{variable}: {exc}") from None
        try:
            return fill(cls, role)
        except ValueError as exc:
            able = ", ".join(c for c in self.can_fill(role) if c != name) or "none installed"
            where = variable if connector is None else f"connector {name}"
            raise ConfigError(
                f"{where}: {name} cannot fill the {role} role: {exc}; connectors that can: {able}"
            ) from None
