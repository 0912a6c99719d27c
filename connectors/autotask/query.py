"""Autotask query bodies: ``{"MaxRecords", "IncludeFields", "Filter"}`` built from data.

The grammar (swagger ``QueryModel`` / ``Filter``): a filter item is either a condition
``{"op", "field", "value", "udf"}`` or a group ``{"op": "and"|"or", "items": [...]}``;
the top-level ``Filter`` list is an implicit ``and``. Values travel as JSON values,
never spliced into strings, so a company called ``O'Brien "and" Sons`` needs no
escaping and cannot change the query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = [
    "CONDITION_OPS",
    "GROUP_OPS",
    "MAX_RECORDS",
    "all_of",
    "any_of",
    "cond",
    "format_timestamp",
    "query_body",
]

#: the most records one query page may return (documented limit)
MAX_RECORDS = 500
CONDITION_OPS = frozenset(
    {
        "eq",
        "noteq",
        "gt",
        "gte",
        "lt",
        "lte",
        "beginsWith",
        "endsWith",
        "contains",
        "exist",
        "notExist",
        "in",
        "notIn",
    }
)
GROUP_OPS = frozenset({"and", "or"})


def format_timestamp(value: datetime) -> str:
    """UTC with milliseconds and ``Z``, the form the API itself answers with."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def cond(op: str, field: str, value: Any = None, *, udf: bool = False) -> dict[str, Any]:
    """One condition; ``exist``/``notExist`` take no value, ``in``/``notIn`` a list."""
    if op not in CONDITION_OPS:
        raise ValueError(
            f"unknown Autotask filter operator {op!r}; known: {', '.join(sorted(CONDITION_OPS))}"
        )
    item: dict[str, Any] = {"op": op, "field": field}
    if op in ("in", "notIn"):
        if not isinstance(value, list | tuple):
            raise ValueError(f"operator {op!r} needs a list of values")
        item["value"] = list(value)
    elif op not in ("exist", "notExist"):
        item["value"] = format_timestamp(value) if isinstance(value, datetime) else value
    if udf:
        item["udf"] = True
    return item


def all_of(*items: dict[str, Any]) -> dict[str, Any]:
    return {"op": "and", "items": list(items)}


def any_of(*items: dict[str, Any]) -> dict[str, Any]:
    return {"op": "or", "items": list(items)}


def query_body(
    *filters: dict[str, Any], include_fields: list[str] | None = None, max_records: int = MAX_RECORDS
) -> dict[str, Any]:
    """A complete query body; ``IncludeFields`` always names ``id`` (needed past 500 results)."""
    if not filters:
        raise ValueError("an Autotask query needs at least one filter")
    if not 1 <= max_records <= MAX_RECORDS:
        raise ValueError(f"MaxRecords must be 1..{MAX_RECORDS}")
    body: dict[str, Any] = {"MaxRecords": max_records}
    if include_fields:
        body["IncludeFields"] = ["id", *[f for f in include_fields if f != "id"]]
    body["Filter"] = list(filters)
    return body
