"""The ``foreach`` step kind, the ``list`` write and ``pluck``: what a definition may say."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.workflow.definition import WorkflowDefinition
from hub.workflow.expr import ExpressionError, parse

HEAD = """\
name: wf
inputs:
  company: {type: integer, required: true}
steps:
  - id: devices
    write: {connector: autotask, entity: ConfigurationItems, op: list, where: {companyID: "{{ inputs.company }}"}}
"""


def load(tmp_path: Path, steps: str) -> WorkflowDefinition:
    path = tmp_path / "wf.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(steps), "  "))
    return WorkflowDefinition.load(path)


def test_a_foreach_reads_its_item(tmp_path: Path) -> None:
    definition = load(
        tmp_path,
        """\
        - id: tie
          foreach:
            items: "{{ steps.devices.records }}"
            key: "{{ item.id }}"
            when: item.contractID == null
            write: {connector: autotask, entity: ConfigurationItems, op: update, id: "{{ item.id }}",
                    payload: {contractID: 5}}
        """,
    )
    spec = definition.step("tie").foreach
    assert spec is not None and spec.write is not None and spec.when == "item.contractID == null"
    assert definition.step("tie").kind == "foreach"


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            """\
            - id: after
              check: {that: "item.id == 1"}
            """,
            "unknown name 'item'",
        ),
        (
            """\
            - id: both
              foreach:
                items: "{{ steps.devices.records }}"
                action: {connector: docusign, name: send_terms}
                write: {connector: autotask, entity: Tickets, op: deactivate, id: "{{ item.id }}"}
            """,
            "a foreach step needs exactly one of action, write or steps",
        ),
        (
            """\
            - id: reads
              foreach:
                items: "{{ steps.devices.records }}"
                write: {connector: autotask, entity: Tickets, op: get, id: "{{ item.id }}"}
            """,
            "foreach runs side effects; a write with op get has none",
        ),
        (
            """\
            - id: bad
              write: {connector: autotask, entity: Tickets, op: get, id: 1, where: {a: 1}}
            """,
            "where applies to list and find only",
        ),
    ],
)
def test_mistakes_are_refused_with_their_line(tmp_path: Path, steps: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, steps)
    assert expected in str(info.value) and f"{tmp_path / 'wf.yaml'}:" in str(info.value)


def test_pluck_reads_one_key_of_each_item() -> None:
    names = {"steps": {"d": {"records": [{"companyID": 1}, {"companyID": 2}, {"other": 3}, "x"]}}}
    assert parse("pluck(steps.d.records, 'companyID')").evaluate(names) == [1, 2, None, None]
    assert parse("2 in pluck(steps.d.records, 'companyID')").test(names)
    with pytest.raises(ExpressionError, match="pluck\\(\\) needs a list"):
        parse("pluck('text', 'a')").evaluate(names)
