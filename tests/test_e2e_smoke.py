"""Thin slice: the real server over stdio, the official client, a real upstream."""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES, TEST_KEY, stdio_client

pytestmark = pytest.mark.anyio


async def test_list_and_call_in_both_eras(upstream, era):
    args = ["serve", str(FIXTURES / "echo.yaml"), "--base-url", upstream.url, "--api-key-env", "TEST_KEY"]
    async with stdio_client(args, mode=era) as client:
        listed = await client.list_tools()
        names = {tool.name for tool in listed.tools}
        assert {"getItem", "createItem", "postForm", "list_user_repos"} <= names
        result = await client.call_tool("getItem", {"id": "a/../b?c#d", "verbose": True})
    assert not result.is_error, result.content
    sent = upstream.last
    assert sent.method == "GET"
    assert sent.raw_path == "/items/a%2F..%2Fb%3Fc%23d"
    assert sent.query == [("verbose", "true")]
    assert sent.headers["x-api-key"] == TEST_KEY
    assert TEST_KEY not in result.content[0].text
