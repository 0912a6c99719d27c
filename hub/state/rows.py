"""Small helpers the state store's repositories share: the time rows are stamped with,
bounded ``IN`` lists, and the rows of one job's target."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

__all__ = ["chunks", "now", "of_target"]


def now() -> datetime:
    return datetime.now(UTC)


def of_target(table: Any, job: str, system: str, kind: str) -> tuple[Any, ...]:
    """The rows of one job's records of one kind in one target system."""
    return (table.c.job == job, table.c.system == system, table.c.kind == kind)


def chunks(values: Iterable[str], size: int = 500) -> Iterator[list[str]]:
    """``values`` in lists of at most ``size`` (bounded IN clauses)."""
    chunk: list[str] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
