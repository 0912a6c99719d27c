"""The README's settings reference is the settings models' (regenerate with `make readme`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_readme_lists_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "scripts" / "update_readme_settings.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    current = (ROOT / "README.md").read_text(encoding="utf-8")
    assert module.render(current) == current, "README settings are stale: run `make readme`"


def test_readme_gives_the_two_commands_first() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.index("make demo") < text.index("## ") and text.index("make test") < text.index("## ")
