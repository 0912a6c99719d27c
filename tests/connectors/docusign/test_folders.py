"""Client folder names (reversible, never outside the root) and never-overwriting atomic saves."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.folders import client_folder, decode_name, encode_name, save_new_file
from hub.sdk import ConfigError

names = st.text(min_size=1, max_size=60).filter(lambda s: s.strip() != "")


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("Acme Dental, Inc.", "Acme Dental, Inc."),
        ("Acme / Widgets: East", "Acme %2F Widgets%3A East"),
        ("C:\\temp", "C%3A%5Ctemp"),
        ("..", "%2E."),
        (".hidden", "%2Ehidden"),
        ("100% Uptime", "100%25 Uptime"),
        ("nul\x00byte", "nul%00byte"),
        ("Café Zürich", "Café Zürich"),
    ],
)
def test_documented_examples(name: str, folder: str) -> None:
    assert encode_name(name) == folder
    assert decode_name(folder) == name


@given(name=names)
def test_encoding_is_reversible_and_file_system_safe(name: str) -> None:
    encoded = encode_name(name)
    assert decode_name(encoded) == name
    assert "/" not in encoded and "\\" not in encoded and ":" not in encoded and "\x00" not in encoded
    assert not encoded.startswith(".")
    assert encoded not in (".", "..")


@settings(max_examples=60, deadline=None)
@given(name=names)
def test_nothing_is_written_outside_the_root(name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        folder = client_folder(root, name)
        assert folder.parent == root.resolve()
        saved = save_new_file(folder, name, b"%PDF-1.4 x")
        assert saved.path.resolve().parent == folder
        assert [p for p in Path(tmp).iterdir()] == [root]


def test_empty_and_overlong_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be empty"):
        client_folder(tmp_path, "   ")
    with pytest.raises(ConfigError, match="too long"):
        client_folder(tmp_path, "/" * 100)  # 300 characters once encoded


def test_a_symlinked_client_folder_is_refused(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "Acme").symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="leads outside"):
        client_folder(root, "Acme")


def test_new_versions_get_new_names_and_same_bytes_are_reused(tmp_path: Path) -> None:
    first = save_new_file(tmp_path, "Terms.pdf", b"%PDF-one")
    second = save_new_file(tmp_path, "Terms.pdf", b"%PDF-two")
    third = save_new_file(tmp_path, "Terms.pdf", b"%PDF-three")
    again = save_new_file(tmp_path, "Terms.pdf", b"%PDF-two")
    assert [first.path.name, second.path.name, third.path.name] == [
        "Terms.pdf",
        "Terms (2).pdf",
        "Terms (3).pdf",
    ]
    assert again.path == second.path and again.reused
    assert first.path.read_bytes() == b"%PDF-one"  # never overwritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Terms (2).pdf", "Terms (3).pdf", "Terms.pdf"]


def test_a_name_without_extension_is_versioned_too(tmp_path: Path) -> None:
    save_new_file(tmp_path, "README", b"a")
    assert save_new_file(tmp_path, "README", b"b").path.name == "README (2)"
