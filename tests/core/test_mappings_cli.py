"""`hub mappings validate [FILE]`: every problem of a mapping file, with file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.fakes import run_cli

ROOT = Path(__file__).resolve().parents[2]


def test_every_built_in_mapping_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["mappings", "validate", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] is True
    assert {f["connector"] for f in report["files"]} >= {"autotask", "itglue", "quickbooks", "docusign", "ncentral"}


def test_every_schema_problem_is_listed_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "itglue.yaml"
    path.write_text(
        "connector: itglue\n"
        "entities:\n"
        "  organizations:\n"
        "    kind: organisation\n"
        "    fields:\n"
        "      name: {vendor: attributes.name, transform: [shout]}\n"
        "      phone: {vendor: attributes.phone, nonsense: 1}\n"
    )
    code, out, _ = run_cli(["mappings", "validate", str(path)], capsys)
    assert code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith(f"{path}:4: entities.organizations.kind: unknown kind 'organisation'")
    assert lines[1].startswith(f"{path}:6: entities.organizations.fields.name.transform")
    assert lines[2] == f"{path}:7: entities.organizations.fields.phone.nonsense: Extra inputs are not permitted"


def test_a_file_is_checked_against_its_connector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    builtin = (ROOT / "connectors" / "itglue" / "mappings" / "itglue.yaml").read_text()
    path = tmp_path / "itglue.yaml"
    # the organizations entity renamed: IT Glue has no such entity, and psa-to-docs needs organizations
    path.write_text(builtin.replace("\n  organizations:\n", "\n  orgs:\n"))
    code, out, _ = run_cli(["mappings", "validate", str(path), "--json"], capsys)
    assert code == 2
    (entry,) = json.loads(out)["files"]
    assert entry["problems"] == [
        f"{path}: entities.orgs: itglue reads and writes no such entity; its entities: "
        + ", ".join(sorted(_itglue_entities()))
    ]
    path.write_text(builtin.replace("connector: itglue", "connector: autotask"))
    code, out, _ = run_cli(["mappings", "validate", str(path)], capsys)
    assert code == 2 and "connector: says 'autotask', expected 'itglue' (the file's name)" in out


def test_a_mapping_the_jobs_need_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    spec = yaml.safe_load((ROOT / "connectors" / "itglue" / "mappings" / "itglue.yaml").read_text())
    del spec["entities"]["contacts"]
    path = tmp_path / "itglue.yaml"
    path.write_text(yaml.safe_dump(spec))
    code, out, _ = run_cli(["mappings", "validate", str(path)], capsys)
    assert code == 2
    assert f"{path}: entities: no 'contacts', which job psa-to-docs (autotask.Contacts -> itglue.contacts) needs" in out


def test_a_file_named_after_no_connector_and_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "halopsa.yaml"
    path.write_text("connector: halopsa\nentities: {}\n")
    code, out, _ = run_cli(["mappings", "validate", str(path)], capsys)
    assert code == 2 and "no installed connector is named 'halopsa'" in out
    code, out, err = run_cli(["mappings", "validate", str(tmp_path / "nope.yaml")], capsys)
    assert (code, out) == (2, "") and err.strip() == f"hub: {tmp_path / 'nope.yaml'}: no such file"


def test_the_users_folder_is_what_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "maps"
    folder.mkdir()
    (folder / "autotask.yaml").write_text("connector: autotask\nentities: [\n")
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(folder))
    code, out, _ = run_cli(["mappings", "validate"], capsys)
    assert code == 2
    assert f"{folder / 'autotask.yaml'}:3: not valid YAML" in out
    assert "mappings/itglue.yaml: ok (itglue)" in out


def _itglue_entities() -> set[str]:
    from hub.plugins import HubPlugins

    cls = HubPlugins().connector_class("itglue")
    return {s.entity or s.name for s in cls.stream_classes} | set(cls.writable)
