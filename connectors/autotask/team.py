"""The account team of a company: given resources added, others removed only on request (``set_account_team``).

Autotask keeps the account team as CompanyTeams records, one per resource: created
with ``POST V1.0/Companies/{id}/Teams`` and removed with ``DELETE
V1.0/Companies/{id}/Teams/{teamId}``; they cannot be updated. The action reads the
team (``CompanyTeams/query`` by ``companyID``) and adds the missing resources; with
``exact`` it also removes the others, so the team becomes exactly the given ones.
Either way it is idempotent by nature: a step retried after a crash reads what its
first attempt already did and only finishes the rest. Members a co-managing partner
added (``isAssociatedAsComanaged``) cannot be removed through the API; they are kept
and reported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, field_validator

from hub.sdk import create_once

if TYPE_CHECKING:
    from .connector import AutotaskConnector

__all__ = ["AccountTeamParams", "set_account_team"]


class AccountTeamParams(BaseModel):
    """The company and the resource ids that make up its account team."""

    company_id: int = Field(gt=0, description="the Autotask company (account)")
    resources: list[int] = Field(description="resource ids of the account team, in the order to add them")
    exact: bool = Field(default=False, description="remove the members not given (co-managed ones stay)")

    @field_validator("resources")
    @classmethod
    def _positive_and_unique(cls, value: list[int]) -> list[int]:
        if any(r <= 0 for r in value):
            raise ValueError("resource ids are positive integers")
        return list(dict.fromkeys(value))


def set_account_team(at: AutotaskConnector, params: AccountTeamParams) -> dict[str, Any]:
    """Add the missing members (with ``exact``, remove the others; co-managed ones stay); report what changed."""
    company = params.company_id
    members: dict[int, list[dict[str, Any]]] = {}
    for row in at.find("CompanyTeams", {"companyID": company}):
        members.setdefault(int(row["resourceID"]), []).append(row)
    wanted = params.resources
    added = [r for r in wanted if r not in members]
    for resource in added:
        create_once(at, "CompanyTeams", {"companyID": company, "resourceID": resource})
    removed: list[int] = []
    kept: list[int] = []
    for resource, rows in sorted(members.items()):
        if resource in wanted or not params.exact:
            continue
        for row in rows:
            if row.get("isAssociatedAsComanaged"):
                kept.append(resource)
            else:
                at.delete("CompanyTeams", str(row["id"]), parent_id=company)
                removed.append(resource)
    at.log.info(
        "autotask.account_team", company_id=company, added=added, removed=removed, kept_comanaged=kept
    )
    others = [r for r in members if r not in wanted and r not in removed]
    return {
        "company_id": str(company),
        "resources": [*wanted, *others],
        "added": added,
        "removed": removed,
        "kept_comanaged": kept,
        "changed": bool(added or removed),
    }
