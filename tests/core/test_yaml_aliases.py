"""User YAML (workflows, mappings, hub.yaml) refuses aliases: no alias bomb, no endless self-reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.fakes import run_cli

BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""

SELF = """\
name: loop
steps: &steps
  - id: one
    check: {that: "true"}
    more: *steps
"""


@pytest.mark.parametrize(("text", "line"), [(BOMB, 2), (SELF, 5)])
def test_a_workflow_with_an_alias_is_refused_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int
) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    code, _out, err = run_cli(["workflow", "validate", str(path)], capsys)
    assert code == 2
    assert f"{path}:{line}:" in err and "aliases (*" in err and "not allowed" in err


def test_hub_yaml_with_an_alias_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(BOMB)
    monkeypatch.setenv("HUB_CONFIG_FILE", str(path))
    code, _out, err = run_cli(["config", "show"], capsys)
    assert code == 2 and f"{path}:2:" in err and "aliases" in err
