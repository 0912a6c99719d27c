"""In-memory tables of the simulator, indexed so a query page never scans the whole table.

Each table keeps records by id, the ids in ascending order (Autotask orders query
results by id), a sorted ``(cursor, id)`` index for change-date filters and equality
indexes on parent ids (``companyID``, ``ticketID``). A query picks the narrowest
candidate list its top-level ``and`` allows (ids, a parent id, a recent cursor range)
and otherwise walks ids from the paging position, stopping once the page is full.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from .sim_data import EntitySchema, stamp

__all__ = ["QueryError", "Table", "compile_filter"]

Predicate = Callable[[dict[str, Any]], bool]


class QueryError(ValueError):
    """A query Autotask would refuse; the text is the ``errors`` entry."""


def _timestamp(value: Any) -> str:
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise QueryError(f"'{value}' is not a valid date/time value.") from None
    return stamp(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def _coerce(sample: Any, value: Any, is_date: bool) -> Any:
    """The filter value in the record value's type (filters often send numbers as text)."""
    if value is None:
        return None
    if is_date:
        return _timestamp(value)
    if isinstance(sample, bool):
        return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1")
    if isinstance(sample, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise QueryError(f"'{value}' is not a valid integer value.") from None
    if isinstance(sample, str):
        return str(value).casefold()
    return value


def _field_value(record: dict[str, Any], field: str, udf: bool) -> Any:
    if udf:
        for item in record.get("userDefinedFields") or []:
            if item.get("name", "").casefold() == field.casefold():
                return item.get("value")
        return None
    return record.get(field)


def compile_filter(item: Any, schema: EntitySchema, udf_names: Iterable[str]) -> Predicate:
    """A predicate for one filter item (a condition or a nested and/or group)."""
    if not isinstance(item, dict) or not isinstance(item.get("op"), str):
        raise QueryError("Each filter item needs an 'op'.")
    op = item["op"]
    if op in ("and", "or"):
        children = item.get("items")
        if not isinstance(children, list) or not children:
            raise QueryError(f"The '{op}' operator needs a non-empty 'items' list.")
        preds = [compile_filter(c, schema, udf_names) for c in children]
        if op == "and":
            return lambda r: all(p(r) for p in preds)
        return lambda r: any(p(r) for p in preds)
    field = item.get("field")
    udf = bool(item.get("udf"))
    if not isinstance(field, str) or not field:
        raise QueryError(f"The '{op}' condition needs a 'field'.")
    names = {n.casefold() for n in udf_names} if udf else {f.casefold() for f in schema.fields}
    if field.casefold() not in names:
        raise QueryError(f"Unable to find {field} in the {schema.name} entity.")
    if not udf:
        field = next(f for f in schema.fields if f.casefold() == field.casefold())
        if field in schema.write_only:
            raise QueryError(f"The field {field} cannot be queried.")
    is_date = not udf and field in schema.dates
    raw = item.get("value")
    return _condition(op, field, udf, raw, is_date)


def _condition(op: str, field: str, udf: bool, raw: Any, is_date: bool) -> Predicate:
    def value_of(record: dict[str, Any]) -> Any:
        value = _field_value(record, field, udf)
        return value.casefold() if isinstance(value, str) and not is_date else value

    if op == "exist":
        return lambda r: _field_value(r, field, udf) not in (None, "")
    if op == "notExist":
        return lambda r: _field_value(r, field, udf) in (None, "")
    if op in ("in", "notIn"):
        if not isinstance(raw, list):
            raise QueryError(f"The '{op}' operator needs a list value.")

        def member(r: dict[str, Any]) -> bool:
            value = value_of(r)
            return value is not None and value in {_coerce(value, v, is_date) for v in raw}

        return member if op == "in" else (lambda r: not member(r))
    text_ops = {
        "beginsWith": str.startswith,
        "endsWith": str.endswith,
        "contains": str.__contains__,
    }
    if op in text_ops:
        fn = text_ops[op]
        needle = str(raw).casefold()
        return lambda r: isinstance(value_of(r), str) and fn(value_of(r), needle)
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda a, b: a == b,
        "noteq": lambda a, b: a != b,
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    if op not in compare:
        raise QueryError(f"'{op}' is not a valid operator.")
    fn2 = compare[op]
    if is_date:
        _timestamp(raw)  # refuse a bad date up front, like the API

    def check(r: dict[str, Any]) -> bool:
        value = value_of(r)
        if value is None:
            return op == "noteq" and raw is not None
        try:
            return fn2(value, _coerce(value, raw, is_date))
        except TypeError:
            return False

    return check


def _id_floor(items: list[Any]) -> int:
    """The largest id excluded by ``id gt``/``gte`` conditions anded at the top level."""
    floor = 0
    for item in items:
        if not isinstance(item, dict) or item.get("udf"):
            continue
        if item.get("op") == "and" and isinstance(item.get("items"), list):
            floor = max(floor, _id_floor(item["items"]))
        elif item.get("field") == "id" and item.get("op") in ("gt", "gte"):
            value = str(item.get("value"))
            if value.isdigit():
                floor = max(floor, int(value) - (item["op"] == "gte"))
    return floor


class Table:
    """One entity's records with its id, cursor and parent-id indexes.

    ``cursor`` is None for entities without a change timestamp (account team members,
    portal users): they keep no cursor index.
    """

    def __init__(
        self, schema: EntitySchema, cursor: str | None, next_id: int, index_fields: tuple[str, ...]
    ) -> None:
        self.schema = schema
        self.cursor = cursor
        self.records: dict[int, dict[str, Any]] = {}
        self.ids: list[int] = []
        self.by_cursor: list[tuple[str, int]] = []
        self.next_id = next_id
        self.indexes: dict[str, dict[Any, set[int]]] = {f: {} for f in index_fields}

    def load(self, records: list[dict[str, Any]]) -> None:
        """Bulk load (records in ascending id order), building indexes in one pass."""
        for record in records:
            rid = record["id"]
            self.records[rid] = record
            self.ids.append(rid)
            for name, index in self.indexes.items():
                index.setdefault(record.get(name), set()).add(rid)
        if self.cursor is not None:
            self.by_cursor = sorted((r[self.cursor] or "", r["id"]) for r in records)
        if self.ids:
            self.next_id = max(self.next_id, self.ids[-1] + 1)

    def insert(self, record: dict[str, Any]) -> dict[str, Any]:
        rid = self.next_id
        self.next_id += 1
        record["id"] = rid
        self.records[rid] = record
        self.ids.append(rid)
        if self.cursor is not None:
            bisect.insort(self.by_cursor, (record.get(self.cursor) or "", rid))
        for name, index in self.indexes.items():
            index.setdefault(record.get(name), set()).add(rid)
        return record

    def change(self, rid: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply ``changes`` (already validated), keeping every index in step."""
        record = self.records[rid]
        if self.cursor is not None and self.cursor in changes:
            old = (record.get(self.cursor) or "", rid)
            pos = bisect.bisect_left(self.by_cursor, old)
            if pos < len(self.by_cursor) and self.by_cursor[pos] == old:
                del self.by_cursor[pos]
            bisect.insort(self.by_cursor, (changes[self.cursor] or "", rid))
        for name, index in self.indexes.items():
            if name in changes and changes[name] != record.get(name):
                index.get(record.get(name), set()).discard(rid)
                index.setdefault(changes[name], set()).add(rid)
        record.update(changes)
        return record

    # -- queries --------------------------------------------------------------------

    def _candidates(self, filters: list[dict[str, Any]], after: int) -> Iterable[int]:
        """Ids to test, ascending, all greater than ``after`` and any ``id > n`` bound."""
        after = max(after, _id_floor(filters))
        best: list[int] | None = None
        for item in filters:
            if not isinstance(item, dict):
                continue
            if item.get("op") == "and" and isinstance(item.get("items"), list):
                nested = self._narrow(item["items"])
            else:
                nested = self._narrow([item])
            if nested is not None and (best is None or len(nested) < len(best)):
                best = nested
        if best is not None:
            return [i for i in sorted(best) if i > after]
        start = bisect.bisect_right(self.ids, after)
        return (self.ids[k] for k in range(start, len(self.ids)))

    def _narrow(self, items: list[Any]) -> list[int] | None:
        """An id list for the most selective indexed condition of an ``and``, if cheap."""
        best: list[int] | None = None
        for item in items:
            if not isinstance(item, dict) or item.get("udf"):
                continue
            op, field, value = item.get("op"), item.get("field"), item.get("value")
            text = str(value)
            found: list[int] | None = None
            if field == "id" and op == "eq":
                found = [int(text)] if text.isdigit() and int(text) in self.records else []
            elif field == "id" and op == "in" and isinstance(value, list):
                found = [int(v) for v in value if str(v).isdigit() and int(v) in self.records]
            elif field in self.indexes and op == "eq" and text.lstrip("-").isdigit():
                found = list(self.indexes[field].get(int(text), ()))
            elif self.cursor is not None and field == self.cursor and op in ("gt", "gte"):
                try:
                    bound = _timestamp(value)
                except QueryError:
                    continue
                pos = bisect.bisect_left(self.by_cursor, (bound, -1))
                # a wide range is cheaper to walk in id order than to sort
                if len(self.by_cursor) - pos <= max(64, len(self.by_cursor) // 4):
                    found = [rid for _, rid in self.by_cursor[pos:]]
            if found is not None and (best is None or len(found) < len(best)):
                best = found
        return best

    def query(
        self, filters: list[dict[str, Any]], predicate: Predicate, after: int, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` matching records with id > ``after``, and whether more follow."""
        out: list[dict[str, Any]] = []
        for rid in self._candidates(filters, after):
            record = self.records[rid]
            if predicate(record):
                if len(out) == limit:
                    return out, True
                out.append(record)
        return out, False

    def remove(self, rid: int) -> dict[str, Any]:
        """Delete one record, from every index."""
        record = self.records.pop(rid)
        del self.ids[bisect.bisect_left(self.ids, rid)]
        if self.cursor is not None:
            self.by_cursor.remove((record.get(self.cursor) or "", rid))
        for name, index in self.indexes.items():
            index.get(record.get(name), set()).discard(rid)
        return record
