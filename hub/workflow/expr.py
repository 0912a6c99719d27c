"""The small, safe expression language of workflow conditions and templates.

Workflows are data that users copy and change, and their values come from people
(intake forms, the command line) and vendors (webhooks). So expressions are *not*
Python: this module tokenizes and parses them itself and evaluates the tree over plain
JSON values. There is no attribute access, no call of anything but the whitelisted
:data:`FUNCTIONS`, and no way to reach a Python object.

Grammar (lowest precedence first)::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in") operand)?
    operand    := primary ("." NAME | "[" expr "]")*
    primary    := NUMBER (may start with "-") | STRING | "true" | "false" | "null"
                | "[" [expr ("," expr)*] "]"
                | NAME "(" [expr ("," expr)*] ")"   (a whitelisted function)
                | NAME                               (a root: inputs, steps, vars, ...)
                | "(" expr ")"

A path that does not exist evaluates to ``null``: a step skipped by a branch has no
outputs, and ``default(steps.x.id, "")`` handles that. Typos are caught earlier, when
the definition is validated (:func:`references`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "FUNCTIONS",
    "Expression",
    "ExpressionError",
    "evaluate",
    "parse",
    "references",
]

#: longest expression accepted: expressions are written by people, not generated
MAX_LENGTH = 2000
#: deepest nesting of brackets and ``not``; bounds recursion for hostile input
MAX_DEPTH = 32


class ExpressionError(ValueError):
    """An expression that does not parse or cannot be evaluated; the message says why."""


# -- tokens ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|\.)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}
KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, name, op, end
    value: str
    pos: int


def _unquote(text: str, pos: int) -> str:
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt not in _ESCAPES:
                raise ExpressionError(f"unknown escape \\{nxt} in string at column {pos + i + 2}")
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _tokens(source: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            raise ExpressionError(f"unexpected {source[pos]!r} at column {pos + 1}")
        kind = m.lastgroup or ""
        if kind != "ws":
            value = m.group()
            if kind == "string":
                value = _unquote(value, pos)
            out.append(Token(kind, value, pos))
        pos = m.end()
    out.append(Token("end", "", len(source)))
    return out


# -- the tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class ListOf:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Member:
    target: Node
    key: str


@dataclass(frozen=True)
class Index:
    target: Node
    index: Node


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # and, or
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


Node = Literal | ListOf | Name | Member | Index | Call | Not | BoolOp | Compare


# -- functions ------------------------------------------------------------------------------


def _text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | int | float | str):
        return str(value) if not isinstance(value, bool) else ("true" if value else "false")
    raise ExpressionError(f"{name}() needs text, got a {_type(value)}")


def _len(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str | list | dict):
        return len(value)
    raise ExpressionError(f"len() needs text, a list or a mapping, got a {_type(value)}")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ExpressionError("int() cannot convert a boolean")
    try:
        return int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ExpressionError(f"int() cannot convert {_short(value)}") from None


def _default(value: Any, fallback: Any) -> Any:
    return fallback if value is None or value == "" else value


def _join(items: Any, sep: Any = ", ") -> str:
    """The items as text joined by ``sep``; nothing to join (``null``: a skipped step's list) is ''."""
    if items is None:
        return ""
    if not isinstance(items, list):
        raise ExpressionError(f"join() needs a list, got a {_type(items)}")
    return _text("join", sep).join(_text("join", i) for i in items)


def _at(day: Any, time_of_day: Any, zone: Any) -> str:
    """The instant ``day`` (YYYY-MM-DD) at ``time_of_day`` (HH:MM) in time zone ``zone``, as UTC
    (``2026-03-10T14:00:00Z``): a date and time a person gives, written where the vendor wants an instant."""
    try:
        hours, _, minutes = (_text("at", time_of_day) or "00:00").partition(":")
        local = datetime.combine(date.fromisoformat(_text("at", day)), time(int(hours), int(minutes)))
        tz = ZoneInfo(_text("at", zone) or "UTC")
    except (ValueError, ZoneInfoNotFoundError):
        raise ExpressionError(f"at() needs a date, a time and a time zone, got {_short(day)}, "
                              f"{_short(time_of_day)}, {_short(zone)}") from None  # fmt: skip
    return local.replace(tzinfo=tz).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pluck(items: Any, key: Any) -> list[Any]:
    """The value under ``key`` of each mapping in ``items`` (null where it has none)."""
    if not isinstance(items, list):
        raise ExpressionError(f"pluck() needs a list, got a {_type(items)}")
    name = _text("pluck", key)
    return [i.get(name) if isinstance(i, dict) else None for i in items]


#: The only callables an expression can reach, with their accepted argument counts.
FUNCTIONS: dict[str, tuple[Callable[..., Any], tuple[int, ...]]] = {
    "lower": (lambda v: _text("lower", v).lower(), (1,)),
    "upper": (lambda v: _text("upper", v).upper(), (1,)),
    "trim": (lambda v: _text("trim", v).strip(), (1,)),
    "str": (lambda v: _text("str", v), (1,)),
    "int": (_int, (1,)),
    "len": (_len, (1,)),
    "default": (_default, (2,)),
    "join": (_join, (1, 2)),
    "pluck": (_pluck, (2,)),
    "at": (_at, (3,)),
    "choose": (lambda condition, then, otherwise: then if _truthy(condition) else otherwise, (3,)),
}


# -- parsing --------------------------------------------------------------------------------


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, kind: str, value: str | None = None) -> bool:
        tok = self.tok
        return tok.kind == kind and (value is None or tok.value == value)

    def at_keyword(self, word: str) -> bool:
        return self.at("name", word)

    def expect(self, kind: str, value: str) -> None:
        if not self.at(kind, value):
            raise self.error(f"expected {value!r}")
        self.take()

    def error(self, what: str) -> ExpressionError:
        tok = self.tok
        found = "end of expression" if tok.kind == "end" else repr(tok.value)
        return ExpressionError(f"{what} at column {tok.pos + 1}, found {found}")

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"expression nested deeper than {MAX_DEPTH} levels")

    def parse(self) -> Node:
        node = self.or_()
        if not self.at("end"):
            raise self.error("unexpected text")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.at_keyword("or"):
            self.take()
            node = BoolOp("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.at_keyword("and"):
            self.take()
            node = BoolOp("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.at_keyword("not"):
            self.take()
            self.nest()
            node = Not(self.not_())
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        if self.at("op") and self.tok.value in ("==", "!=", "<", "<=", ">", ">="):
            op = self.take().value
            return Compare(op, left, self.operand())
        if self.at_keyword("in"):
            self.take()
            return Compare("in", left, self.operand())
        if (
            self.at_keyword("not")
            and self.tokens[self.i + 1].kind == "name"
            and self.tokens[self.i + 1].value == "in"
        ):
            self.i += 2
            return Compare("not in", left, self.operand())
        return left

    def operand(self) -> Node:
        node = self.primary()
        while True:
            if self.at("op", "."):
                self.take()
                if not self.at("name"):
                    raise self.error("expected a field name after '.'")
                node = Member(node, self.take().value)
            elif self.at("op", "["):
                self.take()
                self.nest()
                node = Index(node, self.or_())
                self.depth -= 1
                self.expect("op", "]")
            else:
                return node

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            self.take()
            return Literal(float(tok.value) if "." in tok.value else int(tok.value))
        if tok.kind == "string":
            self.take()
            return Literal(tok.value)
        if tok.kind == "op" and tok.value == "(":
            self.take()
            self.nest()
            node = self.or_()
            self.depth -= 1
            self.expect("op", ")")
            return node
        if tok.kind == "op" and tok.value == "[":
            self.take()
            self.nest()
            items = self.arguments("]")
            self.depth -= 1
            return ListOf(items)
        if tok.kind == "name":
            self.take()
            word = tok.value
            if word in ("true", "false"):
                return Literal(word == "true")
            if word == "null":
                return Literal(None)
            if word in KEYWORDS:
                raise ExpressionError(f"unexpected {word!r} at column {tok.pos + 1}")
            if self.at("op", "("):
                if word not in FUNCTIONS:
                    known = ", ".join(sorted(FUNCTIONS))
                    raise ExpressionError(
                        f"unknown function {word!r} at column {tok.pos + 1}; functions: {known}"
                    )
                self.take()
                self.nest()
                args = self.arguments(")")
                self.depth -= 1
                counts = FUNCTIONS[word][1]
                if len(args) not in counts:
                    want = " or ".join(str(c) for c in counts)
                    raise ExpressionError(f"{word}() takes {want} argument(s), got {len(args)}")
                return Call(word, args)
            return Name(word)
        raise self.error("expected a value")

    def arguments(self, close: str) -> tuple[Node, ...]:
        items: list[Node] = []
        if self.at("op", close):
            self.take()
            return ()
        while True:
            items.append(self.or_())
            if self.at("op", ","):
                self.take()
                continue
            self.expect("op", close)
            return tuple(items)


@dataclass(frozen=True)
class Expression:
    """A parsed expression; evaluate it with :meth:`evaluate` (or :meth:`test` for a condition)."""

    source: str
    tree: Node

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        try:
            return _eval(self.tree, names)
        except RecursionError:
            raise ExpressionError("expression too deeply nested") from None

    def test(self, names: Mapping[str, Any]) -> bool:
        return _truthy(self.evaluate(names))

    def references(self) -> list[tuple[str, ...]]:
        return references(self.tree)


def parse(source: str) -> Expression:
    """Parse ``source``; :class:`ExpressionError` says what is wrong and where."""
    if not isinstance(source, str):
        raise ExpressionError(f"an expression must be text, got {_type(source)}")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    if not source.strip():
        raise ExpressionError("empty expression")
    return Expression(source, _Parser(source).parse())


def evaluate(source: str, names: Mapping[str, Any]) -> Any:
    return parse(source).evaluate(names)


# -- evaluation -----------------------------------------------------------------------------


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, int | float | str | list | dict):
        return bool(value)
    return True


def _member(value: Any, key: str) -> Any:
    # Only mapping keys: an expression never reaches attributes of Python objects.
    return value.get(key) if isinstance(value, dict) else None


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        return value.get(key) if isinstance(key, str) else value.get(str(key))
    if isinstance(value, list) and isinstance(key, int) and not isinstance(key, bool):
        return value[key] if -len(value) <= key < len(value) else None
    return None


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op in ("in", "not in"):
        if isinstance(right, str):
            if not isinstance(left, str):
                raise ExpressionError(f"'in' text needs text on the left, got a {_type(left)}")
            found = left in right
        elif isinstance(right, list):
            found = any(_equal(left, item) for item in right)
        elif isinstance(right, dict):
            found = isinstance(left, str) and left in right
        elif right is None:
            found = False
        else:
            raise ExpressionError(f"'in' needs text, a list or a mapping on the right, got a {_type(right)}")
        return found if op == "in" else not found
    numbers = (int, float)
    same = (
        isinstance(left, numbers)
        and isinstance(right, numbers)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
    ) or (isinstance(left, str) and isinstance(right, str))
    if not same:
        raise ExpressionError(f"cannot order a {_type(left)} and a {_type(right)} with {op}")
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _equal(left: Any, right: Any) -> bool:
    # 1 == true is false here: a boolean is not a number in a workflow.
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def _eval(node: Node, names: Mapping[str, Any]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Name):
        return names.get(node.name)
    if isinstance(node, Member):
        return _member(_eval(node.target, names), node.key)
    if isinstance(node, Index):
        return _index(_eval(node.target, names), _eval(node.index, names))
    if isinstance(node, ListOf):
        return [_eval(item, names) for item in node.items]
    if isinstance(node, Call):
        fn = FUNCTIONS[node.function][0]
        return fn(*(_eval(a, names) for a in node.args))
    if isinstance(node, Not):
        return not _truthy(_eval(node.operand, names))
    if isinstance(node, BoolOp):
        left = _truthy(_eval(node.left, names))
        if node.op == "and":
            return left and _truthy(_eval(node.right, names))
        return left or _truthy(_eval(node.right, names))
    if isinstance(node, Compare):
        return _compare(node.op, _eval(node.left, names), _eval(node.right, names))
    raise ExpressionError(f"cannot evaluate {type(node).__name__}")


# -- static analysis ------------------------------------------------------------------------


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, Member | Not):
        yield node.target if isinstance(node, Member) else node.operand
    elif isinstance(node, Index):
        yield node.target
        yield node.index
    elif isinstance(node, ListOf | Call):
        yield from node.items if isinstance(node, ListOf) else node.args
    elif isinstance(node, BoolOp | Compare):
        yield node.left
        yield node.right


def _path(node: Node) -> tuple[str, ...] | None:
    if isinstance(node, Name):
        return (node.name,)
    if isinstance(node, Member):
        head = _path(node.target)
        return (*head, node.key) if head is not None else None
    if isinstance(node, Index) and isinstance(node.index, Literal) and isinstance(node.index.value, str):
        head = _path(node.target)
        return (*head, node.index.value) if head is not None else None
    return None


def references(node: Node) -> list[tuple[str, ...]]:
    """The name paths an expression reads (``("steps", "create_company", "id")``), outermost first."""
    found: list[tuple[str, ...]] = []

    def walk(n: Node) -> None:
        path = _path(n)
        if path is not None:
            found.append(path)
            if isinstance(n, Index):
                walk(n.index)
            return
        for child in _children(n):
            walk(child)

    walk(node)
    return found
