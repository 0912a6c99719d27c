"""Templates: ``{{ expression }}`` placeholders in the values a step sends.

``"Terms for {{ inputs.name }}"`` renders to text. A value that is *only* one
placeholder (``"{{ steps.create_company.id }}"``) keeps its type, so ids stay numbers
and lists stay lists. Rendering is one pass: a value that itself contains ``{{ }}`` (an
input typed by a person, a field sent by a vendor) is inserted as it is and never
evaluated, so no input can inject an expression.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hub.workflow.expr import Expression, ExpressionError, parse

__all__ = ["Template", "compile_template", "render", "template_expressions"]

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


@dataclass(frozen=True)
class Template:
    """A parsed text: literal parts and expressions, alternating."""

    source: str
    parts: tuple[str | Expression, ...]

    @property
    def is_single(self) -> bool:
        return len(self.parts) == 1 and isinstance(self.parts[0], Expression)

    def render(self, names: Mapping[str, Any]) -> Any:
        if self.is_single:
            expr = self.parts[0]
            assert isinstance(expr, Expression)
            return expr.evaluate(names)
        out: list[str] = []
        for part in self.parts:
            out.append(part if isinstance(part, str) else _as_text(part.evaluate(names)))
        return "".join(out)

    def expressions(self) -> list[Expression]:
        return [p for p in self.parts if isinstance(p, Expression)]


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


@lru_cache(maxsize=2048)
def compile_template(source: str) -> Template:
    """Parse the placeholders of ``source``; :class:`ExpressionError` names the bad one."""
    if "{{" not in source:
        return Template(source, (source,))
    parts: list[str | Expression] = []
    pos = 0
    stripped = source.strip()
    for m in _PLACEHOLDER.finditer(source):
        if m.start() > pos:
            parts.append(source[pos : m.start()])
        try:
            parts.append(parse(m.group(1).strip()))
        except ExpressionError as exc:
            raise ExpressionError(f"in {m.group(0)!r}: {exc}") from None
        pos = m.end()
    if "{{" in source[pos:]:
        raise ExpressionError(f"unclosed '{{{{' in {source!r}")
    if pos < len(source):
        parts.append(source[pos:])
    # "  {{ x }} " is still a single value: surrounding blanks are YAML formatting.
    if stripped != source and _PLACEHOLDER.fullmatch(stripped):
        parts = [p for p in parts if not (isinstance(p, str) and not p.strip())]
    return Template(source, tuple(parts))


def render(value: Any, names: Mapping[str, Any]) -> Any:
    """Render every string in ``value`` (nested dicts and lists included)."""
    if isinstance(value, str):
        return compile_template(value).render(names)
    if isinstance(value, dict):
        return {k: render(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, names) for v in value]
    return value


def template_expressions(value: Any) -> Iterator[Expression]:
    """Every expression in ``value``'s strings (for validation); raises on a bad one."""
    if isinstance(value, str):
        yield from compile_template(value).expressions()
    elif isinstance(value, dict):
        for v in value.values():
            yield from template_expressions(v)
    elif isinstance(value, list):
        for v in value:
            yield from template_expressions(v)
