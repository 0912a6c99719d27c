"""Payloads derived from the NinjaOne spec's schemas, for contract and property tests.

The spec carries no examples at all, so the tests build answers from its schemas:
:func:`full` gives an instance with every declared property filled with a value of its
type (the first enum value, a UUID for ``format: uuid``, an epoch for a ``double``), and
:func:`strategy` gives a hypothesis strategy drawing instances with any subset of the
properties. Both read the copy kept with the tests (``vendor_specs()``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.conftest import vendor_specs

__all__ = ["answer_schema", "full", "schema", "strategy"]

UUID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"


@cache
def _spec() -> dict[str, Any]:
    path = vendor_specs() / "rmm" / "ninjaone" / "ninjaone-public-api-2.0.openapi.yaml"
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=loader)
    return document


def schema(name: str) -> dict[str, Any]:
    """A component schema by name (``Device``, ``Alert``, ``Organization`` ...)."""
    found: dict[str, Any] = _spec()["components"]["schemas"][name]
    return found


def answer_schema(path: str, method: str = "get") -> dict[str, Any]:
    """The schema of an operation's answer (the spec mostly declares only ``default``)."""
    responses = _spec()["paths"][path][method]["responses"]
    answer = responses.get("200") or responses["default"]
    found: dict[str, Any] = answer["content"]["application/json"]["schema"]
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
    """An instance of ``node`` with every property set."""
    node = _resolve(node)
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type", "object")
    if kind == "object" or "allOf" in node or "properties" in node:
        if depth > 5:
            return {}
        return {name: full(prop, depth + 1) for name, prop in _properties(node).items()}
    if kind == "array":
        return [full(node.get("items", {}), depth + 1)]
    if kind == "string":
        return UUID if node.get("format") == "uuid" else "text"
    if kind == "integer":
        return 1
    if kind == "number":
        return 1767225600.125
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
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type", "object")
    if kind == "object" or "allOf" in node or "properties" in node:
        props = _properties(node)
        if depth > 3 or not props:
            return st.dictionaries(st.text(max_size=6), _JSON, max_size=2)
        return st.fixed_dictionaries({}, optional={k: strategy(v, depth + 1) for k, v in props.items()})
    if kind == "array":
        return st.lists(strategy(node.get("items", {}), depth + 1), max_size=2)
    if kind == "string":
        return st.uuids().map(str) if node.get("format") == "uuid" else st.text(max_size=12)
    if kind == "integer":
        return st.integers(min_value=-(2**31), max_value=2**31 - 1)
    if kind == "number":
        return st.floats(min_value=-1e12, max_value=1e13, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    return _JSON
