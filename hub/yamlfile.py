"""YAML files validated by pydantic models, with errors that point at file and line.

Mappings and workflows are data that users copy and change; a mistake must say
``mappings/autotask.yaml:42: entities.companies.fields.name.vendor: Field required``,
not a stack trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hub.errors import ConfigError

__all__ = ["LocatedError", "NoAliasLoader", "Problem", "load_yaml_lines", "problems", "validate_yaml", "yaml_problems"]

M = TypeVar("M", bound=BaseModel)
Loc = tuple[Any, ...]


class LocatedError(ValueError):
    """A validator's error about a part *below* the value it validates.

    Model-level validators see a whole mapping; raising this with the key path below it
    (e.g. ``("fields", "address.city")``) lets :func:`validate_yaml` point at that line.
    """

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases.

    An alias (``*name``) repeats a node by reference, so nine lines of them expand into
    billions of values (the "billion laughs"), and a node that refers to itself never
    ends. The hub's files are small and written by hand, so an alias is refused with
    its line instead: repeat the value.
    """

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"aliases (*{event.anchor}) are not allowed in hub files; repeat the value instead",
                event.start_mark,
            )
        return super().compose_node(parent, index)  # type: ignore[no-any-return]
class _BadScalar(ValueError):
    """A scalar YAML reads as a value it cannot build (``2026-13-45`` is a date to YAML)."""

    def __init__(self, path: Loc, line: int, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


def _construct(node: yaml.Node, path: Loc, lines: dict[Loc, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, path)
            out[key] = _construct(value_node, (*path, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _scalar(node, path)


def _scalar(node: yaml.Node, path: Loc) -> Any:
    # Resolve the scalar exactly as safe_load would (ints, bools, nulls, strings).
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as exc:  # e.g. a date with month 13: YAML's own constructor gives up
        raise _BadScalar(path, node.start_mark.line + 1, f"{node.value!r} is not a valid value ({exc})") from None
    finally:
        loader.dispose()


def load_yaml_lines(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse ``path``; return the data and the line of every key path in it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        node = yaml.compose(text, Loader=NoAliasLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    lines: dict[Loc, int] = {}
    if node is None:
        return {}, lines
    try:
        return _construct(node, (), lines), lines
    except _BadScalar as exc:
        where = ".".join(str(p) for p in exc.path) or "(top level)"
        raise ConfigError(f"{path}:{exc.line}: {where}: {exc}") from None


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    # The deepest key path that exists in the file (a missing field points at its parent).
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


@dataclass(frozen=True)
class Problem:
    """One validation error: the line in the file (if known), the key path, the message."""

    line: int | None
    loc: Loc
    message: str

    @property
    def where(self) -> str:
        return ".".join(str(p) for p in self.loc) or "(top level)"

    def at(self, path: Path) -> str:
        """``file:line: where: what``."""
        return f"{path}{':' + str(self.line) if self.line else ''}: {self.where}: {self.message}"


def problems(exc: ValidationError, lines: dict[Loc, int]) -> list[Problem]:
    """Every error of ``exc``, each placed at its key path and line."""
    found: list[Problem] = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, LocatedError):
            loc = loc + cause.loc
        clean = tuple(p for p in loc if not (isinstance(p, str) and p.startswith(("function-", "tagged-union"))))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        found.append(Problem(_line_for(clean, lines), clean, msg))
    return found


def validate_yaml(model: type[M], path: Path, context: dict[str, Any] | None = None) -> M:
    """Load and validate ``path`` as ``model``; ConfigError with ``file:line: where: what``."""
    data, lines = load_yaml_lines(path)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        found = problems(exc, lines)
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ConfigError(f"{found[0].at(path)}{more}") from None


def yaml_problems(model: type[M], path: Path, context: dict[str, Any] | None = None) -> tuple[M | None, list[str]]:
    """``path`` validated as ``model``, and every problem (not only the first), each as
    ``file:line: where: what``; the model is None when there is any."""
    try:
        data, lines = load_yaml_lines(path)
    except ConfigError as exc:
        return None, [str(exc)]
    try:
        return model.model_validate(data, context=context), []
    except ValidationError as exc:
        return None, [problem.at(path) for problem in problems(exc, lines)]
