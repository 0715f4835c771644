"""Every way a call can go wrong comes back as a result an agent can read, and bad calls send nothing."""

from __future__ import annotations

import base64
import json

import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, EmbeddedResource, ImageContent, TextContent

from tests.common import FIXTURES, server_env
from tests.servers import free_port, serve_stdio, text_of
from tests.upstream import PNG_1PX

pytestmark = pytest.mark.anyio

ECHO = str(FIXTURES / "echo.yaml")
LIMITS = str(FIXTURES / "echo_limits.yaml")


async def test_bad_arguments_name_the_argument_and_send_nothing(upstream, era):
    async with serve_stdio([ECHO, "--base-url", upstream.url], mode=era) as served:
        wrong_type = await served.client.call_tool("getItem", {"id": "x", "verbose": "yes"})
        missing = await served.client.call_tool("getItem", {"verbose": True})
        extra = await served.client.call_tool("createItem", {"name": "n", "id": 5})
    assert wrong_type.is_error and "`verbose`" in text_of(wrong_type)
    assert missing.is_error and "'id'" in text_of(missing)
    assert extra.is_error and "'id'" in text_of(extra)  # readOnly `id` is not an input
    assert all("Nothing was sent upstream" in text_of(r) for r in (wrong_type, missing, extra))
    assert upstream.requests == []


async def test_an_unknown_tool_is_a_protocol_error_naming_the_closest_tools(upstream, era):
    async with serve_stdio([ECHO, "--base-url", upstream.url], mode=era) as served:
        with pytest.raises(MCPError) as unknown:
            await served.client.call_tool("getitem", {"id": "x"})
        still_serving = await served.client.call_tool("getItem", {"id": "x"})
    assert unknown.value.code == INVALID_PARAMS
    assert "'getitem'" in unknown.value.message and "getItem" in unknown.value.message
    assert "tools/list" in unknown.value.message
    assert not still_serving.is_error and len(upstream.requests) == 1


async def test_upstream_errors_carry_status_and_message(upstream, era):
    async with serve_stdio([ECHO, "--base-url", upstream.url], mode=era) as served:
        not_found = await served.client.call_tool("getStatus", {"code": 404})
        broken = await served.client.call_tool("getStatus", {"code": 500})
        upstream.reply(429, {"error": {"message": "slow down"}},  # a wait over the retry cap: reported, not waited
                       {"Content-Type": "application/json", "Retry-After": "70", "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": "30"})
        limited = await served.client.call_tool("getText", {})
        for _ in range(3):  # every attempt of a GET
            upstream.reply(502, b"<html><body>Bad gateway</body></html>", {"Content-Type": "text/html"})
        html = await served.client.call_tool("getText", {})
    assert not_found.is_error
    assert "HTTP 404" in text_of(not_found) and "failure 404" in text_of(not_found)
    assert "GET /status/{code}" in text_of(not_found)
    assert broken.is_error and "HTTP 500" in text_of(broken) and "failure 500" in text_of(broken)
    limited_text = text_of(limited)
    assert limited.is_error and "HTTP 429" in limited_text and "slow down" in limited_text
    assert "retry-after: 70" in limited_text and "x-ratelimit-remaining: 0" in limited_text
    assert "x-ratelimit-reset: 30" in limited_text and "Wait 70s" in limited_text
    assert html.is_error and "HTTP 502" in text_of(html) and "Bad gateway" in text_of(html)
    assert "3 attempts" in text_of(html)
    assert [r.raw_path for r in upstream.requests] == ["/status/404", "/status/500", "/text", "/text", "/text", "/text"]


async def test_timeout_unreachable_and_truncation(upstream):
    env = server_env({"ECHO_URL": upstream.url})
    async with serve_stdio([LIMITS], env=env) as served:
        slow = await served.client.call_tool("getSlow", {})
        huge = await served.client.call_tool("getHuge", {})
    assert slow.is_error and "timed out after 1s" in text_of(slow) and "/slow" in text_of(slow)
    huge_text = text_of(huge)
    assert not huge.is_error
    assert "[truncated:" in huge_text and "2,048" in huge_text
    assert len(huge_text.encode()) < 2048 + 500

    closed = f"http://127.0.0.1:{free_port()}"
    async with serve_stdio([ECHO, "--base-url", closed]) as served:
        unreachable = await served.client.call_tool("getText", {})
    assert unreachable.is_error and "could not connect" in text_of(unreachable)
    assert closed in text_of(unreachable)


async def test_each_kind_of_success_body(upstream, era):
    async with serve_stdio([ECHO, "--base-url", upstream.url], mode=era) as served:
        text = await served.client.call_tool("getText", {})
        image = await served.client.call_tool("getImage", {})
        binary = await served.client.call_tool("getBytes", {})
        array = await served.client.call_tool("getArray", {})
        not_json = await served.client.call_tool("getNotJson", {})
        upstream.reply(204, b"", {})
        empty = await served.client.call_tool("deleteItem", {"id": "gone"})
        upstream.reply(200, "café".encode("latin-1"), {"Content-Type": "text/plain; charset=iso-8859-1"})
        latin = await served.client.call_tool("getText", {})
        item = await served.client.call_tool("getItem", {"id": "x"})
    assert not any(r.is_error for r in (text, image, binary, array, not_json, empty, latin, item))
    assert text.content == [TextContent(type="text", text="plain words ✓")]
    [picture] = image.content
    assert isinstance(picture, ImageContent) and picture.mime_type == "image/png"
    assert base64.b64decode(picture.data) == PNG_1PX
    [resource] = binary.content
    assert isinstance(resource, EmbeddedResource)
    assert resource.resource.mime_type == "application/pdf"
    assert base64.b64decode(resource.resource.blob) == b"%PDF-1.4 fake"
    assert resource.resource.uri == f"{upstream.url}/bytes"
    assert json.loads(text_of(array)) == [1, 2, 3]
    assert text_of(not_json) == "this is not json"
    assert "no content" in text_of(empty) and "204" in text_of(empty)
    assert text_of(latin) == "café"
    assert item.structured_content == {"method": "GET", "path": "/items/x", "query": ""}


async def test_a_header_value_cannot_start_another_header(upstream):
    async with serve_stdio([ECHO, "--base-url", upstream.url]) as served:
        injected = await served.client.call_tool("getItem", {"id": "x", "X-Trace": "a\r\nX-Evil: 1"})
    assert injected.is_error and "header" in text_of(injected).lower()
    assert upstream.requests == []


async def test_an_empty_path_value_is_refused(upstream):
    async with serve_stdio([ECHO, "--base-url", upstream.url]) as served:
        result = await served.client.call_tool("deleteItem", {"id": ""})
    assert result.is_error and "`id`" in text_of(result)
    assert upstream.requests == []  # not `DELETE /items/`
