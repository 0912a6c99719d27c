"""``message_from``: the one parser of vendors' error bodies, on each vendor's documented shapes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.acronis.api import vendor_message as acronis
from connectors.autotask.connector import autotask_errors
from connectors.dattormm.auth import _oauth_message as datto_oauth
from connectors.docusign.auth import oauth_error_message
from connectors.docusign.connector import docusign_error_message
from connectors.itglue.jsonapi import error_message as itglue
from connectors.ncentral.answers import vendor_message as ncentral
from connectors.quickbooks.api import fault_message
from connectors.quickbooks.oauth import token_error_message
from hub.http import _default_vendor_message as default
from hub.http import message_from
from tests.conftest import vendor_specs


def answer(body: Any, status: int = 400) -> httpx.Response:
    return httpx.Response(status, json=body)


def example(path: str) -> Any:
    return json.loads((vendor_specs() / path).read_text())["body"]


def test_the_first_shape_whose_every_field_is_there_wins() -> None:
    parse = message_from("{code}: {message}", "{message}", "{error.detail}")
    assert parse(answer({"code": "E1", "message": "no"})) == "E1: no"
    assert parse(answer({"message": " no "})) == "no"
    assert parse(answer({"error": {"detail": "deep"}, "code": ""})) == "deep"
    assert parse(answer({"code": 42, "message": "numbers count"})) == "42: numbers count"
    assert parse(answer({"code": True, "message": {"not": "text"}})) is None  # flags and objects are not words
    assert parse(answer(["a", "list"])) is None


def test_alternatives_items_case_and_pointers() -> None:
    parse = message_from("{Fault.Error[1].message|Fault.Error[1].detail}", "{x.pointer:last}")
    assert parse(answer({"fault": {"error": [{}, {"Detail": "second"}]}})) == "second"  # keys in any case
    assert parse(answer({"x": {"pointer": "/data/attributes/name/"}})) == "name"
    assert parse(answer({"fault": {"error": [{}]}})) is None  # no such item


def test_each_error_of_a_list_is_given_and_text_items_are_themselves() -> None:
    parse = message_from("{field}: {text}", "{text}", each="errors")
    body = {"errors": [{"field": "name", "text": "blank"}, "plain words", {"text": "only text"}, {}, 7]}
    assert parse(answer(body)) == "name: blank; plain words; only text; 7"
    assert parse(answer({"errors": []})) is None


def test_a_body_that_is_not_json_is_its_text_cut_short() -> None:
    assert message_from("{x}", limit=5)(httpx.Response(502, text="  bad gateway  ")) == "bad g"
    assert message_from("{x}")(httpx.Response(502, text="   ")) is None


@given(st.binary(max_size=60))
def test_garbage_never_raises(body: bytes) -> None:
    for parse in (default, autotask_errors, itglue, fault_message, acronis, ncentral, docusign_error_message):
        parse(httpx.Response(500, content=body))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from(["errors", "message", "error", "Fault", "detail", "x"]), json_values))
def test_any_json_body_gives_text_or_none(body: dict[str, Any]) -> None:
    for parse in (default, autotask_errors, itglue, fault_message, acronis, ncentral, docusign_error_message):
        found = parse(answer(body))
        assert found is None or (isinstance(found, str) and found)


# -- each vendor's documented error bodies -------------------------------------------------------


@pytest.mark.parametrize(
    ("parse", "body", "expected"),
    [
        (default, {"message": "Vendor says no"}, "Vendor says no"),
        (default, {"error": "invalid_grant", "error_description": "expired"}, "expired"),
        (default, {"errors": [{"detail": "a"}, {"title": "b"}]}, "a; b"),
        (autotask_errors, example("autotask/examples/error_response.SHAPE.json"),
         "Invalid query syntax. Queries are limited to 500 or fewer 'OR' conditions."),
        (autotask_errors, {"errors": [{"message": "one"}, "two"]}, "one; two"),
        (autotask_errors, {"Message": "An error has occurred."}, "An error has occurred."),
        (docusign_error_message, example("docusign/examples/error_response.SHAPE.json"),
         "HOURLY_APIINVOCATION_LIMIT_EXCEEDED: The maximum number of hourly API invocations has been exceeded. "
         "The hourly limit is 3000."),
        (docusign_error_message, {"errorCode": "ENVELOPE_DOES_NOT_EXIST"}, "ENVELOPE_DOES_NOT_EXIST"),
        (docusign_error_message, {"error": "consent_required"}, "consent_required"),
        (oauth_error_message, {"error": "invalid_grant", "error_description": "no_valid_keys_or_signatures"},
         "invalid_grant: no_valid_keys_or_signatures"),
        (token_error_message, {"error": "invalid_grant"}, "invalid_grant"),
        (fault_message, {"Fault": {"Error": [{"Message": "Duplicate Name Exists Error", "Detail": "The name supplied "
                                              "already exists. : Id=58", "code": "6240"}], "type": "ValidationFault"}},
         "Duplicate Name Exists Error: The name supplied already exists. : Id=58 (code 6240)"),
        (fault_message, {"fault": {"error": [{"message": "Required param missing", "detail": "need X", "code": "2020",
                                              "element": "Line"}]}},
         "Required param missing: need X (code 2020, element Line)"),
        (itglue, example("itglue/examples/error_response.SHAPE.json"), "Name can't be blank"),
        (itglue, {"errors": [{"detail": "must be a valid email address",
                              "source": {"pointer": "/data/attributes/contact-emails"}}]},
         "contact-emails: must be a valid email address"),
        (ncentral, {"status": 401, "message": "[ID=9] UNAUTHORIZED: expired"}, "[ID=9] UNAUTHORIZED: expired"),
        (ncentral, {"error message": "no such customer"}, "no such customer"),
        (datto_oauth, {"error": "invalid_client", "error_description": "Bad credentials"}, "Bad credentials"),
        (acronis, {"error": {"message": "Forbidden", "details": {"info": "scope"}}}, "Forbidden (scope)"),
        (acronis, {"Message": "Contract not found"}, "Contract not found"),
    ],
)  # fmt: skip
def test_each_vendor_s_error_body(parse: Any, body: Any, expected: str) -> None:
    assert parse(answer(body)) == expected
