"""Who may see and do what: sign-in, sessions, CSRF, roles, and the receiver's routes left open."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from starlette.routing import Mount, Route

from hub.app import Hub
from hub.clock import FakeClock
from hub.events.receiver import create_app
from hub.settings import load_settings
from hub.web.accounts import AccountStore, Role
from hub.web.app import Console, create_console, mount
from hub.web.tasks import TaskRunner
from tests.web.support import PASSWORD, TestClient, client, csrf_of, sign_in

BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
#: a value for each path parameter, so every route can be called
PARAMS = {"run_id": "0000aaaa-run", "job": "psa-to-docs", "task_id": "1", "letter_id": "1", "name": "vera",
          "step": "appointment", "event_id": "1", "what": "role"}  # fmt: skip


def console_routes(console: Console) -> list[tuple[str, str]]:
    """(method, path) of every console route, path parameters filled in."""
    found = []
    for route in create_console(console).routes:
        if isinstance(route, Mount):
            continue
        assert isinstance(route, Route)
        path = route.path
        for key, value in PARAMS.items():
            path = path.replace(f"{{{key}}}", value).replace(f"{{{key}:int}}", value)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, path))
    return found


def test_every_console_route_is_listed(console: Console) -> None:
    routes = console_routes(console)
    assert ("GET", "/") in routes and ("POST", "/sync/deadletters/1/retry") in routes
    assert all("{" not in path for _m, path in routes)


def test_anonymous_browser_goes_to_login_and_api_gets_401(app: Any, console: Console) -> None:
    c = client(app)
    for method, path in console_routes(console):
        if path == "/login":
            continue
        browser = c.request(method, path, headers=BROWSER, follow_redirects=False)
        assert browser.status_code == 303, (method, path)
        assert browser.headers["location"].startswith("/login?next=")
        api = c.request(method, path, follow_redirects=False)
        assert api.status_code == 401, (method, path)
        htmx = c.request(method, path, headers={**BROWSER, "HX-Request": "true"}, follow_redirects=False)
        assert htmx.status_code == 401 and htmx.headers["HX-Redirect"] == "/login", (method, path)


def test_static_login_and_the_receivers_routes_answer_without_a_session(app: Any) -> None:
    c = client(app)
    assert c.get("/login").status_code == 200
    assert c.get("/static/htmx.min.js").status_code == 200
    assert c.get("/static/console.css").status_code == 200
    assert c.get("/healthz").json()["status"] == "ok"
    assert c.get("/metrics").status_code == 200
    assert c.post("/webhooks/nosuch", content=b"{}").status_code == 404
    # a webhook route only takes POST: a GET is the receiver's 405, never the console
    assert c.get("/webhooks/docusign").status_code == 405


def test_a_viewer_reads_everything_but_cannot_change_anything(
    app: Any, console: Console, viewer: tuple[TestClient, str]
) -> None:
    c, token = viewer
    for method, path in console_routes(console):
        if path in ("/login", "/logout") or "/tasks/" in path or "/files/" in path or "/changed" in path:
            continue
        if "/runs/" in path or path.startswith("/workflows/start/"):
            continue  # need a real run or workflow; covered by the workflow tests
        answer = c.request(method, path, data={"csrf_token": token}, follow_redirects=False)
        if method == "GET":
            expected = 403 if path.startswith("/users") else 200
            assert answer.status_code == expected, (method, path)
        else:
            assert answer.status_code == 403, (method, path)


def test_every_post_needs_the_csrf_token(app: Any, console: Console, admin: tuple[TestClient, str]) -> None:
    c, token = admin
    for method, path in console_routes(console):
        if method != "POST" or path == "/login":
            continue
        missing = c.post(path, data={}, follow_redirects=False)
        assert missing.status_code == 403, path
        wrong = c.post(path, data={"csrf_token": token[:-4] + "0000"}, follow_redirects=False)
        assert wrong.status_code == 403, path


def test_a_token_of_another_session_is_refused(app: Any) -> None:
    _first, token = sign_in(app, "otto")
    second, _ = sign_in(app, "otto")
    assert second.post("/events/retry", data={"csrf_token": token}, follow_redirects=False).status_code == 403


def test_an_operator_acts_but_does_not_manage_people(operator: tuple[TestClient, str]) -> None:
    c, token = operator
    assert c.get("/users").status_code == 403
    refused = c.post("/users", data={"csrf_token": token, "name": "eve", "role": "admin", "password": "x" * 12,
                                     "password_again": "x" * 12}, follow_redirects=False)  # fmt: skip
    assert refused.status_code == 403
    retried = c.post("/events/retry", data={"csrf_token": token}, follow_redirects=False)
    assert retried.status_code == 303  # allowed (nothing to retry: said on the next page)


def test_login_refuses_a_wrong_password_and_a_form_without_its_token(app: Any) -> None:
    c = client(app)
    token = csrf_of(c.get("/login").text)
    wrong = c.post("/login", data={"username": "otto", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    assert c.get("/", headers=BROWSER, follow_redirects=False).status_code == 303
    tokenless = client(app).post("/login", data={"username": "otto", "password": PASSWORD})
    assert tokenless.status_code == 403


def test_login_is_rate_limited_per_name_and_per_address(hub: Hub, clock: FakeClock) -> None:
    timed = Hub(hub.settings, store=hub.store, clock=clock)
    console = Console(timed, tasks=TaskRunner(inline=True), action_wait=0)
    app = create_app(timed, console.events)
    mount(app, console)
    c = client(app)
    token = csrf_of(c.get("/login").text)
    for _ in range(console.limiter.attempts):
        assert c.post("/login", data={"username": "otto", "password": "guess", "csrf_token": token}).status_code == 401
    blocked = c.post("/login", data={"username": "otto", "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429 and "Too many failed sign-ins" in blocked.text
    # the same address trying another name is blocked too
    other = c.post("/login", data={"username": "vera", "password": PASSWORD, "csrf_token": token})
    assert other.status_code == 429
    # after the window, the right password works again
    clock.advance(console.limiter.window.total_seconds() + 1)
    again = c.post("/login", data={"username": "otto", "password": PASSWORD, "csrf_token": token},
                   follow_redirects=False)  # fmt: skip
    assert again.status_code == 303


def test_session_cookie_flags_and_secure_behind_https(app: Any) -> None:
    c = client(app)
    token = csrf_of(c.get("/login").text)
    answer = c.post("/login", data={"username": "otto", "password": PASSWORD, "csrf_token": token},
                    follow_redirects=False)  # fmt: skip
    cookie = answer.headers["set-cookie"]
    assert "hub_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie
    secure = client(app, base_url="https://hub.example")
    token = csrf_of(secure.get("/login").text)
    answer = secure.post("/login", data={"username": "otto", "password": PASSWORD, "csrf_token": token},
                         follow_redirects=False)  # fmt: skip
    assert "Secure" in answer.headers["set-cookie"]


def test_next_after_login_stays_on_this_site(app: Any) -> None:
    c = client(app)
    page = c.get("/login?next=//evil.example/x")
    assert 'value="/"' in page.text
    answer = c.post("/login", data={"username": "otto", "password": PASSWORD, "csrf_token": csrf_of(page.text),
                                    "next": "https://evil.example/"}, follow_redirects=False)  # fmt: skip
    assert answer.headers["location"] == "/"


def test_logout_ends_the_session(operator: tuple[TestClient, str]) -> None:
    c, token = operator
    assert c.post("/logout", data={"csrf_token": token}, follow_redirects=False).headers["location"] == "/login"
    assert c.get("/", headers=BROWSER, follow_redirects=False).status_code == 303


def test_removing_a_person_or_changing_their_password_ends_their_sessions(app: Any, hub: Hub) -> None:
    c, _ = sign_in(app, "otto")
    accounts = AccountStore(hub.store)
    accounts.set_password("otto", "another long password", actor="user:test")
    assert c.get("/", follow_redirects=False).status_code == 401
    c, _ = sign_in(app, "vera")
    accounts.remove("vera", actor="user:test")
    assert c.get("/", follow_redirects=False).status_code == 401


def test_a_role_change_takes_effect_at_the_next_click(app: Any, hub: Hub) -> None:
    c, token = sign_in(app, "otto")
    AccountStore(hub.store).set_role("otto", Role.viewer, actor="user:test")
    assert c.post("/events/retry", data={"csrf_token": token}, follow_redirects=False).status_code == 401
    c, token = sign_in(app, "otto")
    assert c.post("/events/retry", data={"csrf_token": token}, follow_redirects=False).status_code == 403


def test_a_tampered_session_cookie_is_refused(app: Any) -> None:
    c, _ = sign_in(app, "otto")
    value = c.cookies["hub_session"]
    c.cookies.set("hub_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert c.get("/", follow_redirects=False).status_code == 401


@pytest.mark.parametrize("trusted", [True, False])
def test_a_trusted_proxys_user_header(hub: Hub, monkeypatch: pytest.MonkeyPatch, trusted: bool) -> None:
    monkeypatch.setenv("HUB_CONSOLE__PROXY_USER_HEADER", "X-Forwarded-User")
    monkeypatch.setenv("HUB_CONSOLE__TRUSTED_PROXIES", "127.0.0.0/8" if trusted else "10.9.9.9")
    proxied = Hub(load_settings(), store=hub.store)
    console = Console(proxied, tasks=TaskRunner(inline=True), action_wait=0)
    app = create_app(proxied, console.events)
    mount(app, console)
    c = TestClient(app, client=("127.0.0.1", 5000))
    answer = c.get("/", headers={"X-Forwarded-User": "otto"}, follow_redirects=False)
    assert answer.status_code == (200 if trusted else 401)
    unknown = c.get("/", headers={"X-Forwarded-User": "mallory"}, follow_redirects=False)
    assert unknown.status_code == 401


class _Controls(HTMLParser):
    """Every form control of a page, the labels' targets, and the submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append(a)
        if tag == "label" and a.get("for"):
            self.labelled.add(str(a["for"]))


