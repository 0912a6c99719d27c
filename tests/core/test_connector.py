"""Connector base: paginators with loop detection, RESTStream resume, capabilities, actions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from pydantic import BaseModel

from hub.connector import (
    ActionContext,
    CheckResult,
    Connector,
    ConnectorContext,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PaginationLoop,
    RESTStream,
    action,
    parse_timestamp,
)
from hub.settings import ConnectorSettings

BASE = "https://vendor.example.test"


class Items(RESTStream):
    name = "items"
    kind = "organization"
    cursor_field = "updated"

    def paginator(self) -> NextUrlPaginator:
        return NextUrlPaginator(lambda body: body.get("next"))

    def request(self, since: Any, token: Any) -> httpx.Response:
        return self.client().get(token or "/items")

    def parse_records(self, response: httpx.Response) -> list[dict[str, Any]]:
        return response.json()["items"]


class Params(BaseModel):
    who: str


class Demo(Connector):
    name = "demo"
    settings_model = ConnectorSettings
    stream_classes = [Items]
    writable = {"items": "organization"}

    def client(self):
        if not hasattr(self, "_c"):
            self._c = self.make_client(BASE)
        return self._c

    def check(self) -> CheckResult:
        return CheckResult(True)

    @action("greet", params=Params)
    def greet(self, params: Params, ctx: ActionContext) -> dict[str, Any]:
        """Say hello once per step."""
        return {"hello": params.who, "key": ctx.idempotency_key}


def demo() -> Demo:
    return Demo(ConnectorSettings(), ConnectorContext())


def test_next_url_pages_and_resume(respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{BASE}/items").mock(
        return_value=httpx.Response(200, json={"items": [{"id": 1}], "next": f"{BASE}/p2"})
    )
    respx_mock.get(f"{BASE}/p2").mock(
        return_value=httpx.Response(200, json={"items": [{"id": 2}], "next": f"{BASE}/p3"})
    )
    respx_mock.get(f"{BASE}/p3").mock(return_value=httpx.Response(200, json={"items": [{"id": 3}], "next": None}))
    pages = list(demo().stream("items").read())
    assert [[r["id"] for r in p.records] for p in pages] == [[1], [2], [3]]
    assert pages[0].resume == {"token": f"{BASE}/p2"} and pages[-1].resume is None
    resumed = list(demo().stream("items").read(resume=pages[0].resume))
    assert [r["id"] for p in resumed for r in p.records] == [2, 3]


def test_pagination_loop_is_detected(respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{BASE}/items").mock(return_value=httpx.Response(200, json={"items": [], "next": f"{BASE}/p2"}))
    respx_mock.get(f"{BASE}/p2").mock(return_value=httpx.Response(200, json={"items": [], "next": f"{BASE}/p2"}))
    with pytest.raises(PaginationLoop):
        list(demo().stream("items").read())


def test_page_number_and_offset_paginators() -> None:
    resp = httpx.Response(200, json={"meta": {"total-pages": 2}})
    p = PageNumberPaginator(10, total_pages=lambda b: b["meta"]["total-pages"])
    assert p.advance(resp, [], 1) == 2 and p.advance(resp, [], 2) is None
    short = PageNumberPaginator(2)
    assert short.advance(resp, [{}, {}], 1) == 2 and short.advance(resp, [{}], 2) is None
    o = OffsetPaginator(100)
    assert o.first() == 1 and o.advance(resp, [{}] * 100, 1) == 101 and o.advance(resp, [{}], 101) is None


def test_capabilities_without_settings_and_bound_actions() -> None:
    caps = Demo.capabilities()
    assert caps["streams"] == [{"name": "items", "kind": "organization", "cursor": "updated"}]
    assert caps["actions"] == ["greet"] and caps["writes"] == {"items": "organization"}
    act = demo().action("greet")
    assert act.description == "Say hello once per step."
    ctx = ActionContext("run1", "step1", documents_root=None, state=None)  # type: ignore[arg-type]
    assert act.run(Params(who="Ann"), ctx) == {"hello": "Ann", "key": "run1:step1"}


def test_unknown_stream_or_action_lists_the_known_ones() -> None:
    from hub.errors import ConfigError

    with pytest.raises(ConfigError, match="streams: items"):
        demo().stream("nope")
    with pytest.raises(ConfigError, match="actions: greet"):
        demo().action("nope")


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05+00:00"),
        ("2026-01-02T03:04:05.123", "2026-01-02T03:04:05.123000+00:00"),
        ("2026-01-02T03:04:05-05:00", "2026-01-02T03:04:05-05:00"),
    ],
)
def test_parse_timestamp(raw: str, iso: str) -> None:
    assert parse_timestamp(raw).isoformat() == iso  # type: ignore[union-attr]
    assert parse_timestamp(None) is None
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_timestamp("yesterday")
