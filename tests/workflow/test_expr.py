"""The expression and template language: what it does, and that no input can escape it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.workflow.expr import ExpressionError, evaluate, parse
from hub.workflow.template import compile_template, render

NAMES: dict[str, Any] = {
    "inputs": {
        "name": "Acme",
        "postal_code": " 10001 ",
        "computers": 4,
        "kind": "residential",
        "tags": ["a", "b"],
    },
    "steps": {"create_company": {"id": "101", "record": {"nested": [1, 2, 3]}}, "skipped": None},
    "vars": {"service_area": ["10001", "10002"], "classification": {"residential": "R0"}},
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("inputs.name", "Acme"),
        ("trim(inputs.postal_code) in vars.service_area", True),
        ("inputs.postal_code in vars.service_area", False),
        ("inputs.computers > 3 and inputs.computers <= 4", True),
        ("not inputs.computers == 4 or inputs.kind == 'residential'", True),
        ("inputs.kind not in ['business', 'nonprofit']", True),
        ("vars.classification[inputs.kind]", "R0"),
        ("steps.create_company.record.nested[-1]", 3),
        ("steps.create_company.record.nested[7]", None),
        ("steps.missing.id", None),
        ("default(steps.missing.id, 'none')", "none"),
        ("len(inputs.tags) == 2", True),
        ("lower(inputs.name)", "acme"),
        ("-1 < 0", True),
        ("join(inputs.tags, '-')", "a-b"),
        ("join(steps.missing.ids, ', ')", ""),
        ("default(join(null), 'nobody')", "nobody"),
        ("at('2026-03-10', '09:30', 'America/New_York')", "2026-03-10T13:30:00Z"),
        ("at('2026-01-15', '9:30', 'America/New_York')", "2026-01-15T14:30:00Z"),
        ("choose(inputs.computers > 3, 'many', 'few')", "many"),
        ("choose(null, 'yes', null)", None),
        ("int(' 42 ') >= 42", True),
        ("'Ac' in inputs.name", True),
        ("1 == true", False),
        ("null == steps.missing", True),
        ("(inputs.computers > 1) == true", True),
        ('"say \\"hi\\""', 'say "hi"'),
        ("2.5 < 3", True),
    ],
)
def test_evaluates(source: str, expected: Any) -> None:
    assert evaluate(source, NAMES) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("inputs.name ==", "expected a value at column 15"),
        ("inputs.name = 'x'", "unexpected '='"),
        ("__import__('os')", "unknown function '__import__'"),
        ("inputs.name.upper()", "unexpected text at column 18"),
        ("eval('1')", "unknown function 'eval'"),
        ("lower(1, 2)", "lower() takes 1 argument(s), got 2"),
        ("(" * 40 + "1" + ")" * 40, "nested deeper than 32"),
        ("'unterminated", 'unexpected "\'"'),
        ("inputs.name and", "expected a value"),
        ("", "empty expression"),
        ("x" * 3000, "longer than 2000"),
        ("'a' 'b'", "unexpected text"),
        ("and", "unexpected 'and'"),
    ],
)
def test_parse_errors_are_one_clear_line(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=None) as info:
        parse(source)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("inputs.name < 3", "cannot order a text and a number with <"),
        ("1 in 2", "'in' needs text, a list or a mapping on the right"),
        ("int('x')", "int() cannot convert 'x'"),
        ("lower(inputs.tags)", "lower() needs text, got a list"),
        ("at('2026-02-30', '09:00', 'UTC')", "at() needs a date, a time and a time zone"),
        ("at('2026-02-03', '09:00', 'Mars/Olympus')", "at() needs a date, a time and a time zone"),
    ],
)
def test_evaluation_errors(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=None) as info:
        evaluate(source, NAMES)
    assert message in str(info.value)


def test_no_attribute_of_a_python_object_is_reachable() -> None:
    names = {"inputs": {"name": "x"}, "obj": object()}
    assert evaluate("inputs.__class__", names) is None
    assert evaluate("inputs.name.__class__", names) is None
    assert evaluate("obj.__dict__", names) is None
    assert evaluate("inputs['__class__']", names) is None


def test_references_lists_paths() -> None:
    refs = parse("default(steps.a.id, inputs.b) in vars.c and steps.d[inputs.e].f").references()
    assert refs == [("steps", "a", "id"), ("inputs", "b"), ("vars", "c"), ("steps", "d"), ("inputs", "e")]


def test_template_keeps_type_of_a_single_placeholder() -> None:
    assert render("{{ inputs.computers }}", NAMES) == 4
    assert render("  {{ inputs.tags }} ", NAMES) == ["a", "b"]
    assert render("{{ inputs.computers }} PCs", NAMES) == "4 PCs"
    assert render({"a": ["id {{ steps.create_company.id }}", 5], "b": None}, NAMES) == {
        "a": ["id 101", 5],
        "b": None,
    }
    assert render("{{ steps.missing.id }}-x", NAMES) == "-x"
    assert render("{{ vars.classification }}", NAMES) == {"residential": "R0"}
    assert render("c: {{ vars.classification }}", NAMES) == 'c: {"residential": "R0"}'


def test_template_errors() -> None:
    with pytest.raises(ExpressionError, match="unclosed"):
        compile_template("{{ inputs.name ")
    with pytest.raises(ExpressionError, match=r"in '\{\{ inputs. \}\}': expected a field name"):
        compile_template("hello {{ inputs. }}")


@settings(max_examples=200, deadline=None)
@given(value=st.text())
def test_an_input_value_is_inserted_never_evaluated(value: str) -> None:
    names = {"inputs": {"name": value}}
    assert render("Hello {{ inputs.name }}!", names) == f"Hello {value}!"
    assert render("{{ inputs.name }}", names) == value
    assert evaluate("inputs.name == inputs.name", names) is True


@settings(max_examples=200, deadline=None)
@given(source=st.text(max_size=200))
def test_any_source_parses_or_fails_cleanly(source: str) -> None:
    try:
        expr = parse(source)
    except ExpressionError:
        return
    try:
        result = expr.evaluate({"inputs": {"a": source}})
    except ExpressionError:
        return
    assert result is None or isinstance(result, bool | int | float | str | list | dict)


TOKENS = st.sampled_from(
    [
        "inputs",
        ".",
        "a",
        "[",
        "]",
        "(",
        ")",
        "'x'",
        "1",
        "==",
        "in",
        "not",
        "and",
        "or",
        ",",
        "lower",
        "__class__",
        "__import__",
        "len",
        "true",
        "null",
        "<",
        "2.5",
        "default",
    ]
)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(TOKENS, max_size=25))
def test_token_soup_never_escapes(parts: list[str]) -> None:
    source = " ".join(parts)
    try:
        result = evaluate(source, {"inputs": {"a": "v"}})
    except ExpressionError:
        return
    assert result is None or isinstance(result, bool | int | float | str | list | dict)


@settings(max_examples=200, deadline=None)
@given(source=st.text(max_size=120))
def test_any_template_renders_or_fails_cleanly(source: str) -> None:
    try:
        out = render(source, {"inputs": {"a": "v"}})
    except ExpressionError:
        return
    if "{{" not in source:
        assert out == source
