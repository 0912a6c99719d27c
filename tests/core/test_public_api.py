"""Built-in connectors import only the public plugin API, as a third party must."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {"hub.sdk", "hub.testing"}


def hub_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "hub"]
        else:
            continue
        for name in names:
            if (name == "hub" or name.startswith("hub.")) and not any(
                name == ok or name.startswith(ok + ".") for ok in ALLOWED
            ):
                if isinstance(node, ast.ImportFrom) and node.module == "hub" and name == "hub":
                    continue
                found.append((node.lineno, name))
    return found


def test_connectors_import_only_the_public_api() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for path in sorted((ROOT / "connectors").rglob("*.py"))
        for line, name in hub_imports(path)
    ]
    assert offenders == [], "connectors must import only hub.sdk / hub.testing:\n" + "\n".join(offenders)


def test_the_check_catches_a_private_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from hub.http import HttpClient\nimport hub.state.store\nfrom hub import sdk\nfrom hub.sdk import Connector\n"
    )
    assert [n for _, n in hub_imports(bad)] == ["hub.http", "hub.state.store"]


def test_sdk_exports_resolve() -> None:
    import hub.sdk

    missing = [name for name in hub.sdk.__all__ if not hasattr(hub.sdk, name)]
    assert missing == []
