"""The baseline: psa-to-docs done by hand with plain httpx and no hub.

The fewest requests that do the same job: Autotask zone discovery, one query per 500
records (following nextPageUrl), IT Glue's organization types once, then one POST per
new record and one PATCH per changed one. It keeps just enough state in a JSON file
(id map, last-written values, cursor) to know what changed. No retries, no rate
limiting, no audit, no crash safety: the floor the hub's wall time is compared with.

    python bench/baseline.py STATE.json   # with the HUB_AUTOTASK__* / HUB_ITGLUE__* variables set
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

JSONAPI = "application/vnd.api+json"


def autotask(client: httpx.Client, entity: str, since: str | None) -> Any:
    """Every record of ``entity`` changed at or after ``since``, page by page."""
    condition = {"op": "gte", "field": "lastActivityDate", "value": since} if since else {
        "op": "gte", "field": "id", "value": 0}  # fmt: skip
    body = {"filter": [condition], "MaxRecords": 500}
    page = client.post(f"V1.0/{entity}/query", json=body).json()
    while True:
        yield from page["items"]
        nxt = page["pageDetails"].get("nextPageUrl")
        if not nxt:
            return
        page = client.post(nxt, json=body).json()  # the next page of a POSTed query is POSTed the same body


def main(state_path: Path) -> dict[str, Any]:
    env = os.environ
    state = json.loads(state_path.read_text()) if state_path.exists() else {"orgs": {}, "contacts": {}, "seen": {}}
    started = datetime.now(UTC).isoformat()
    calls = {"autotask": 0, "itglue": 0}
    writes = {"created": 0, "updated": 0}

    def count(system: str) -> Any:
        return lambda request: calls.__setitem__(system, calls[system] + 1)

    root = env["HUB_AUTOTASK__API_ROOT"]
    headers = {
        "ApiIntegrationCode": env["HUB_AUTOTASK__INTEGRATION_CODE"],
        "UserName": env["HUB_AUTOTASK__USERNAME"],
        "Secret": env["HUB_AUTOTASK__SECRET"],
    }
    hooks = {"request": [count("autotask")]}
    with httpx.Client(event_hooks=hooks, timeout=60) as probe:
        zone = probe.get(f"{root}v1.0/zoneInformation", params={"user": env["HUB_AUTOTASK__USERNAME"]}).json()["url"]
    at = httpx.Client(base_url=zone, headers=headers, event_hooks=hooks, timeout=60)
    itg = httpx.Client(
        base_url=env["HUB_ITGLUE__BASE_URL"],
        headers={"x-api-key": env["HUB_ITGLUE__API_KEY"], "Content-Type": JSONAPI, "Accept": JSONAPI},
        event_hooks={"request": [count("itglue")]},
        timeout=60,
    )
    since = state.get("cursor")
    types: dict[str, int] = {}

    def type_id(label: str | None) -> int | None:
        if not types:
            for row in itg.get("/organization_types", params={"page[size]": 1000}).json()["data"]:
                types[row["attributes"]["name"]] = int(row["id"])
        return types.get(label or "")

    # Autotask company type -> IT Glue organization type, as mappings/*.yaml say (Lead is a prospect)
    company_types = {1: "Customer", 2: "Prospect", 3: "Prospect", 7: "Vendor", 8: "Partner"}
    for company in autotask(at, "Companies", since):
        if not company.get("isActive"):
            continue
        label = company_types.get(company.get("companyType"))
        attrs = {"name": company["companyName"].strip(), "organization-type-id": type_id(label)}
        key = str(company["id"])
        if state["seen"].get(f"o{key}") == attrs:
            continue
        doc = {"data": {"type": "organizations", "attributes": attrs}}
        if key in state["orgs"]:
            itg.patch(f"/organizations/{state['orgs'][key]}", json=doc)
            writes["updated"] += 1
        else:
            state["orgs"][key] = itg.post("/organizations", json=doc).json()["data"]["id"]
            writes["created"] += 1
        state["seen"][f"o{key}"] = attrs
    for contact in autotask(at, "Contacts", since):
        org = state["orgs"].get(str(contact["companyID"]))
        if not contact.get("isActive") or org is None:
            continue
        attrs: dict[str, Any] = {"first-name": contact.get("firstName"), "last-name": contact.get("lastName"),
                                 "title": contact.get("title") or None}  # fmt: skip
        # IT Glue list items need a label; phones are stored as digits (as the connector sends them)
        if contact.get("emailAddress"):
            attrs["contact-emails"] = [{"primary": True, "value": contact["emailAddress"].lower(), "label-name": "Work"}]
        if contact.get("phone"):
            digits = "".join(ch for ch in contact["phone"] if ch.isdigit())
            attrs["contact-phones"] = [{"primary": True, "value": digits[-10:], "label-name": "Work"}]
        key = str(contact["id"])
        if state["seen"].get(f"c{key}") == attrs:
            continue
        if key in state["contacts"]:
            itg.patch(f"/contacts/{state['contacts'][key]}", json={"data": {"type": "contacts", "attributes": attrs}})
            writes["updated"] += 1
        else:
            doc = {"data": {"type": "contacts", "attributes": attrs}}
            state["contacts"][key] = itg.post(f"/organizations/{org}/relationships/contacts", json=doc).json()[
                "data"]["id"]  # fmt: skip
            writes["created"] += 1
        state["seen"][f"c{key}"] = attrs
    state["cursor"] = started
    state_path.write_text(json.dumps(state))
    return {**writes, "api_calls": calls}


if __name__ == "__main__":
    t0 = time.perf_counter()
    result = main(Path(sys.argv[1]))
    result["duration_s"] = round(time.perf_counter() - t0, 3)
    print(json.dumps(result))
