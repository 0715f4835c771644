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


async def test_numbers_for_string_ids_and_strings_for_numbers_are_accepted(upstream):
    args = ["serve", str(FIXTURES / "echo.yaml"), "--base-url", upstream.url, "--api-key-env", "TEST_KEY"]
    async with stdio_client(args) as client:
        by_number = await client.call_tool("getItem", {"id": 42, "verbose": "true"})
        by_text = await client.call_tool("getStatus", {"code": "404"})
    assert not by_number.is_error, by_number.content
    assert upstream.requests[0].raw_path == "/items/42" and upstream.requests[0].query == [("verbose", "true")]
    assert by_text.is_error and upstream.requests[1].raw_path == "/status/404"
