"""The built-in connectors ship their mapping files as any plugin does (``hub_mapping_dirs``)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

from hub.app import Hub
from hub.errors import ConfigError
from hub.mapping import NoMappingFile, load_mapping
from hub.plugins import HubPlugins
from hub.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(ROOT.glob("connectors/*/mappings/*.yaml"))


def test_each_connector_package_ships_its_own_mapping_through_the_hook() -> None:
    plugins = HubPlugins()
    dirs = plugins.mapping_dirs()
    assert {d.resolve() for d in dirs} == {p.parent.resolve() for p in SHIPPED}
    for path in SHIPPED:
        assert path.stem == path.parent.parent.name  # connectors/<name>/mappings/<name>.yaml
        assert load_mapping(path.stem, dirs).path.resolve() == path.resolve()
    assert not (ROOT / "mappings").exists(), "no top-level mappings package: a connector ships its own"
    with pytest.raises(NoMappingFile):
        load_mapping("autotask")  # nothing is found where no folder is given


def test_a_file_in_hub_mappings_dir_replaces_the_shipped_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = (ROOT / "connectors" / "itglue" / "mappings" / "itglue.yaml").read_text()
    (tmp_path / "itglue.yaml").write_text(shipped.replace("transform: [trim]}", "transform: [trim, upper]}", 1))
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path))
    with Hub(load_settings()) as hub:
        assert hub.mapping("itglue").path == tmp_path / "itglue.yaml"
        assert hub.mapping("autotask").path.parent.parent.name == "autotask"  # the others stay shipped
        org = hub.mapping("itglue").entity("organizations").to_core({"id": "1", "attributes": {"name": " acme "}})
        assert org.name == "ACME"  # type: ignore[attr-defined]
    other = tmp_path / "other"
    other.mkdir()
    (other / "itglue.yaml").write_text("connector: autotask\nentities: {}\n")
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(other))
    with Hub(load_settings()) as hub, pytest.raises(ConfigError, match="connector: says 'autotask'"):
        hub.mapping("itglue")


def test_the_wheel_carries_every_mapping_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["connectors"]
    assert "mappings*" not in config["packages"]["find"]["include"]
    for path in SHIPPED:
        relative = path.relative_to(ROOT / "connectors").as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), f"{relative} is not package data"
