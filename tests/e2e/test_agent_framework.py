"""A Python agent framework (openai-agents) as a user runs it: it starts the real server over stdio, loads every
tool as a function tool, and calls one through the gateway to a real upstream."""

from __future__ import annotations

import json
import sys

import pytest
from agents.mcp import MCPServerStdio, MCPUtil

from tests.common import ROOT, SPECS, TEST_KEY, needs_shared_specs, server_env

pytestmark = pytest.mark.anyio


def stdio_server(*args: str) -> MCPServerStdio:
    return MCPServerStdio(params={"command": sys.executable, "args": ["-m", "mcp_gateway", "serve", *args],
                                  "env": server_env({"DEMO_API_KEY": TEST_KEY}), "cwd": str(ROOT)},
                          client_session_timeout_seconds=60, name="gateway")


async def test_openai_agents_calls_a_demo_tool(clinic):
    base_url = f"http://127.0.0.1:{clinic.server_address[1]}"
    async with stdio_server(str(ROOT / "tool_specs" / "demo.yaml"), "--base-url", base_url) as server:
        tools = await server.list_tools()
        function_tools = [MCPUtil.to_function_tool(tool, server, True) for tool in tools]
        result = await server.call_tool("list_pets", {"species": "cat"})
    assert {tool.name for tool in function_tools} == {"list_pets", "create_pet", "get_pet", "delete_pet"}
    assert not result.is_error
    pets = json.loads(result.content[0].text)
    assert pets["pets"] and all(pet["species"] == "cat" for pet in pets["pets"])


@needs_shared_specs
async def test_openai_agents_loads_every_github_tool():
    document = str(SPECS / "realworld" / "github.com_api.github.com.json")
    async with stdio_server(document, "--discovery", "off") as server:
        tools = await server.list_tools()
        function_tools = [MCPUtil.to_function_tool(tool, server, True) for tool in tools]
    assert len(function_tools) == 1223
