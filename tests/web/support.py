"""Helpers of the console tests: a test client, the CSRF token of a page, signing in."""

from __future__ import annotations

import re
import warnings
from typing import Any

from hub.web.accounts import Role

with warnings.catch_warnings():  # Starlette would rather have httpx2; httpx is what the project pins
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PASSWORD = "correct horse battery staple"
PEOPLE = {"vera": Role.viewer, "otto": Role.operator, "ada": Role.admin}


def client(app: Any, **kwargs: Any) -> TestClient:
    return TestClient(app, **kwargs)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(app: Any, name: str, **kwargs: Any) -> tuple[TestClient, str]:
    """A client signed in as ``name`` and the CSRF token of its session."""
    c = client(app, **kwargs)
    page = c.get("/login")
    answer = c.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
                    follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    return c, csrf_of(c.get("/").text)
