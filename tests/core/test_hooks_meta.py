"""Meta-tests (after datasette): every hook spec is documented and exercised by a test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def hook_specs() -> dict[str, str | None]:
    tree = ast.parse((ROOT / "hub" / "hookspecs.py").read_text())
    return {
        node.name: ast.get_docstring(node)
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("hub_")
    }


SPECS = hook_specs()


def test_the_specs_are_the_ones_pluggy_sees() -> None:
    import pluggy

    from hub import hookspecs

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    assert set(SPECS) == {name for name in dir(pm.hook) if name.startswith("hub_")}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_has_a_docstring(name: str) -> None:
    doc = SPECS[name]
    assert doc and len(doc.split()) >= 8, f"{name} needs a docstring that says when it is called and what to return"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_is_documented(name: str) -> None:
    docs = (ROOT / "docs" / "plugins.md").read_text()
    assert f"### {name}" in docs, f"{name} is missing from docs/plugins.md"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_is_exercised_by_a_test(name: str) -> None:
    here = Path(__file__).resolve()
    implemented = [
        p for p in (ROOT / "tests").rglob("*.py") if p != here and re.search(rf"def {name}\(", p.read_text())
    ]
    assert implemented, f"no test implements {name}: add one that runs the code path calling it"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_has_one_typed_method_on_the_plugin_manager(name: str) -> None:
    """After tox's plugin manager: the hub calls ``HubPlugins.<hook without hub_>``, with the
    spec's own parameters and annotated types, never pluggy's untyped ``hook``."""
    import inspect

    from hub import hookspecs
    from hub.plugins import HubPlugins

    method = getattr(HubPlugins, name.removeprefix("hub_"), None)
    assert callable(method), f"HubPlugins has no {name.removeprefix('hub_')}() for {name}"
    spec = inspect.signature(getattr(hookspecs, name))
    facade = inspect.signature(method)
    assert list(facade.parameters)[1:] == list(spec.parameters)
    assert all(p.annotation is not inspect.Parameter.empty for p in facade.parameters.values() if p.name != "self")
    assert facade.return_annotation is not inspect.Parameter.empty
    assert not hasattr(HubPlugins, "hook"), "callers go through the typed methods"
