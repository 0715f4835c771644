"""Auto-pagination: Link headers, paths into answers, merging, next-page requests and the bounds."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mcp_gateway.errors import UpstreamError
from mcp_gateway.exchange import Reply, RequestParts
from mcp_gateway.pagination import (
    at_path,
    link_request,
    next_link,
    read_pages,
    with_items,
    with_query,
)
from mcp_gateway.plan import PagePlan

BASE = "https://api.example.com/v1"


def test_next_link_follows_rfc_8288():
    header = ('<https://api.example.com/v1/items?page=1>; rel="prev", '
              '<https://api.example.com/v1/items?page=3>; rel="next", <https://api.example.com/v1/items?page=9>; '
              'rel="last"')
    assert next_link(header) == "https://api.example.com/v1/items?page=3"
    assert next_link('</items?page=2>; title="a, b; c"; REL="Next"') == "/items?page=2"  # case, quoted commas
    assert next_link('<https://x/2>; rel="prefetch next"') == "https://x/2"  # one of several relation types
    assert next_link("<https://x/2>; rel=next") == "https://x/2"  # a token, unquoted
    assert next_link('<https://x/1>; rel="last", <https://x/2>; rel="nextish"') is None
    assert next_link("") is None and next_link("garbage") is None


def test_paths_into_answers_and_merging():
    page = {"data": {"items": [1, 2]}, "meta": {"next": "c2"}}
    assert at_path(page, "data.items") == [1, 2] and at_path(page, "meta.next") == "c2"
    assert at_path(page, "data.missing.deeper") is None and at_path([1], None) == [1]
    merged = with_items(page, "data.items", [1, 2, 3])
    assert merged == {"data": {"items": [1, 2, 3]}, "meta": {"next": "c2"}}
    assert page["data"]["items"] == [1, 2]  # the page itself is untouched
    assert with_items([1], None, [1, 2]) == [1, 2]


def test_link_requests_stay_on_the_base_origin_and_leave_credentials_to_the_upstream():
    parts = RequestParts("GET", "/items", [("page", "1")], {"X-Trace": "t"})
    request = link_request(parts, "/other/items?page=2&api_key=***", f"{BASE}/items?page=1", BASE, {"api_key"})
    assert request is not None
    following, base = request
    assert (base, following.path, following.query) == ("https://api.example.com", "/other/items", [("page", "2")])
    assert following.headers == {"X-Trace": "t"} and parts.query == [("page", "1")]  # same headers, parts untouched
    assert link_request(parts, "https://evil.example.com/items?page=2", f"{BASE}/items", BASE, ()) is None
    assert link_request(parts, "http://api.example.com/items?page=2", f"{BASE}/items", BASE, ()) is None
    assert link_request(parts, "https://api.example.com:8443/items", f"{BASE}/items", BASE, ()) is None


def test_a_cursor_replaces_its_parameter():
    parts = RequestParts("GET", "/items", [("limit", "10"), ("cursor", "old")])
    assert with_query(parts, "cursor", "c2").query == [("limit", "10"), ("cursor", "c2")]
    assert with_query(parts, "after", 42).query[-1] == ("after", "42")


def _reply(data: Any, link: str | None = None, status: int = 200, url: str = f"{BASE}/items") -> Reply:
    body = json.dumps(data).encode()
    headers = httpx.Headers({"content-type": "application/json", **({"link": link} if link else {})})
    return Reply(status=status, reason="OK", headers=headers, body=body, total_bytes=len(body), url=url)


class Pages:
    """A fake upstream of numbered pages, `size` items each, `last` pages in all, in Link or cursor style."""

    def __init__(self, last: int, cursor: bool = False, fail_at: int | None = None) -> None:
        self.last, self.cursor, self.fail_at = last, cursor, fail_at
        self.asked: list[RequestParts] = []

    def page(self, number: int) -> Reply:
        items = [{"id": 10 * number + i} for i in range(2)]
        following = number + 1 if number < self.last else None
        if self.cursor:
            return _reply({"data": items, "next": f"c{following}" if following else None})
        return _reply(items, f'<{BASE}/items?page={following}>; rel="next"' if following else None)

    async def fetch(self, parts: RequestParts, base: str) -> Reply:
        self.asked.append(parts)
        number = int(dict(parts.query).get("page") or dict(parts.query)["cursor"][1:])
        if number == self.fail_at:
            raise UpstreamError("timed out")
        return self.page(number)


CURSOR = dict(items="data", cursor="next", cursor_param="cursor")


@pytest.mark.anyio
async def test_pages_are_read_up_to_the_page_bound_and_merged():
    upstream = Pages(last=5)
    pages = await read_pages(PagePlan(max_pages=3), RequestParts("GET", "/items"), upstream.page(1), BASE,
                             upstream.fetch, 1_000_000)
    assert pages is not None
    assert [item["id"] for item in pages.data] == [10, 11, 20, 21, 30, 31]
    assert (pages.read, pages.more, pages.next_page) == (3, True, "page=4")
    assert "3 read" in pages.note(PagePlan(max_pages=3), 1_000_000) and len(upstream.asked) == 2


@pytest.mark.anyio
async def test_the_byte_bound_stops_the_reading():
    upstream = Pages(last=9, cursor=True)
    size = len(upstream.page(1).body)
    pages = await read_pages(PagePlan(max_pages=9, **CURSOR), RequestParts("GET", "/items"), upstream.page(1), BASE,
                             upstream.fetch, 2 * size)
    assert pages is not None and (pages.read, pages.more, pages.next_page) == (2, True, "cursor=c3")
    assert pages.data == {"data": [{"id": 10}, {"id": 11}, {"id": 20}, {"id": 21}], "next": "c2"}


@pytest.mark.anyio
async def test_the_last_page_ends_the_reading():
    upstream = Pages(last=2, cursor=True)
    pages = await read_pages(PagePlan(max_pages=9, **CURSOR), RequestParts("GET", "/items"), upstream.page(1), BASE,
                             upstream.fetch, 1_000_000)
    assert pages is not None and (pages.read, pages.more) == (2, False)
    assert "no more pages" in pages.note(PagePlan(max_pages=9), 1_000_000)


@pytest.mark.anyio
async def test_a_failed_page_keeps_what_was_read_and_says_more_remain():
    upstream = Pages(last=5, fail_at=3)
    pages = await read_pages(PagePlan(max_pages=5), RequestParts("GET", "/items"), upstream.page(1), BASE,
                             upstream.fetch, 1_000_000)
    assert pages is not None and pages.read == 2 and pages.more
    assert pages.stopped == "page 3 failed (timed out)" and pages.next_page == "page=3"


@pytest.mark.anyio
async def test_a_repeated_cursor_stops_the_reading():
    async def fetch(parts: RequestParts, base: str) -> Reply:
        return _reply({"data": [1], "next": "same"})

    first = _reply({"data": [0], "next": "same"})
    pages = await read_pages(PagePlan(max_pages=9, **CURSOR), RequestParts("GET", "/items"), first, BASE, fetch,
                             1_000_000)
    assert pages is not None and pages.read == 2 and "pointed back" in pages.stopped


def _raw(body: bytes, content_type: str, total: int | None = None) -> Reply:
    return Reply(status=200, reason="OK", headers=httpx.Headers({"content-type": content_type}), body=body,
                 total_bytes=len(body) if total is None else total, url=BASE)


@pytest.mark.anyio
@pytest.mark.parametrize("first", [
    _reply({"no": "list"}),  # no item list where the plan says
    _raw(b"[1]", "text/plain"),  # not JSON
    _raw(b"[1,", "application/json", total=9),  # cut at the size limit
])
async def test_a_first_page_without_an_item_list_is_answered_as_it_is(first):
    async def fetch(parts: RequestParts, base: str) -> Reply:
        raise AssertionError("no next page is asked for")

    assert await read_pages(PagePlan(max_pages=3), RequestParts("GET", "/items"), first, BASE, fetch, 1000) is None


@pytest.mark.anyio
@pytest.mark.parametrize("more", ["has_next", None])
async def test_a_page_number_is_counted_up_while_the_answer_says_more_remain(more):
    """Lium's `GET /backup-logs/`: `{"items": [...], "has_next": true}` and `page=N`; without `more`, an empty
    page is the end."""
    async def fetch(parts: RequestParts, base: str) -> Reply:
        asked.append(dict(parts.query))
        number = int(dict(parts.query)["page"])
        return _reply({"items": [number] if number <= 4 else [], "has_next": number < 4})

    asked: list[dict[str, str]] = []
    plan = PagePlan(max_pages=9, items="items", page_param="page", more=more)
    first = _reply({"items": [1], "has_next": True})
    pages = await read_pages(plan, RequestParts("GET", "/backup-logs/", [("limit", "1")]), first, BASE, fetch, 10_000)
    assert pages is not None and not pages.more
    assert pages.data == {"items": [1, 2, 3, 4], "has_next": True}
    assert asked[0] == {"limit": "1", "page": "2"}
    assert len(asked) == (3 if more else 4)  # `has_next: false` on page 4 ends it; else the empty page 5 does
