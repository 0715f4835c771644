"""Streamable HTTP in both protocol eras, and tools/list pagination, against the real server process."""

from __future__ import annotations

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from tests.common import FIXTURES, TEST_KEY
from tests.servers import serve_http, serve_stdio, text_of

pytestmark = pytest.mark.anyio

ECHO = str(FIXTURES / "echo.yaml")
ERAS = ("legacy", "2026-07-28")
CLIENT_HEADERS = {"Authorization": "Bearer client-own-token", "X-Client-Secret": "client-only",
                  "Cookie": "client_cookie=1"}


async def all_pages(client: Client) -> tuple[list[str], list[int]]:
    """Every tool name, following next_cursor to the end, and the size of each page."""
    names: list[str] = []
    sizes: list[int] = []
    cursor = None
    while True:
        page = await client.list_tools(cursor=cursor)
        names.extend(tool.name for tool in page.tools)
        sizes.append(len(page.tools))
        cursor = page.next_cursor
        if cursor is None:
            return names, sizes


async def test_http_in_both_eras_with_pages(upstream):
    args = [ECHO, "--base-url", upstream.url, "--api-key-env", "TEST_KEY", "--page-size", "5"]
    async with serve_http(args) as url:
        for mode in ERAS:
            async with Client(url, mode=mode) as client:
                names, sizes = await all_pages(client)
                result = await client.call_tool("getItem", {"id": "a/b", "tags": ["x"]})
            assert len(names) == len(set(names)) == 19
            assert {"getItem", "putItem", "postForm", "list_user_repos"} <= set(names)
            assert all(size <= 5 for size in sizes) and len(sizes) == 4
            assert not result.is_error, text_of(result)
            assert result.structured_content == {"method": "GET", "path": "/items/a%2Fb", "query": "tags=x"}
        first, second = upstream.requests
        assert first.raw_path == second.raw_path == "/items/a%2Fb"
        assert first.headers["x-api-key"] == TEST_KEY


async def test_an_unknown_tool_over_http_is_a_protocol_error(upstream):
    async with serve_http([ECHO, "--base-url", upstream.url]) as url:
        for mode in ERAS:
            async with Client(url, mode=mode) as client:
                with pytest.raises(MCPError) as unknown:
                    await client.call_tool("get_item", {"id": "x"})
            assert unknown.value.code == INVALID_PARAMS
            assert "'get_item'" in unknown.value.message and "getItem" in unknown.value.message
    assert upstream.requests == []


async def test_the_mcp_clients_own_headers_never_go_upstream(upstream):
    async with serve_http([ECHO, "--base-url", upstream.url, "--api-key-env", "TEST_KEY"]) as url:
        for mode in ERAS:
            async with httpx2.AsyncClient(headers=CLIENT_HEADERS) as http:
                async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
                    result = await client.call_tool("getText", {})
            assert not result.is_error, text_of(result)
    for sent in upstream.requests:
        assert sent.headers["x-api-key"] == TEST_KEY
        assert "authorization" not in sent.headers
        assert "x-client-secret" not in sent.headers
        assert "cookie" not in sent.headers
    assert len(upstream.requests) == 2


async def test_stdio_pages_and_a_bad_cursor(upstream, era):
    async with serve_stdio([ECHO, "--base-url", upstream.url, "--page-size", "5"], mode=era) as served:
        names, sizes = await all_pages(served.client)
        with pytest.raises(MCPError) as bad:
            await served.client.list_tools(cursor="not-a-cursor")
    assert len(names) == len(set(names)) == 19 and sizes == [5, 5, 5, 4]
    assert bad.value.code == INVALID_PARAMS
