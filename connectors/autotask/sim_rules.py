"""Business rules the simulator enforces on account team members and Client Portal users.

From Autotask's entity documentation (CompanyTeams, ClientPortalUsers):

* a team member's ``resourceID`` cannot reference an API-only user; a member with
  ``isAssociatedAsComanaged`` true cannot be removed or changed through the API;
* a portal user's ``contactID`` cannot be modified once created, its ``userName`` must
  be unique, its ``password`` is required on create, 5 to 50 printable characters
  without single quotes or spaces, and is never answered; the Taskfire security levels
  (4 and 5) need a company with Taskfire enabled.

Two rules are the simulator's reading of the UI, not documented for the API: one
team record per resource and company, and one portal user per contact. Messages never
repeat a password.
"""

from __future__ import annotations

from typing import Any

from .sim_data import TASKFIRE_LEVELS
from .sim_store import Table

__all__ = ["RuleError", "check_portal_user", "check_team_member", "check_team_removal"]

PASSWORD_MIN, PASSWORD_MAX = 5, 50


class RuleError(ValueError):
    """A write Autotask refuses (HTTP 500); the text is the ``errors`` entry."""


def check_team_member(
    tables: dict[str, Table], record: dict[str, Any], resources: set[int], api_only: set[int]
) -> None:
    """A new team member: a real, non-API resource, not already on that company's team."""
    resource = record.get("resourceID")
    if resource in api_only:
        raise RuleError("resourceID cannot reference an API Only user or a Co-managed resource.")
    if resource not in resources:
        raise RuleError(f"resourceID: Resources {resource} does not exist.")
    team = tables["CompanyTeams"]
    for other in team.indexes["companyID"].get(record.get("companyID"), ()):
        if team.records[other]["resourceID"] == resource:
            raise RuleError(
                f"Resource {resource} is already on the team of company {record.get('companyID')}."
            )


def check_team_removal(record: dict[str, Any]) -> None:
    if record.get("isAssociatedAsComanaged"):
        raise RuleError("This team member is associated as co-managed; the API cannot remove it.")


def check_portal_user(
    tables: dict[str, Table],
    current: dict[str, Any] | None,
    changes: dict[str, Any],
    password: Any,
) -> None:
    """A portal user created (``current`` None) or changed by ``changes``; ``password`` if sent."""
    if current is not None and "contactID" in changes and changes["contactID"] != current["contactID"]:
        raise RuleError("contactID cannot be modified once created.")
    record = {**(current or {}), **changes}
    users = tables["ClientPortalUsers"]
    rid = current["id"] if current is not None else None
    if current is None:
        if password in (None, ""):
            raise RuleError("Value is required for field password.")
        for other in users.indexes["contactID"].get(record["contactID"], ()):
            raise RuleError(f"Contact {record['contactID']} already has a Client Portal user ({other}).")
    if password not in (None, ""):
        _check_password(password)
    name = str(record.get("userName") or "")
    if "userName" in changes:
        if not name.strip() or len(name) > 200:
            raise RuleError("userName must be 1 to 200 characters.")
        taken = next(
            (
                r
                for r in users.records.values()
                if r["id"] != rid and str(r["userName"]).casefold() == name.casefold()
            ),
            None,
        )
        if taken is not None:
            raise RuleError(f"userName {name} is already in use.")
    if record.get("securityLevel") in TASKFIRE_LEVELS:
        contact = tables["Contacts"].records.get(record["contactID"]) or {}
        company = tables["Companies"].records.get(int(contact.get("companyID") or 0)) or {}
        if not company.get("isTaskFireActive"):
            raise RuleError(
                "The ClientPortalUsers entity does not allow assignment of Taskfire securityLevel values "
                "to contacts that do not have Taskfire access."
            )


def _check_password(password: Any) -> None:
    """The documented restrictions; the message names the rule, never the value."""
    text = password if isinstance(password, str) else ""
    if not PASSWORD_MIN <= len(text) <= PASSWORD_MAX:
        raise RuleError(f"password must be between {PASSWORD_MIN} and {PASSWORD_MAX} characters.")
    if any(c == "'" or c.isspace() or not c.isprintable() for c in text):
        raise RuleError(
            "password allows printable characters except single quotes, and cannot contain spaces."
        )
