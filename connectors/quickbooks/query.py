"""Building QuickBooks query-language statements safely.

The query endpoint takes a SQL-like ``SELECT`` whose string values sit in single quotes;
Intuit documents the backslash as the escape character. Every value the hub puts into a
statement goes through :func:`quote`, so a customer called ``Amy's Bird Sanctuary`` (or a
hostile ``x' OR Active = false``) stays one string literal.
"""

from __future__ import annotations

from datetime import UTC, datetime

#: the largest page the query endpoint returns
MAX_RESULTS = 1000


def quote(value: str) -> str:
    """``value`` as a single-quoted literal: backslashes and quotes are escaped."""
    if not isinstance(value, str):
        raise TypeError(f"query values are strings, got {type(value).__name__}")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def timestamp(value: datetime) -> str:
    """A query/CDC timestamp: UTC, whole seconds (floored, so nothing at ``value`` is missed)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0).isoformat()


def select(
    entity: str,
    where: list[str] | None = None,
    *,
    order_by: str = "Id",
    start: int = 1,
    max_results: int = MAX_RESULTS,
) -> str:
    """``SELECT * FROM entity [WHERE a AND b] ORDERBY .. STARTPOSITION n MAXRESULTS m``.

    ``where`` items are complete conditions built with :func:`quote`; the language has
    no OR, so conditions only combine with AND.
    """
    if not entity.isidentifier():
        raise ValueError(f"not an entity name: {entity!r}")
    if not 1 <= max_results <= MAX_RESULTS:
        raise ValueError(f"MAXRESULTS must be 1..{MAX_RESULTS}")
    parts = [f"SELECT * FROM {entity}"]  # noqa: S608 - not SQL; values go through quote()
    if where:
        parts.append("WHERE " + " AND ".join(where))
    parts.append(f"ORDERBY {order_by}")
    parts.append(f"STARTPOSITION {int(start)} MAXRESULTS {int(max_results)}")
    return " ".join(parts)
