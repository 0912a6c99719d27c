"""The vendor's OpenAPI 3.0 spec, loaded for openapi-core, and where it is completed.

The simulator checks every request it receives against the spec as published
(``spec/ninjaone-public-api-2.0.openapi.yaml``), so the connector and the simulator cannot
share a wrong belief about paths, methods or parameters. What the spec lacks:

* a ``servers`` block: every instance (``app``, ``eu``, ``ca``, ``oc``, ``us2``) serves the
  same ``/v2`` paths at its root, so the server becomes the relative ``/``, which matches
  whatever host the simulator is served on;
* the OAuth token endpoint (``/ws/oauth/token``), which is outside the spec (see
  :mod:`.auth`); the spec only says calls carry a bearer token (``securitySchemes.oauth2``).

openapi-core is told not to validate the document itself (it is valid, but checking 460 kB
of YAML costs a second per process for nothing).
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openapi_core import Config, OpenAPI

__all__ = ["SPEC_FILE", "checker", "spec_document"]

SPEC_FILE = Path(__file__).parent / "spec" / "ninjaone-public-api-2.0.openapi.yaml"
#: libyaml's loader when PyYAML was built with it (ten times faster on this file)
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def spec_document() -> dict[str, Any]:
    """The spec as published (parsed once; callers must not change it)."""
    with SPEC_FILE.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_LOADER)  # noqa: S506 - a safe loader
    return document


@cache
def checker() -> OpenAPI:
    """openapi-core over the spec served from any host, for requests and (in tests) answers."""
    document = copy.deepcopy(spec_document())
    document["servers"] = [{"url": "/", "description": "any NinjaOne instance"}]
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))
