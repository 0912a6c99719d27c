"""The core names roles, not vendors: ``hub/`` names a built-in vendor only in docstrings,
comments and the default role table (issue 22's done criterion, as a test)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDORS = re.compile(r"autotask|itglue|quickbooks|docusign|ncentral", re.IGNORECASE)
#: where the defaults of HUB_ROLES__* name the built-in connectors
ROLE_TABLE = (ROOT / "hub" / "settings.py", "RoleSettings")


def _docstring_lines(tree: ast.Module) -> set[int]:
    """Lines of string-only statements: module, class and function docstrings, attribute docstrings."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _class_lines(tree: ast.Module, name: str) -> set[int]:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    raise AssertionError(f"no class {name}")


def vendor_names_in_code(path: Path, table: str | None = None) -> list[str]:
    """``line: token`` for every token of ``path`` naming a vendor outside docstrings, comments and
    the class ``table``."""
    source = path.read_text()
    tree = ast.parse(source)
    docstrings = _docstring_lines(tree)
    exempt = _class_lines(tree, table) if table else set()
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        line = token.start[0]
        if token.type == tokenize.COMMENT or line in exempt:
            continue
        if token.type == tokenize.STRING and line in docstrings:
            continue
        if VENDORS.search(token.string):
            found.append(f"{line}: {token.string[:80]}")
    return found


def test_the_core_names_no_vendor_outside_docstrings_comments_and_the_role_table() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{hit}"
        for path in sorted((ROOT / "hub").rglob("*.py"))
        for hit in vendor_names_in_code(path, ROLE_TABLE[1] if path == ROLE_TABLE[0] else None)
    ]
    assert found == []


def test_the_check_sees_code_and_skips_what_it_should(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""A module about Autotask."""\n'
        "# QuickBooks in a comment\n"
        "x = 'itglue'  # a string in code\n"
        "def f():\n"
        '    """DocuSign in a docstring."""\n'
        "    ncentral = 1\n"
        "    return f'{ncentral}'\n"
        "class Table:\n"
        "    psa = 'autotask'\n"
    )
    assert vendor_names_in_code(sample) == ["3: 'itglue'", "6: ncentral", "7: f'{ncentral}'", "9: 'autotask'"]
    assert vendor_names_in_code(sample, "Table") == ["3: 'itglue'", "6: ncentral", "7: f'{ncentral}'"]
