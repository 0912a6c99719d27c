"""Query statements: values stay inside their quotes, whatever they hold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.query import quote, select
from connectors.quickbooks.simquery import parse, tokenize, unescape
from connectors.quickbooks.simulator import QuickBooksSimulator
from hub.sdk import NotFoundError

NASTY = st.text(alphabet=st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    ["x' OR Active = false", "\\", "\\'", "'", "a\\' AND Id = '1", "O'Brien's", "%", "'; DROP"]
)


@given(NASTY)
@settings(max_examples=400, deadline=None)
def test_no_value_breaks_out_of_its_quotes(value: str) -> None:
    tokens = tokenize(f"DisplayName = {quote(value)}")
    assert [kind for kind, _ in tokens] == ["word", "op", "str"]
    assert unescape(tokens[2][1]) == value


@given(NASTY, NASTY)
@settings(max_examples=200, deadline=None)
def test_a_whole_statement_keeps_its_conditions(first: str, second: str) -> None:
    statement = select(
        "Customer", [f"DisplayName = {quote(first)}", f"CompanyName LIKE {quote(second)}"], start=3
    )
    query = parse(statement)
    assert [(c.field, c.op, c.value) for c in query.where] == [
        ("DisplayName", "=", first),
        ("CompanyName", "LIKE", second),
    ]
    assert (query.start, query.max_results) == (3, 1000)


def test_quote_refuses_non_strings() -> None:
    with pytest.raises(TypeError):
        quote(5)  # type: ignore[arg-type]


def test_select_validates_its_frame() -> None:
    with pytest.raises(ValueError, match="entity"):
        select("Customer; DROP", [])
    with pytest.raises(ValueError, match="MAXRESULTS"):
        select("Customer", [], max_results=1001)


def test_names_with_quotes_and_backslashes_are_found(
    qb: QuickBooksConnector, sim: QuickBooksSimulator
) -> None:
    for name in ("Amy's Bird Sanctuary", "Back\\Slash O'Brien", "50% Off 'Deals'"):
        created = qb.create("Customer", {"DisplayName": name})
        assert qb.find_customer(name)["Id"] == created.id


def test_a_hostile_name_matches_nothing(qb: QuickBooksConnector) -> None:
    with pytest.raises(NotFoundError, match="no customer named"):
        qb.find_customer("x' AND Active IN (true, false) AND DisplayName LIKE '%")


def test_the_simulator_refuses_bad_statements(qb: QuickBooksConnector) -> None:
    from hub.sdk import VendorError

    with pytest.raises(VendorError, match="QueryParserError"):
        qb.api.query("SELECT * FROM Customer WHERE DisplayName = 'a' OR Active = false")
    with pytest.raises(VendorError, match="Projections are not supported"):
        qb.api.query("SELECT DisplayName FROM Customer")
    assert qb.api.query("SELECT COUNT(*) FROM Customer WHERE Active IN (true, false)")["totalCount"] == 120
