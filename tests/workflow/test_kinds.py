"""The step-kind registry: sub-workflows, foreach with steps, prefilled forms, empty values, preview."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import ConfigError
from hub.workflow import RunStatus, StepStatus
from hub.workflow.definition import WorkflowDefinition
from hub.workflow.kinds import HANDLERS
from hub.workflow.preview import preview
from hub.workflow.steps.write import prune_empty

from .conftest import fakes

SUB = """\
name: set-up-company
inputs:
  company_id: {type: string, required: true}
  classification: {type: string, default: R0}
  note: {type: string}
steps:
  - id: account
    write: {connector: fakepsa, entity: Companies, op: get, id: "{{ inputs.company_id }}"}
  - id: classify
    write:
      connector: fakepsa
      entity: Companies
      op: update
      id: "{{ inputs.company_id }}"
      record: {classification: "{{ inputs.classification }}"}
  - id: ask
    manual:
      instructions: "Confirm {{ steps.account.record.companyName }} is set up"
      fields: {ok: {type: boolean, required: true}}
"""

PARENT = """\
name: parent
inputs:
  name: {type: string, required: true}
steps:
  - id: company
    write: {connector: fakepsa, entity: Companies, op: create, record: {name: "{{ inputs.name }}"}}
  - id: setup
    workflow:
      name: set-up-company
      with: {company_id: "{{ steps.company.id }}", classification: BN}
  - id: after
    check:
      that: steps.setup.ask.ok and steps.setup.classify.id == steps.company.id
"""


def write(settings: Any, name: str, text: str) -> Path:
    path = Path(settings.workflows_dir) / f"{name}.yaml"
    path.write_text(text)
    return path


def test_a_sub_workflow_runs_in_its_own_scope(engine: Any, settings: Any, world: Any) -> None:
    write(settings, "set-up-company", SUB)
    write(settings, "parent", PARENT)
    run_id = engine.start("parent", {"name": "Harbor Dental"})
    run = engine.runs.get(run_id)
    assert (run.status, run.current_step) == (RunStatus.waiting, "setup.ask")
    company = run.values["company"]["id"]
    assert world.table("companies")[company]["classification"] == "BN"  # the sub-workflow's input, given
    # the sub-workflow's steps have rows of their own, under the step's key
    assert engine.runs.step(run_id, "setup.classify").status is StepStatus.done
    assert engine.runs.step(run_id, "setup").status is StepStatus.running
    # a changed sub-workflow file does not change a run that started with the old one
    write(settings, "set-up-company", SUB.replace("Confirm", "Check"))
    assert engine.confirm(run_id, "setup.ask", values={"ok": "yes"}) is RunStatus.completed
    run = engine.runs.get(run_id)
    assert run.values["setup"]["account"]["record"]["companyName"] == "Harbor Dental"
    assert run.values["after"] == {"passed": True}
    assert world.count("update:Companies") == 1


def test_a_sub_workflow_killed_mid_way_resumes_without_repeating(engine: Any, settings: Any, world: Any) -> None:
    write(settings, "set-up-company", SUB)
    write(settings, "parent", PARENT)
    world.crash("update:Companies", "after")
    with pytest.raises(fakes.Crash):
        engine.start("parent", {"name": "Harbor Dental"})
    (run,) = engine.runs.recent()
    assert engine.runs.step(run.id, "setup.classify").status is StepStatus.running
    engine.resume(run.id)
    engine.confirm(run.id, "setup.ask", values={"ok": "yes"})
    assert engine.runs.get(run.id).status is RunStatus.completed
    assert world.count("update:Companies") == 1 and world.count("create:Companies") == 1


@pytest.mark.parametrize(
    ("sub", "parent", "message"),
    [
        (SUB, PARENT.replace("classification: BN", "colour: blue"), "workflow set-up-company has no input 'colour'"),
        (SUB, PARENT.replace("set-up-company", "nowhere"), "unknown workflow 'nowhere'"),
        (
            SUB.replace("  - id: ask", "  - id: again\n    workflow: {name: parent, with: {name: x}}\n  - id: ask"),
            PARENT,
            "step setup: workflow set-up-company: step again uses itself (parent -> set-up-company -> parent)",
        ),
    ],
)
def test_a_bad_sub_workflow_is_a_load_error(engine: Any, settings: Any, sub: str, parent: str, message: str) -> None:
    write(settings, "set-up-company", sub)
    write(settings, "parent", parent)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        engine.start("parent", {"name": "Harbor Dental"})
    assert engine.runs.recent() == []


FORMS = """\
name: forms
inputs:
  names: {type: list, required: true}
steps:
  - id: companies
    foreach:
      items: "{{ inputs.names }}"
      key: "{{ item }}"
      steps:
        - id: company
          write: {connector: fakepsa, entity: Companies, op: create, record: {name: "{{ item }}"}}
        - id: ask
          manual:
            instructions: "Classify {{ item }}"
            fields:
              classification: {type: string, required: true}
              attention: {type: string}
            prefill: {classification: "{{ default(null, 'R0') }}"}
        - id: classify
          write:
            connector: fakepsa
            entity: Companies
            op: update
            id: "{{ steps.company.id }}"
            record: {classification: "{{ steps.ask.classification }}", name: "{{ steps.ask.attention }}"}
  - id: done
    check: {that: "steps.companies.count == 2"}
