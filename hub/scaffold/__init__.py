"""``hub new-connector``: write a pip-installable third-party connector package.

The template (``template/``, files ending in ``.tmpl``) is a working connector against
an example API, with respx fixtures and the contract suite wired in, so the generated
package's tests pass at once; the author then replaces the example API with the vendor's.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from hub.errors import ConfigError

__all__ = ["render", "scaffold"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def _placeholders(name: str) -> dict[str, str]:
    camel = "".join(part.capitalize() for part in name.split("_"))
    return {
        "__PKG__": f"msp_hub_{name}",
        "__DIST__": f"msp-hub-{name.replace('_', '-')}",
        "__CLASS__": camel,
        "__TITLE__": camel,
        "__UPPER__": name.upper(),
        "__NAME__": name,
    }


def render(text: str, name: str) -> str:
    for placeholder, value in _placeholders(name).items():
        text = text.replace(placeholder, value)
    return text


def scaffold(name: str, directory: Path) -> Path:
    """Write the package for connector ``name`` into ``directory/msp-hub-<name>``; returns its path."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ConfigError(
            f"connector name {name!r} must be a lower-case identifier of 2-40 letters, digits or '_' "
            "starting with a letter (it becomes HUB_<NAME>__* settings)"
        )
    target = directory / _placeholders(name)["__DIST__"]
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"{target} already exists and is not empty; choose another --dir")
    for relative, text in _files(resources.files("hub.scaffold") / "template", ""):
        out = target / render(relative.removesuffix(".tmpl"), name)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(text, name), encoding="utf-8")
    return target


def _files(folder: Traversable, prefix: str) -> Iterator[tuple[str, str]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        relative = f"{prefix}{entry.name}"
        if entry.is_dir():
            yield from _files(entry, relative + "/")
        elif entry.name.endswith(".tmpl"):
            yield relative, entry.read_text(encoding="utf-8")
