"""No id of any one tenant ships in a mapping or a workflow: names and labels only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*ROOT.glob("connectors/*/mappings/*.yaml"), *(ROOT / "hub" / "workflows").glob("*.yaml")])
#: keys that hold a record's id or a picklist code when they hold a number
ID_KEY = re.compile(r"(ID|Id|_id)$|resource|technician|role|product|owner|queue|status|priority|type$", re.IGNORECASE)
#: numbers that are flags or quantities, not ids: allowed under these keys
NOT_IDS = {"isActive", "version", "max_machine_age", "computers", "servers", "machine_age"}


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}" if path else str(key))
            yield path, str(key), value
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_no_number_that_is_a_tenant_s_id(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    found = []
    for where, key, value in _walk(data):
        if isinstance(value, bool) or key in NOT_IDS:
            continue
        if isinstance(value, int) and (ID_KEY.search(key) or where.endswith("constants")):
            found.append(f"{where}.{key}: {value}")
        if isinstance(value, str) and re.fullmatch(r"\s*\d{5,}\s*", value):
            found.append(f"{where}.{key}: {value!r}")
    assert found == [], f"{path.name} ships ids of one tenant; name them by name or label: {found}"


def test_the_scan_finds_what_the_shipped_files_used_to_carry(tmp_path: Path) -> None:
    """The guard on the test above: the ids issue 17 found are caught."""
    data = {
        "entities": {"ConfigurationItems": {"constants": {"productID": 232, "isActive": True}}},
        "vars": {"default_technician": 29682886, "technician_role": "29682833"},
    }
    found = [
        (key, value)
        for _, key, value in _walk(data)
        if (isinstance(value, int) and not isinstance(value, bool) and ID_KEY.search(key))
        or (isinstance(value, str) and value.isdigit() and len(value) >= 5)
    ]
    assert sorted(found) == [("default_technician", 29682886), ("productID", 232), ("technician_role", "29682833")]
