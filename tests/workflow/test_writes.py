"""Write steps beyond create/update: get, deactivate, a plugin's veto, and the fail step."""

from __future__ import annotations

from typing import Any

from hub.sdk import hookimpl
from hub.workflow import RunStatus, WorkflowEngine

FLOW = """\
name: offboard
inputs:
  company: {type: string, required: true}
  leaving: {type: boolean, default: true}
steps:
  - id: company
    write: {connector: fakepsa, entity: Companies, op: get, id: "{{ inputs.company }}"}
  - id: known
    branch:
      if: steps.company.record.companyName == 'Acme'
      else:
        - id: stop
          fail: "company {{ inputs.company }} is {{ steps.company.record.companyName }}, not Acme"
  - id: deactivate
    when: inputs.leaving
    write: {connector: fakepsa, entity: Companies, op: deactivate, id: "{{ steps.company.id }}"}
  - id: rename
    write:
      connector: fakepsa
      entity: Companies
      op: update
      id: "{{ steps.company.id }}"
      record: {name: "{{ steps.company.record.companyName }} (former)"}
"""


def seed(world: Any, name: str) -> str:
    return world.side_effect("seed", "companies", {"companyName": name})


def test_get_deactivate_and_mapped_update(engine: Any, world: Any, settings: Any) -> None:
    (settings.workflows_dir / "offboard.yaml").write_text(FLOW)
    company = seed(world, "Acme")
    run_id = engine.start("offboard", {"company": company})
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed, run.error
    record = world.table("companies")[company]
    assert record["isActive"] is False and record["companyName"] == "Acme (former)"
    assert run.values["rename"]["payload"] == {"companyName": "Acme (former)"}  # only the named field


def test_fail_step_ends_the_run_with_its_reason(engine: Any, world: Any, settings: Any) -> None:
    (settings.workflows_dir / "offboard.yaml").write_text(FLOW)
    company = seed(world, "Globex")
    run_id = engine.start("offboard", {"company": company, "leaving": "no"})
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.failed
    assert run.error == f"stop: company {company} is Globex, not Acme"
    assert world.count("update:Companies") == 0


class Veto:
    @hookimpl
    def hub_before_write(
        self, job: str, system: str, entity: str, operation: str, record: Any, payload: dict
    ) -> Any:
        return f"{job} may not rename companies" if "(former)" in str(payload.get("companyName")) else None


def test_a_plugin_can_veto_a_mapped_write(hub: Any, world: Any, settings: Any) -> None:
    (settings.workflows_dir / "offboard.yaml").write_text(FLOW)
    hub.plugins.register(Veto(), "veto")
    company = seed(world, "Acme")
    run_id = WorkflowEngine(hub).start("offboard", {"company": company})
    run = hub.store.audit_rows(run_id)[-1]
    assert run["operation"] == "step.failed"
    assert run["after"]["error"] == (
        "a plugin vetoed the update of fakepsa Companies: workflow:offboard may not rename companies"
    )