def test_every_form_control_has_a_label(app: Any, admin: tuple[TestClient, str]) -> None:
    c, _ = admin
    for path in ("/", "/sync", "/workflows", "/compliance", "/events", "/audit", "/connectors", "/users",
                 "/workflows/start/new-breakfix-customer"):  # fmt: skip
        parser = _Controls()
        parser.feed(c.get(path).text)
        for control in parser.controls:
            assert control.get("id") in parser.labelled or control.get("aria-label"), (path, control)
    login = _Controls()
    login.feed(client(app).get("/login").text)
    assert login.controls and all(x.get("id") in login.labelled for x in login.controls)


def test_hub_serve_mounts_the_console_unless_it_is_disabled(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.events.runtime import Runtime
    from hub.events.service import EventService
    from hub.web.app import attach

    service = EventService(Runtime(hub, workflow=None, sync=None, lifecycle=None))
    assert attach(service) is not None
    served = TestClient(service.app)
    assert served.get("/", follow_redirects=False).status_code == 401
    assert served.get("/healthz").status_code == 200
    monkeypatch.setenv("HUB_CONSOLE__ENABLED", "false")
    plain = EventService(Runtime(Hub(load_settings(), store=hub.store), workflow=None, sync=None, lifecycle=None))
    assert attach(plain) is None
    assert TestClient(plain.app).get("/").status_code == 404
