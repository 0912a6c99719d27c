"""The one page loop (``Paginator.pages``): page tokens apart from resume tokens, ends, loops."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.sdk import Answer, Page, PaginationLoop, Paginator


class Vendor:
    """Answers a query page by page with opaque cursors that die with the query (Autotask's
    nextPageUrl): a read resumed after a crash cannot use them."""

    def __init__(self, ids: list[int], size: int) -> None:
        self.ids, self.size = ids, size
        self.cursors: dict[str, int] = {}
        self.counter = itertools.count()

    def restart(self) -> None:
        self.cursors.clear()  # the vendor forgot the cursors of the query that was cut short

    def page(self, token: Any) -> dict[str, Any]:
        if isinstance(token, str):
            offset = self.cursors.pop(token)  # KeyError: a stale cursor, as the vendor would refuse it
        else:
            after = token or 0
            offset = next((i for i, v in enumerate(self.ids) if v > after), len(self.ids))
        items = [{"id": v} for v in self.ids[offset : offset + self.size]]
        nxt = None
        if offset + self.size < len(self.ids):
            nxt = f"cursor-{next(self.counter)}"
            self.cursors[nxt] = offset + self.size
        return {"items": items, "next": nxt}


class KeysetPages(Paginator):
    """The page token is the vendor's cursor; the resume token is the last id read."""

    def restart(self, resume: Mapping[str, Any]) -> Any:
        return int(resume["after_id"])

    def next_token(self, response: Any, records: list[dict[str, Any]], token: Any) -> Any:
        return response["next"]

    def resume(self, response: Any, records: list[dict[str, Any]], token: Any, next_token: Any) -> dict[str, Any]:
        return {"after_id": records[-1]["id"]}


def read(vendor: Vendor, resume: dict[str, Any] | None = None) -> list[Page]:
    def fetch(token: Any) -> Answer:
        body = vendor.page(token)
        return Answer(body, body["items"])

    return list(KeysetPages().pages(fetch, resume))


@given(st.integers(0, 40), st.integers(1, 7), st.data())
def test_a_read_resumed_from_any_page_continues_exactly_after_it(count: int, size: int, data: st.DataObject) -> None:
    ids = sorted(data.draw(st.sets(st.integers(1, 10_000), min_size=count, max_size=count)))
    pages = read(Vendor(ids, size))
    assert [r["id"] for p in pages for r in p.records] == ids
    assert pages[-1].resume is None and all(p.resume is not None for p in pages[:-1])
    assert all(p.resume == {"after_id": p.records[-1]["id"]} for p in pages[:-1])  # never a page token
    if len(pages) > 1:
        crash = data.draw(st.integers(0, len(pages) - 2))
        vendor = Vendor(ids, size)
        read(vendor)
        vendor.restart()
        rest = read(vendor, pages[crash].resume)
        before = [r["id"] for p in pages[: crash + 1] for r in p.records]
        assert before + [r["id"] for p in rest for r in p.records] == ids


def test_the_default_resume_token_is_the_page_token() -> None:
    class Numbers(Paginator):
        def first(self) -> int:
            return 1

        def next_token(self, response: Any, records: list[dict[str, Any]], token: Any) -> Any:
            return token + 1 if token < 3 else None

    asked: list[int] = []

    def fetch(token: int) -> Answer:
        asked.append(token)
        return Answer(None, [{"id": token}], total=3)

    pages = list(Numbers().pages(fetch))
    assert [p.resume for p in pages] == [{"token": 2}, {"token": 3}, None] and asked == [1, 2, 3]
    assert {p.total for p in pages} == {3}
    asked.clear()
    assert [p.records for p in Numbers().pages(fetch, {"token": 3})] == [[{"id": 3}]] and asked == [3]


def test_an_answer_that_says_no_more_ends_the_read_without_asking_the_paginator() -> None:
    class Never(Paginator):
        def next_token(self, response: Any, records: list[dict[str, Any]], token: Any) -> Any:
            raise AssertionError("not asked after the last page")

    (page,) = Never().pages(lambda token: Answer(None, [{"id": 1}], more=False))
    assert page.resume is None


def test_a_token_handed_out_twice_stops_the_read() -> None:
    class Stuck(Paginator):
        def next_token(self, response: Any, records: list[dict[str, Any]], token: Any) -> Any:
            return "same"

    with pytest.raises(PaginationLoop, match="'same' was already followed"):
        list(Stuck().pages(lambda token: Answer(None, [])))
