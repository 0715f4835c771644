"""Real client libraries take GitHub's 1,223 tools as mcp-gateway lists them: openai-agents turns them into strict
function tools, pydantic-ai's TestModel generates arguments for every one (no model, no network)."""

from __future__ import annotations

import anyio
import pytest
from agents.mcp import MCPServerStdio, MCPUtil
from mcp import types
from pydantic_ai.models.test import TestModel
from pydantic_ai.tools import ToolDefinition

from mcp_gateway.build import TargetOptions, build_gateway
from tests.common import SPECS, needs_shared_specs

pytestmark = needs_shared_specs

GITHUB = SPECS / "realworld" / "github.com_api.github.com.json"


def listed(options: TargetOptions) -> list[types.Tool]:
    """GitHub's tools exactly as tools/list sends them, every one listed (no discovery)."""
    gateway = build_gateway([str(GITHUB)], options, strict=False, discovery="off")
    try:
        tools, _ = gateway.catalog.page(None)
        return [types.Tool.model_validate(tool) for tool in tools]
    finally:
        anyio.run(gateway.aclose)


@pytest.fixture(scope="module")
def github_tools() -> list[types.Tool]:
    return listed(TargetOptions())


def strict_tools(tools: list[types.Tool]) -> list[str]:
    """The tools openai-agents converts with `convert_schemas_to_strict=True` (its MCP server option), as an agent
    does for each tool a server lists; a tool whose schema cannot be made strict is served non-strict instead."""
    server = MCPServerStdio(params={"command": "mcp-gateway"}, name="github")  # never started: only its settings
    return [tool.name for tool in tools if MCPUtil.to_function_tool(tool, server, True).strict_json_schema]


def test_openai_agents_makes_strict_function_tools_of_github_tools(github_tools):
    assert len(github_tools) == 1223
    # the rest take objects with free keys (e.g. a workflow's `inputs`), which strict mode cannot describe
    assert len(strict_tools(github_tools)) >= 1200


def test_openai_agents_makes_every_tool_strict_under_the_openai_strict_profile():
    tools = listed(TargetOptions(schema_profile="openai-strict"))
    assert len(strict_tools(tools)) == len(tools) == 1223


def test_pydantic_ai_test_model_generates_arguments_for_every_github_tool(github_tools):
    model = TestModel()
    failed = {}
    for tool in github_tools:
        # as pydantic_ai.mcp.MCPServer.get_tools builds the definition of a listed tool
        definition = ToolDefinition(name=tool.name, description=tool.description,
                                    parameters_json_schema=tool.input_schema)
        try:
            arguments = model.gen_tool_args(definition)
        except NotImplementedError as exc:  # e.g. "Unknown type: ['object', 'null']" for a type array
            failed[tool.name] = str(exc)
        else:
            assert isinstance(arguments, dict)
    assert failed == {}
