"""Thin slice: the real server over stdio, the official client, a real upstream."""

from __future__ import annotations

import pytest

from tests.common import FIXTURES, TEST_KEY
from tests.servers import serve_stdio

pytestmark = pytest.mark.anyio


async def test_list_and_call_in_both_eras(upstream, era):
    args = [str(FIXTURES / "echo.yaml"), "--base-url", upstream.url, "--api-key-env", "TEST_KEY"]
    async with serve_stdio(args, mode=era) as served:
        listed = await served.client.list_tools()
        names = {tool.name for tool in listed.tools}
        assert {"getItem", "createItem", "postForm", "list_user_repos"} <= names
        result = await served.client.call_tool("getItem", {"id": "a/../b?c#d", "verbose": True})
    assert not result.is_error, result.content
    sent = upstream.last
    assert sent.method == "GET"
    assert sent.raw_path == "/items/a%2F..%2Fb%3Fc%23d"
    assert sent.query == [("verbose", "true")]
    assert sent.headers["x-api-key"] == TEST_KEY
    assert TEST_KEY not in result.content[0].text


async def test_numbers_for_string_ids_and_strings_for_numbers_are_accepted(upstream):
    args = [str(FIXTURES / "echo.yaml"), "--base-url", upstream.url, "--api-key-env", "TEST_KEY"]
    async with serve_stdio(args) as served:
        by_number = await served.client.call_tool("getItem", {"id": 42, "verbose": "true"})
        by_text = await served.client.call_tool("getStatus", {"code": "404"})
    assert not by_number.is_error, by_number.content
    assert upstream.requests[0].raw_path == "/items/42" and upstream.requests[0].query == [("verbose", "true")]
    assert by_text.is_error and upstream.requests[1].raw_path == "/status/404"
