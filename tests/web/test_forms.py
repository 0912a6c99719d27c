"""Forms from declared inputs: each type gets its control, and entered text is checked like ``--set``."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from hub.web.forms import fields_for, parse_specs, validate
from hub.workflow.definition import InputSpec, InputType, coerce_inputs

SPECS = {
    "when": InputSpec(type=InputType.date, required=True),
    "count": InputSpec(type=InputType.integer, default=1),
    "amount": InputSpec(type=InputType.number),
    "paid": InputSpec(type=InputType.boolean),
    "method": InputSpec(choices=["payment", "autopay"], default="payment"),
    "email": InputSpec(type=InputType.email),
    "tags": InputSpec(type=InputType.list),
    "note": InputSpec(),
}


def test_each_type_gets_its_control_and_its_default() -> None:
    fields = {f.name: f for f in fields_for(SPECS)}
    assert {n: f.widget for n, f in fields.items()} == {
        "when": "date", "count": "number", "amount": "number", "paid": "yesno", "method": "select",
        "email": "email", "tags": "text", "note": "text",
    }  # fmt: skip
    assert fields["count"].value == "1" and fields["count"].step == "1" and fields["amount"].step == "any"
    assert fields["method"].choices == ["payment", "autopay"] and fields["method"].value == "payment"
    assert fields["when"].required and not fields["note"].required
    assert fields["tags"].hint


def test_stored_field_specs_come_back_as_specs() -> None:
    stored = {k: v.model_dump(mode="json", exclude_none=True) for k, v in SPECS.items()}
    assert parse_specs(stored) == SPECS


def test_errors_are_per_field_and_empty_optional_values_are_left_out() -> None:
    values, errors = validate(SPECS, {"count": "two", "amount": "", "paid": "yes", "method": "cash"})
    assert set(errors) == {"when", "count", "method"}
    assert errors["when"] == "required" and "must be a" in errors["count"] and "not one of" in errors["method"]
    assert values == {"paid": "true"}


@given(st.dates(), st.integers(-10**9, 10**9), st.floats(allow_nan=False, allow_infinity=False, width=32),
       st.booleans(), st.sampled_from(["payment", "autopay"]))  # fmt: skip
def test_what_the_form_accepts_the_engine_accepts_unchanged(
    when: date, count: int, amount: float, paid: bool, method: str
) -> None:
    form = {"when": when.isoformat(), "count": str(count), "amount": repr(amount), "paid": "yes" if paid else "no",
            "method": method, "email": "a@b.example", "tags": "x, y", "note": "text"}  # fmt: skip
    values, errors = validate(SPECS, form)
    assert errors == {}
    coerced = coerce_inputs(SPECS, values, what="field")
    assert coerced["when"] == when.isoformat() and coerced["count"] == count and coerced["paid"] is paid
    assert coerced["amount"] == float(repr(amount)) and coerced["tags"] == ["x", "y"]


@given(st.text(max_size=20))
def test_any_text_is_either_accepted_as_the_engine_would_or_named_as_an_error(text: str) -> None:
    for name in ("count", "when", "email", "method"):
        values, errors = validate({name: SPECS[name]}, {name: text})
        if name in errors:
            assert name not in values
        elif text.strip():
            coerce_inputs({name: SPECS[name]}, values, what="field")  # never raises
        else:
            assert values == {}
