"""Schema profiles end to end: `serve --schema-profile` lists the rewritten schemas, and calls written for them
reach the upstream as the document means them."""

from __future__ import annotations

import pytest

from mcp_gateway.compile.schema_profiles import GEMINI_KEYWORDS
from tests.common import FIXTURES
from tests.servers import serve_stdio, text_of, tool_named
from tests.strict_client import subschemas

pytestmark = pytest.mark.anyio

ECHO = str(FIXTURES / "echo.yaml")


async def test_openai_strict_calls_with_nulls_for_what_was_left_out(upstream):
    async with serve_stdio([ECHO, "--base-url", upstream.url, "--schema-profile", "openai-strict"]) as served:
        tools = (await served.client.list_tools()).tools
        create = tool_named(tools, "createItem").input_schema
        assert create["required"] == ["name", "tags", "address"] and create["additionalProperties"] is False
        assert create["properties"]["address"]["anyOf"][1] == {"type": "null"}  # optional: may be null
        result = await served.client.call_tool("createItem", {"name": "n", "tags": None,
                                                              "address": {"city": "Paris", "zip": None}})
        assert not result.is_error, text_of(result)
        assert upstream.last.json() == {"name": "n", "address": {"city": "Paris"}}  # null meant: left out
        refused = await served.client.call_tool("createItem", {"name": None, "tags": None, "address": None})
    assert refused.is_error and "name" in text_of(refused)  # a required property stays required


async def test_gemini_lists_only_its_subset_and_still_checks_in_full(upstream):
    async with serve_stdio([ECHO, "--base-url", upstream.url, "--schema-profile", "gemini"]) as served:
        tools = (await served.client.list_tools()).tools
        assert all({key for _, node in subschemas(tool.input_schema) for key in node} <= GEMINI_KEYWORDS
                   for tool in tools)
        tree = tool_named(tools, "postTree").input_schema
        assert "$defs" not in tree and tree["properties"]["children"]["items"]["type"] == "object"
        refused = await served.client.call_tool("createItem", {"name": "n", "nmae": "typo"})
        assert refused.is_error and "nmae" in text_of(refused)  # the closed root gemini cannot say still holds
