"""Payloads derived from the Datto RMM spec's schemas, for contract and property tests.

The spec carries no examples of successful answers (only of its errors), so the tests
build them from its schemas: :func:`full` gives an instance with every declared property
filled with a value of its type (the first enum value, an ISO date-time ...), and
:func:`strategy` gives a hypothesis strategy drawing instances with any subset of the
properties. Both read the copy kept with the tests (``vendor_specs()``).
"""

from __future__ import annotations

import json
from datetime import UTC
from functools import cache
from typing import Any

from hypothesis import strategies as st

from tests.conftest import vendor_specs

__all__ = ["answer_schema", "full", "schema", "strategy"]


@cache
def _spec() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (vendor_specs() / "rmm" / "datto-rmm" / "datto-rmm-api-v2.openapi.json").read_text(encoding="utf-8")
    )
    return document


def schema(name: str) -> dict[str, Any]:
    """A component schema by name (``Device``, ``Alert``, ``Site`` ...)."""
    found: dict[str, Any] = _spec()["components"]["schemas"][name]
    return found


def answer_schema(path: str, method: str = "get") -> dict[str, Any]:
    """The schema of an operation's 200 answer."""
    found: dict[str, Any] = _spec()["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    return found


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return schema(ref.rsplit("/", 1)[-1]) if ref else node


def _properties(node: dict[str, Any]) -> dict[str, Any]:
    node = _resolve(node)
    props: dict[str, Any] = dict(node.get("properties", {}))
    for part in node.get("allOf", []):
        props.update(_properties(part))
    return props


def full(node: dict[str, Any], depth: int = 0) -> Any:
    """An instance of ``node`` with every property set (alternatives: the first one)."""
    node = _resolve(node)
    if "oneOf" in node:
        return full(node["oneOf"][0], depth)
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type", "object")
    if kind == "object" or "allOf" in node or "properties" in node:
        if depth > 6:
            return {}
        return {name: full(prop, depth + 1) for name, prop in _properties(node).items()}
    if kind == "array":
        return [full(node.get("items", {}), depth + 1)]
    if kind == "string":
        return "2025-01-15T10:00:00Z" if node.get("format") == "date-time" else "text"
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    return None


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def strategy(node: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Instances of ``node`` with any subset of its properties, values of the declared types."""
    node = _resolve(node)
    if "oneOf" in node:
        return st.one_of([strategy(alt, depth) for alt in node["oneOf"]])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type", "object")
    if kind == "object" or "allOf" in node or "properties" in node:
        props = _properties(node)
        if depth > 4 or not props:
            return st.dictionaries(st.text(max_size=6), _JSON, max_size=2)
        return st.fixed_dictionaries({}, optional={k: strategy(v, depth + 1) for k, v in props.items()})
    if kind == "array":
        return st.lists(strategy(node.get("items", {}), depth + 1), max_size=2)
    if kind == "string":
        if node.get("format") == "date-time":
            return st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
        return st.text(max_size=12)
    if kind == "integer":
        return st.integers(min_value=-(2**40), max_value=2**40)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    return _JSON
