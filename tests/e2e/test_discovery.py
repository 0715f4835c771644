"""Discovery mode end to end: the official client lists three meta-tools, searches, describes and calls an
operation through them, over stdio and streamable HTTP, in both protocol eras."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.common import FIXTURES
from tests.servers import serve_http, serve_stdio, text_of

pytestmark = pytest.mark.anyio

ECHO = str(FIXTURES / "echo.yaml")
META = ["search_operations", "describe_operations", "call_operation"]


async def search_describe_call(client: Client) -> tuple[list[str], list[str], dict, dict]:
    """The meta-tools' names, the top search hits, the description and the call's result, in that order."""
    listed = [tool.name for tool in (await client.list_tools()).tools]
    found = await client.call_tool("search_operations", {"query": "get one item", "limit": 3})
    described = await client.call_tool("describe_operations", {"names": ["getItem"]})
    called = await client.call_tool("call_operation", {"name": "getItem", "arguments": {"id": "a b", "verbose": True}})
    assert not found.is_error and not described.is_error and not called.is_error, text_of(called)
    hits = [hit["name"] for hit in found.structured_content["results"]]
    return listed, hits, described.structured_content, called.structured_content


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_search_describe_call(upstream, era, transport: str) -> None:
    args = [ECHO, "--base-url", upstream.url, "--discovery", "on"]
    if transport == "stdio":
        async with serve_stdio(args, mode=era) as served:
            listed, hits, described, called = await search_describe_call(served.client)
    else:
        async with serve_http(args) as url, Client(url, mode=era) as client:
            listed, hits, described, called = await search_describe_call(client)
    assert listed == META
    assert hits[0] == "getItem"
    [operation] = described["operations"]
    assert operation["operation"] == "GET /items/{id}" and "verbose" in operation["inputSchema"]["properties"]
    assert called == {"method": "GET", "path": "/items/a%20b", "query": "verbose=true"}
    assert [request.raw_path for request in upstream.requests] == ["/items/a%20b"]


async def test_calls_are_checked_like_direct_ones_and_unknown_names_are_named(upstream) -> None:
    async with serve_stdio([ECHO, "--base-url", upstream.url, "--discovery", "on"]) as served:
        bad = await served.client.call_tool("call_operation", {"name": "getItem", "arguments": {"verbose": "x"}})
        unknown = await served.client.call_tool("call_operation", {"name": "getitem", "arguments": {}})
        missing = await served.client.call_tool("describe_operations", {"names": ["nothingLikeIt"]})
        no_query = await served.client.call_tool("search_operations", {})
        direct = await served.client.call_tool("getText", {})  # a listed-by-search operation, called by name
    assert bad.is_error and "Invalid arguments for getItem" in text_of(bad) and "Nothing was sent" in text_of(bad)
    assert unknown.is_error and "'getitem'" in text_of(unknown) and "getItem" in text_of(unknown)
    assert missing.is_error and "search_operations" in text_of(missing)
    assert no_query.is_error and "query" in text_of(no_query)
    assert not direct.is_error
    assert [request.raw_path for request in upstream.requests] == ["/text"]


async def test_pinned_operations_stay_direct_and_a_read_only_profile_stays_read_only(tmp_path: Path, upstream) -> None:
    profile = tmp_path / "pinned.yaml"
    profile.write_text(f"spec: {ECHO}\nbase_url: {upstream.url}\ndiscovery: 'on'\nread_only: true\n"
                       "pinned: [getItem, 'GET /text']\n")
    async with serve_stdio([str(profile)]) as served:
        tools = {tool.name: tool for tool in (await served.client.list_tools()).tools}
    assert list(tools) == [*META, "getItem", "getText"]
    assert tools["call_operation"].annotations.read_only_hint is True
    assert tools["search_operations"].annotations.open_world_hint is False


async def test_auto_stays_off_for_small_apis(upstream) -> None:
    async with serve_stdio([ECHO, "--base-url", upstream.url]) as served:
        tools = (await served.client.list_tools()).tools
    assert len(tools) == 19 and "search_operations" not in {tool.name for tool in tools}
