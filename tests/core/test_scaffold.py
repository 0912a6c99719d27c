"""`hub new-connector`: the generated package installs, passes the contract suite at once,
and the suite fails a deliberately broken connector with messages that say what to fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.scaffold import scaffold
from tests.core.fakes import run_cli


def install_and_test(package: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Install the package (not editable, into its own target folder) and run its tests."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), str(package)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["PYTHONPATH"] = str(target)
    env["HUB_STATE_URL"] = f"sqlite:///{tmp_path / 'state.sqlite'}"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-W", "error::pytest.PytestRemovedIn10Warning"],
        cwd=package, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_scaffolded_package_passes_the_contract_suite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["new-connector", "acme_rmm", "--dir", str(tmp_path)], capsys)
    assert code == 0, err
    package = tmp_path / "msp-hub-acme-rmm"
    assert f"created {package}" in out
    assert (package / "msp_hub_acme_rmm" / "connector.py").is_file()
    assert 'acme_rmm = "msp_hub_acme_rmm.plugin"' in (package / "pyproject.toml").read_text()
    result = install_and_test(package, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout


BREAKAGES = {
    # a secret setting declared as a plain string
    ("connector.py", "    api_key: SecretStr = Field("): "    api_key: str = Field(",
    ("connector.py", "self.settings.api_key.get_secret_value()"): "self.settings.api_key",
    # pagination that stops after the first page
    ("connector.py", 'total_pages=lambda body: body["meta"]["total_pages"]'): "total_pages=lambda body: 1",
    # `since` ignored
    ("connector.py", 'params["updated_since"] = since.isoformat()'): "pass",
    # the secret logged in an event text
    ("connector.py", "        me = self.client()"): '        self.log.info(f"checking with {self.settings.api_key}")\n'
    "        me = self.client()",
    # a mocked route nothing calls
    ("fake_api.py", "        return router\n"): (
        '        router.delete("/api/v1/customers", name="dead").mock(return_value=httpx.Response(204))\n'
        "        return router\n"
    ),
}

EXPECTED_MESSAGES = [
    "look secret but are not SecretStr",
    "pagination stops early or skips pages",
    "returned records changed before since",
    "a secret setting's value appeared in the logs",
    "mocked routes never called",
]


def test_a_broken_connector_fails_with_messages_that_say_what_to_fix(tmp_path: Path) -> None:
    package = scaffold("broken_one", tmp_path)
    source = package / "msp_hub_broken_one"
    for (filename, old), new in BREAKAGES.items():
        path = source / filename
        text = path.read_text()
        assert old in text, f"template changed: {old!r} not in {filename}"
        path.write_text(text.replace(old, new))
    result = install_and_test(package, tmp_path)
    assert result.returncode != 0
    for message in EXPECTED_MESSAGES:
        assert message in result.stdout, f"missing {message!r} in:\n{result.stdout[-4000:]}"


@pytest.mark.parametrize("name", ["Bad", "1abc", "with-dash", "class", "x"])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="lower-case identifier"):
        scaffold(name, tmp_path)


def test_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    scaffold("twice", tmp_path)
    with pytest.raises(ConfigError, match="already exists"):
        scaffold("twice", tmp_path)
