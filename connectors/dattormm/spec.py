"""The vendor's OpenAPI 3.1 spec, loaded for openapi-core, and where it is corrected.

The simulator checks every request it receives against the spec as published
(``spec/datto-rmm-api-v2.openapi.json``), so the connector and the simulator cannot share
a wrong belief about paths, methods or parameters. Corrections, each because the spec
cannot be right as written:

* the spec is not itself valid OpenAPI (component names such as ``Variable Creation
  Request`` contain spaces), so openapi-core is told not to validate the document;
* ``servers`` names one platform (``https://syrah-api.centrastage.net/api``) while every
  platform serves the same API: the server becomes the relative ``/api``, which matches
  whatever host the simulator is served on;
* (checking *answers* only) ``PaginationData.nextPageUrl`` / ``prevPageUrl`` are typed
  ``string``, yet the last page answers null (public clients loop "until nextPageUrl is
  null"): they may be null; and ``Alert.alertContext`` is a ``oneOf`` of context schemas
  that all accept any object with an ``@class`` (the discriminator has no mapping), so no
  context can match exactly one: it becomes ``anyOf``.

Authentication is outside the spec (no ``securitySchemes``); see :mod:`.auth`.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from openapi_core import Config, OpenAPI

from .paging import API_PREFIX

__all__ = ["SPEC_FILE", "request_checker", "response_checker", "spec_document"]

SPEC_FILE = Path(__file__).parent / "spec" / "datto-rmm-api-v2.openapi.json"


@cache
def spec_document() -> dict[str, Any]:
    """The spec as published (parsed once; callers must not change it)."""
    document: dict[str, Any] = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    return document


def _any_host(document: dict[str, Any]) -> dict[str, Any]:
    corrected = copy.deepcopy(document)
    corrected["servers"] = [{"url": API_PREFIX, "description": "any Datto RMM platform"}]
    return corrected


@cache
def request_checker() -> OpenAPI:
    """openapi-core over the published spec, for the requests the simulator receives."""
    return OpenAPI.from_dict(_any_host(spec_document()), config=Config(spec_validator_cls=None))


@cache
def response_checker() -> OpenAPI:
    """openapi-core over the spec with the answer corrections above, for the simulator's tests."""
    document = _any_host(spec_document())
    schemas = document["components"]["schemas"]
    for link in ("nextPageUrl", "prevPageUrl"):
        schemas["PaginationData"]["properties"][link]["type"] = ["string", "null"]
    context = schemas["Alert"]["properties"]["alertContext"]
    context["anyOf"] = context.pop("oneOf")
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))
