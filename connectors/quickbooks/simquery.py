"""The simulator's reading of the QuickBooks query language.

``SELECT * | COUNT(*) FROM Entity [WHERE cond [AND cond]...] [ORDERBY field [ASC|DESC]]
[STARTPOSITION n] [MAXRESULTS n]``; a condition is ``field op value`` with op one of
``= < > <= >= LIKE IN``, values single-quoted with backslash escapes, numbers, ``true``
and ``false``, or a parenthesised list for IN. No OR, no joins, no projections - as
Intuit documents. A statement the grammar refuses is a ``QueryParserError`` fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^'\\]|\\.)*')
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|=|<|>)
      | (?P<punct>[(),*])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE | re.DOTALL,
)


class QueryError(ValueError):
    """The statement does not parse; the message is shown in the fault's Detail."""


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any

    def key(self) -> tuple[str, str, str]:
        return (self.field, self.op, repr(self.value))


@dataclass
class Query:
    entity: str
    count: bool = False
    where: list[Condition] = field(default_factory=list)
    order_by: str = "Id"
    descending: bool = False
    start: int = 1
    max_results: int = 100


def unescape(literal: str) -> str:
    """The value of a quoted literal (quotes removed, ``\\x`` -> ``x``)."""
    return re.sub(r"\\(.)", r"\1", literal[1:-1], flags=re.DOTALL)


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryError(f"Encountered unexpected text at position {pos}: {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise QueryError("Encountered end of statement, expected more")
        self.i += 1
        return tok

    def word(self, *expected: str) -> str:
        kind, text = self.take()
        if kind != "word" or (expected and text.upper() not in expected):
            raise QueryError(f"Encountered {text!r}, expected {' or '.join(expected) or 'a name'}")
        return text

    def at_word(self, name: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "word" and tok[1].upper() == name

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return unescape(text)
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise QueryError(f"Encountered {text!r}, expected a value")

    def parse(self) -> Query:
        self.word("SELECT")
        kind, text = self.take()
        count = False
        if kind == "word" and text.upper() == "COUNT":
            if [self.take()[1] for _ in range(3)] != ["(", "*", ")"]:
                raise QueryError("Encountered a bad COUNT, expected COUNT(*)")
            count = True
        elif text != "*":
            raise QueryError("Projections are not supported, use SELECT * or SELECT COUNT(*)")
        self.word("FROM")
        query = Query(entity=self.word(), count=count)
        if self.at_word("WHERE"):
            self.take()
            query.where.append(self.condition())
            while self.at_word("AND"):
                self.take()
                query.where.append(self.condition())
            if self.at_word("OR"):
                raise QueryError("OR is not supported in WHERE clauses")
        if self.at_word("ORDERBY") or self.at_word("ORDER"):
            if self.take()[1].upper() == "ORDER":
                self.word("BY")
            query.order_by = self.word()
            if self.at_word("ASC") or self.at_word("DESC"):
                query.descending = self.take()[1].upper() == "DESC"
        if self.at_word("STARTPOSITION"):
            self.take()
            query.start = self.number()
        if self.at_word("MAXRESULTS"):
            self.take()
            query.max_results = self.number()
        if self.peek() is not None:
            raise QueryError(f"Encountered {self.peek()[1]!r} after the end of the statement")  # type: ignore[index]
        if query.max_results > 1000:
            raise QueryError("MAXRESULTS must not exceed 1000")
        return query

    def number(self) -> int:
        kind, text = self.take()
        if kind != "num" or int(float(text)) < 1:
            raise QueryError(f"Encountered {text!r}, expected a positive number")
        return int(text)

    def condition(self) -> Condition:
        name = self.word()
        kind, op = self.take()
        if kind == "word" and op.upper() in ("LIKE", "IN"):
            op = op.upper()
        elif kind != "op":
            raise QueryError(f"Encountered {op!r}, expected an operator")
        if op == "IN":
            if self.take()[1] != "(":
                raise QueryError("IN needs a parenthesised list")
            values = [self.value()]
            while (tok := self.take())[1] == ",":
                values.append(self.value())
            if tok[1] != ")":
                raise QueryError("IN list not closed")
            return Condition(name, op, tuple(values))
        return Condition(name, op, self.value())


def parse(text: str) -> Query:
    return _Parser(text).parse()


# -- evaluating ---------------------------------------------------------------------


def field_value(record: dict[str, Any], path: str) -> Any:
    current: Any = record
    for part in path.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    if isinstance(current, dict) and "value" in current:  # a reference such as CustomerRef
        return current["value"]
    return current


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(right, bool) or isinstance(left, bool):
        return left, right
    if isinstance(right, str) and isinstance(left, str):
        lt, rt = _instant(left), _instant(right)
        if lt is not None and rt is not None and ("-" in right[:5] or "T" in right):
            return lt, rt
        if left.lstrip("-").isdigit() and right.lstrip("-").isdigit():
            return int(left), int(right)
        return left.lower(), right.lower()
    if isinstance(right, int | float) and isinstance(left, str):
        try:
            return float(left), float(right)
        except ValueError:
            return left, str(right)
    return left, right


def matches(record: dict[str, Any], cond: Condition) -> bool:
    value = field_value(record, cond.field)
    if cond.field == "Active" and value is None:
        value = True
    if value is None:
        return False
    if cond.op == "IN":
        return any(_eq(value, v) for v in cond.value)
    if cond.op == "LIKE":
        pattern = "^" + ".*".join(re.escape(p) for p in str(cond.value).split("%")) + "$"
        return re.match(pattern, str(value), re.IGNORECASE | re.DOTALL) is not None
    left, right = _comparable(value, cond.value)
    try:
        return {
            "=": left == right,
            "<": left < right,
            ">": left > right,
            "<=": left <= right,
            ">=": left >= right,
        }[cond.op]
    except TypeError:
        return False


def _eq(value: Any, want: Any) -> bool:
    left, right = _comparable(value, want)
    return bool(left == right)


def sort_key(record: dict[str, Any], path: str) -> Any:
    value = field_value(record, path)
    if path == "Id":
        return int(value)
    instant = _instant(value)
    if instant is not None:
        return instant.timestamp()
    return str(value or "").lower()
