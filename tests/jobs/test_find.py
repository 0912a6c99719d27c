"""``Connector.find``: look records up by vendor field values (Autotask: an ``eq`` query)."""

from __future__ import annotations

import pytest

from connectors.autotask.connector import AutotaskConnector
from hub.app import Hub
from hub.connector import CheckResult, Connector
from hub.errors import ConfigError
from hub.sandbox import SandboxSet
from tests.jobs.helpers import OWNER, autotask_sim


class _Plain(Connector):
    name = "plain"

    def check(self) -> CheckResult:
        return CheckResult(True)


def test_a_connector_without_lookups_says_so() -> None:
    with pytest.raises(ConfigError, match="plain cannot look Tickets records up by field"):
        _Plain(_Plain.settings_model()).find("Tickets", {"externalID": "x"})


@pytest.mark.sandboxes(autotask={"size": 4, "seed": 1})
def test_autotask_finds_tickets_by_external_id(sandboxes: SandboxSet) -> None:
    sim = autotask_sim(sandboxes)
    company = next(iter(sim.tables["Companies"].records))
    body = {"companyID": company, "title": "Disk full", "status": 1, "priority": 2, "externalID": "ncentral|7|disk|c:"}
    ticket = sim.write("Tickets", body, create=True, actor=OWNER)
    with Hub() as hub:
        autotask = hub.connector("autotask")
        assert isinstance(autotask, AutotaskConnector)
        found = autotask.find("Tickets", {"externalID": "ncentral|7|disk|c:", "companyID": company})
        assert [r["id"] for r in found] == [ticket]
        assert autotask.find("Tickets", {"externalID": "ncentral|7|disk|d:"}) == []
        with pytest.raises(ConfigError, match="needs at least one field"):
            autotask.find("Tickets", {})
        queries = [r for r in sandboxes.control("autotask").requests if "Tickets/query" in str(r.get("path", ""))]
        assert queries, "find goes through the Tickets query endpoint"
