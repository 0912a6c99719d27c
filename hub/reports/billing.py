"""Billing gaps: what the billing system would leave unbilled, from the connector in the billing role.

``hub report acronis-billing`` asks the connector named by ``HUB_ROLES__BILLING`` for its
``billing_gaps`` action (the Acronis connector offers it) and checks the answer's
shape: one row per gap with the client, the kind of gap, what is wrong and the monthly
amount at stake. The core knows no vendor's records; the connector decides what a gap
is (see docs/connectors/acronis.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from hub.connector import ActionContext
from hub.errors import VendorError

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["BillingGap", "BillingReport", "billing_gaps"]

ACTION = "billing_gaps"


@dataclass(frozen=True)
class BillingGap:
    """One gap of one client: ``kind`` (e.g. ``services_without_contract``) and the amount at stake."""

    kind: str
    client: str
    detail: str
    monthly_amount: float
    tenant_id: str | None = None
    extra: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(out.pop("extra") or {})
        return out


@dataclass(frozen=True)
class BillingReport:
    connector: str
    gaps: list[BillingGap]

    @property
    def monthly_amount(self) -> float:
        """Everything at stake a month: use not billed plus billing for more than is used."""
        return round(sum(abs(g.monthly_amount) for g in self.gaps), 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "count": len(self.gaps),
            "monthly_amount": self.monthly_amount,
            "gaps": [g.as_dict() for g in self.gaps],
        }


def billing_gaps(hub: Hub) -> BillingReport:
    """Run the billing connector's ``billing_gaps`` action and check what it answers."""
    name = hub.roles.connector("billing")  # a connector that cannot fill the role (no billing_gaps) is exit 2
    action = hub.connector(name).action(ACTION)
    context = ActionContext(
        run_id="report", step_id=ACTION, documents_root=hub.settings.documents_root,
        state=hub.store.kv(f"connector:{name}"),
    )  # fmt: skip
    answer = action.run(action.params.model_validate({}), context)
    rows = answer.get("gaps") if isinstance(answer, dict) else None
    if not isinstance(rows, list):
        raise VendorError(f"{name}.{ACTION} answered without a list of gaps", connector=name)
    return BillingReport(name, [_gap(name, row) for row in rows])


def _gap(connector: str, row: Any) -> BillingGap:
    core = ("kind", "client", "detail", "monthly_amount", "tenant_id")
    if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in core[:3]):
        raise VendorError(f"{connector}.{ACTION} answered a gap without kind, client and detail", connector=connector)
    try:
        amount = float(row.get("monthly_amount") or 0)
    except (TypeError, ValueError):
        raise VendorError(f"{connector}.{ACTION}: monthly_amount {row.get('monthly_amount')!r} is no number",
                          connector=connector) from None  # fmt: skip
    tenant = row.get("tenant_id")
    extra = {k: v for k, v in row.items() if k not in core}
    return BillingGap(row["kind"], row["client"], row["detail"], amount, str(tenant) if tenant else None, extra)