"""


def test_foreach_steps_wait_per_item_and_forms_keep_their_prefill(engine: Any, settings: Any, world: Any) -> None:
    write(settings, "forms", FORMS)
    run_id = engine.start("forms", {"names": "Alpha,Beta"})
    run = engine.runs.get(run_id)
    assert (run.status, run.current_step) == (RunStatus.waiting, "companies[Alpha].ask")
    # both forms wait at once: the second item did not wait for the first
    waiting = sorted(s.step_id for _r, s in engine.runs.waiting_steps())
    assert waiting == ["companies[Alpha].ask", "companies[Beta].ask"]
    form = engine.runs.step(run_id, "companies[Beta].ask").waiting_on
    assert form["fields"]["classification"]["default"] == "R0" and "default" not in form["fields"]["attention"]
    engine.confirm(run_id, "companies[Beta].ask", values={"classification": "BN"})
    assert engine.runs.get(run_id).status is RunStatus.waiting
    assert engine.confirm(run_id, "companies[Alpha].ask") is RunStatus.completed  # keeps the prefilled R0
    companies = {c["companyName"]: c for c in world.table("companies").values()}
    assert {n: c.get("classification") for n, c in companies.items()} == {"Alpha": "R0", "Beta": "BN"}
    # attention was never given: the update left the name as it was instead of blanking it
    assert world.count("create:Companies") == 2
    status = engine.runs.get(run_id).values["companies"]
    assert [r["key"] for r in status["results"]] == ["Alpha", "Beta"]
    assert status["results"][0]["steps"]["ask"]["classification"] == "R0"


def test_an_empty_value_is_left_out_unless_the_step_clears_it(engine: Any, settings: Any, world: Any) -> None:
    write(
        settings,
        "blank",
        """\
name: blank
inputs:
  id: {type: string, required: true}
  tax: {type: string}
steps:
  - id: keep
    write: {connector: fakepsa, entity: Companies, op: update, id: "{{ inputs.id }}",
            payload: {taxID: "{{ inputs.tax }}", note: kept}}
  - id: clear
    write: {connector: fakepsa, entity: Companies, op: update, id: "{{ inputs.id }}",
            payload: {phone: "{{ inputs.tax }}"}, clear: [phone]}
""",
    )
    company = fakes.FakePsa.world.side_effect("seed", "companies", {"taxID": "NY-1", "phone": "518"})
    engine.start("blank", {"id": company})
    after = world.table("companies")[company]
    assert after["taxID"] == "NY-1" and after["note"] == "kept"  # not blanked: nobody gave a tax id
    assert after["phone"] is None  # cleared on purpose


SCALARS = st.none() | st.text(max_size=3) | st.integers() | st.booleans()
VALUES = st.recursive(SCALARS, lambda inner: st.dictionaries(st.text(min_size=1, max_size=3), inner, max_size=4))


@given(VALUES)
def test_prune_empty_leaves_no_empty_value_and_is_idempotent(value: Any) -> None:
    if not isinstance(value, dict):
        value = {"x": value}
    pruned = prune_empty(value)

    def empties(v: Any) -> bool:
        if isinstance(v, dict):
            return not v or any(empties(i) for i in v.values())
        return v is None or v == ""

    assert not any(empties(v) for v in pruned.values())
    assert prune_empty(pruned) == pruned


def test_an_unknown_kind_is_a_load_error_naming_the_kinds(engine: Any, settings: Any) -> None:
    write(settings, "odd", "name: odd\nsteps:\n  - id: a\n    teleport: {to: mars}\n")
    expected = "steps.0.teleport (step a): unknown step kind 'teleport'; kinds: "
    with pytest.raises(ConfigError, match=re.escape(expected)):
        engine.start("odd", {})
    assert list(HANDLERS) == ["action", "write", "check", "wait", "manual", "branch", "fail", "foreach", "workflow"]


def test_every_kind_owns_its_schema_and_its_children_serve_every_walk() -> None:
    definition = WorkflowDefinition.model_validate(
        {
            "name": "walk",
            "steps": [
                {"id": "a", "branch": {"if": "true", "then": [{"id": "b", "fail": "x"}], "else": []}},
                {"id": "c", "foreach": {"items": [1], "steps": [{"id": "d", "check": {"that": "true"}}]}},
                {"id": "e", "manual": {"instructions": "x", "timeout": "1d", "on_timeout": [{"id": "f", "fail": "y"}]}},
            ],
        }
    )
    walked = [(s.id, depth) for s, depth in definition.walk()]
    assert walked == [("a", 0), ("b", 1), ("c", 0), ("d", 1), ("e", 0), ("f", 1)]
    assert definition.locate("c[1].d").id == "d" and definition.locate("e").kind == "manual"
    with pytest.raises(ConfigError, match=re.escape("has no step 'c.zz'")):
        definition.locate("c.zz")


def test_preview_plans_every_write_and_sends_none(hub: Any, engine: Any, settings: Any, world: Any) -> None:
    company = fakes.FakePsa.world.side_effect("seed", "companies", {"companyName": "Acme", "classification": "R0"})
    write(settings, "set-up-company", SUB)
    plan = preview(hub, engine.library.get("set-up-company"), {"company_id": company, "classification": "R0"})
    assert plan["complete"] and plan["writes"] == 0  # R0 already: the update would change nothing
    planned = [(s["step"], s["what"]) for s in plan["steps"]]
    assert planned == [("account", "read"), ("classify", "unchanged"), ("ask", "ask")]
    write(settings, "parent", PARENT)
    plan = preview(hub, engine.library.get("parent"), {"name": "Harbor"})
    steps = {s["step"]: s for s in plan["steps"]}
    assert steps["company"]["changes"] == {"companyName": "Harbor"}
    assert steps["setup.classify"]["what"] == "write" and steps["setup.classify"]["record_id"] == "<company.id>"
    assert steps["setup.account"]["detail"].endswith("(as the run would have made it)")
    assert plan["systems"] == ["fakepsa"] and plan["complete"]
    assert world.count("create:Companies") == 0 and world.count("update:Companies") == 0
    assert engine.runs.recent() == []
