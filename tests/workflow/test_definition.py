"""Definition files: schema errors with file and line, name checks, inputs, the library."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from hub.errors import ConfigError
from hub.workflow.definition import InputSpec, InputType, WorkflowDefinition, coerce_inputs, parse_duration
from hub.workflow.library import WorkflowLibrary

GOOD = """\
name: {name}
inputs:
  name: {{type: string, required: true}}
steps:
  - id: first
    check: {{that: "inputs.name != ''"}}
"""


def write(tmp_path: Path, text: str, name: str = "wf") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        WorkflowDefinition.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}:")
    return message.removeprefix(f"{path}:")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            """
            name: wf
            steps:
              - id: a
                check: {that: "inputs.nme == 'x'"}
            """,
            "5: steps.0.check.that (step a): inputs.nme is not a declared input; inputs: none",
        ),
        (
            """
            name: wf
            steps:
              - id: a
                action: {connector: x, name: y, with: {v: "{{ steps.b.id }}"}}
              - id: b
                check: {that: "true"}
            """,
            "5: steps.0.action.with (step a): steps.b: step 'b' does not run before 'a'",
        ),
        (
            """
            name: wf
            steps:
              - id: a
                check: {that: "true"}
                manual: {instructions: do it}
            """,
            "4: steps.0 (step a): a step needs exactly one of action, write, check, wait, manual, branch, fail, "
            "foreach, workflow (got check, manual)",
        ),
        (
            """
            name: wf
            steps:
              - id: a
                wait:
                  connector: sign
                  event: done
                  key: envelope_id
                  value: "1"
                  timeout: soon
            """,
            "10: steps.0.wait.timeout (step a): not a duration: 'soon' (use e.g. 30d, 12h, 1d12h, 15m, 2w)",
        ),
        (
            """
            name: wf
            steps:
              - id: a
                check: {that: "true"}
              - id: b
                branch:
                  if: "vars.x"
                  then:
                    - id: a
                      check: {that: "true"}
            """,
            "8: steps.1.branch.if (step b): vars.x is not declared under vars; vars: none",
        ),
        (
            """
            name: wf
            steps:
              - id: a
                check: {that: "true"}
              - id: a
                check: {that: "true"}
            """,
            "6: steps.1 (step a): step id 'a' is used twice; step ids must be unique",
        ),
        (
            """
            name: wf
            steps:
              - id: Bad-Id
                check: {that: "true"}
            """,
            "4: steps.0.id (step Bad-Id): String should match pattern",
        ),
        (
            """
            name: wf
            steps:
              - id: a
                write: {connector: psa, entity: Companies, op: update, payload: {x: 1}}
            """,
            "5: steps.0.write (step a): update needs the id of the record",
        ),
        (
            """
            name: wf
            steps:
              - id: a
                check: {that: "inputs.a ==", mesage: x}
            """,
            "5: steps.0.check.that (step a): expected a value at column 12",
        ),
        (
            """
            name: wf
            steps:
              - id: a
                write: {connector: psa, entity: Tickets, op: create, template: remote}
            """,
            "5: steps.0.write.template (step a): 'remote' is not under templates; templates: none",
        ),
        (
            """
            name: other
            steps:
              - id: a
                check: {that: "true"}
            """,
            "2: name: 'other' must match the file name (wf.yaml)",
        ),
        (
            """
            name: wf
            steps: [
            """,
            "4: not valid YAML",
        ),
        (
            """
            name: wf
            steps:
              - id: a
                wait: {connector: s, event: e, key: k, value: v, poll: {stream: envelopes, until: "record.x"}}
            """,
            "5: steps.0.wait.poll (step a): a stream poll needs field",
        ),
    ],
)
def test_errors_point_at_file_and_line(tmp_path: Path, body: str, expected: str) -> None:
    assert expected in error(tmp_path, body)


def test_unknown_key_is_reported_at_its_line(tmp_path: Path) -> None:
    message = error(
        tmp_path,
        """
        name: wf
        steps:
          - id: a
            check:
              that: "true"
              mesage: oops
        """,
    )
    assert message.startswith("7: steps.0.check.mesage (step a): Extra inputs are not permitted")


def test_on_timeout_steps_may_read_the_wait(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: wf
        steps:
          - id: w
            wait:
              connector: s
              event: e
              key: k
              value: v
              timeout: 2w
              on_timeout:
                - id: chase
                  manual: {instructions: "chase {{ steps.w.reason }}"}
          - id: after
            check: {that: "steps.chase.confirmed or steps.w.source == 'event'"}
        """,
    )
    definition = WorkflowDefinition.load(path)
    assert [(s.id, d) for s, d in definition.walk()] == [("w", 0), ("chase", 1), ("after", 0)]
    assert WorkflowDefinition.from_snapshot(definition.snapshot()) == definition


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        (InputType.integer, " 3 ", 3),
        (InputType.number, "2.5", 2.5),
        (InputType.boolean, "yes", True),
        (InputType.boolean, "off", False),
        (InputType.date, "2026-02-03", "2026-02-03"),
        (InputType.time, "9:05", "09:05"),
        (InputType.time, "17:30", "17:30"),
        (InputType.email, "a@b.example", "a@b.example"),
        (InputType.list, "a, b,,c", ["a", "b", "c"]),
        (InputType.string, "  keep inner  ", "keep inner"),
    ],
)
def test_inputs_coerce_command_line_text(kind: InputType, raw: str, value: Any) -> None:
    assert InputSpec(type=kind).coerce("x", raw) == value


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        (InputType.integer, "three", "input x: 'three' must be a integer"),
        (InputType.boolean, "maybe", "input x: 'maybe' must be true or false"),
        (InputType.date, "3/2/2026", "input x: '3/2/2026' must be a date (YYYY-MM-DD)"),
        (InputType.time, "25:00", "input x: '25:00' must be a time of day (HH:MM, 24-hour)"),
        (InputType.email, "nobody", "input x: 'nobody' must be an e-mail address"),
    ],
)
def test_bad_inputs_are_one_line(kind: InputType, raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        InputSpec(type=kind).coerce("x", raw)
    assert str(info.value) == message


def test_coerce_inputs_defaults_and_required() -> None:
    specs = {"a": InputSpec(required=True), "b": InputSpec(type=InputType.integer, default=2)}
    assert coerce_inputs(specs, {"a": "x"}) == {"a": "x", "b": 2}
    with pytest.raises(ConfigError, match=r"missing required input 'a' \(--set a=...\)"):
        coerce_inputs(specs, {"b": "1"})
    with pytest.raises(ConfigError, match="unknown input 'c'; inputs: a, b"):
        coerce_inputs(specs, {"a": "x", "c": "1"})


def test_durations() -> None:
    assert parse_duration("1d12h").total_seconds() == 36 * 3600
    assert parse_duration("2w").days == 14
    for bad in ("", "0s", "5 days", "-1d"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_user_folder_overrides_a_shipped_workflow_by_name(tmp_path: Path) -> None:
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    shipped.mkdir()
    user.mkdir()
    write(shipped, GOOD.format(name="intake"), "intake")
    write(shipped, GOOD.format(name="other"), "other")
    write(user, GOOD.format(name="intake").replace("inputs.name != ''", "len(inputs.name) > 1"), "intake")
    library = WorkflowLibrary([shipped], user)
    sources = library.sources()
    assert sources["intake"].origin == "user" and sources["intake"].overrides == shipped / "intake.yaml"
    assert sources["other"].origin == "builtin"
    assert library.get("intake").steps[0].check.that == "len(inputs.name) > 1"
    with pytest.raises(ConfigError, match="unknown workflow 'nope'; workflows: intake, other"):
        library.path("nope")


def test_a_broken_unrelated_file_does_not_stop_another(tmp_path: Path) -> None:
    write(tmp_path, "name: [", "broken")
    write(tmp_path, GOOD.format(name="fine"), "fine")
    library = WorkflowLibrary([tmp_path])
    assert library.get("fine").name == "fine"
    with pytest.raises(ConfigError, match=r"broken\.yaml:1: not valid YAML"):
        library.get("broken")


def test_missing_user_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"HUB_WORKFLOWS_DIR: .* is not a folder"):
        WorkflowLibrary([], tmp_path / "nope")
