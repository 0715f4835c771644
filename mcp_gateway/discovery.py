"""Discovery mode: three meta-tools (search, describe, call) stand for every operation, so that a big API
costs an agent three tool definitions instead of hundreds; pinned operations stay direct tools beside them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import mcp_types as types

from mcp_gateway.arguments import schema_problem, validator_for
from mcp_gateway.jsontext import json_text
from mcp_gateway.plan import CompiledTool
from mcp_gateway.profile import Profile
from mcp_gateway.response import error_result
from mcp_gateway.search import ToolIndex

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

Mode = Literal["auto", "on", "off"]
SEARCH, DESCRIBE, CALL = "search_operations", "describe_operations", "call_operation"
META = (SEARCH, DESCRIBE, CALL)
_ARGUMENTS_SHOWN = 12  # per search hit: enough to call a simple operation without describing it first

_SEARCH_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["query"],
    "properties": {
        "query": {"type": "string", "minLength": 1,
                  "description": "What you want to do, in plain words, e.g. 'list the open pull requests of a repo'"},
        "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
                   "description": "Only operations with this HTTP method"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
    },
}
_DESCRIBE_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["names"],
    "properties": {"names": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 10,
                             "description": "Operation names, as search_operations gives them"}},
}
_CALL_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "description": "The operation's name, from search_operations"},
        "arguments": {"type": "object", "description": "The operation's arguments, as describe_operations shows"},
    },
}
_SCHEMAS = {SEARCH: _SEARCH_SCHEMA, DESCRIBE: _DESCRIBE_SCHEMA, CALL: _CALL_SCHEMA}
_LOCAL = {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}


def discovery_wanted(mode: Mode, profiles: Sequence[Profile], tools: int) -> bool:
    """Whether to serve the meta-tools: the command line's `on`/`off`, else a profile's, else (`auto`) when there
    are more tools than the lowest `discovery_threshold` of the profiles."""
    if mode != "auto":
        return mode == "on"
    chosen = {profile.discovery for profile in profiles} - {"auto"}
    if chosen:
        return "on" in chosen
    return any(tools > profile.discovery_threshold for profile in profiles)


def pinned(profile: Profile, tool: CompiledTool) -> bool:
    """Whether the profile keeps this operation a direct tool in discovery mode (globs on name or `METHOD /path`)."""
    return any(fnmatchcase(tool.name, glob) or fnmatchcase(tool.operation, glob) for glob in profile.pinned)


def _call_annotations(tools: Sequence[CompiledTool]) -> dict[str, bool]:
    """As permissive as the most permissive operation the call tool reaches (MCP's defaults where unsaid)."""
    hints = [tool.annotations for tool in tools]
    read_only = all(h.get("readOnlyHint", False) for h in hints)
    annotations = {"readOnlyHint": read_only, "openWorldHint": True}
    if not read_only:
        annotations["destructiveHint"] = any(not h.get("readOnlyHint", False) and h.get("destructiveHint", True)
                                             for h in hints)
        annotations["idempotentHint"] = all(h.get("idempotentHint", False) for h in hints)
    return annotations


def _arguments_in_brief(schema: dict[str, Any]) -> dict[str, str]:
    """`name: type[, required]` for the first arguments of an input schema."""
    required = set(schema.get("required") or ())
    brief = {}
    for name, sub in list((schema.get("properties") or {}).items())[:_ARGUMENTS_SHOWN]:
        kind = _kind(sub)
        brief[name] = f"{kind}, required" if name in required else kind
    return brief


def _kind(schema: Any) -> str:
    """A schema's JSON type in a word: `string`, `string|null` (a type list, or `anyOf` branches), or `any`."""
    if not isinstance(schema, dict):
        return "any"
    if "type" in schema:
        kind = schema["type"]
        return "|".join(map(str, kind)) if isinstance(kind, list) else str(kind)
    branches = [_kind(branch) for branch in schema.get("anyOf") or ()]
    return "|".join(branches) if branches and "any" not in branches else "any"


def _result(data: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=json_text(data))],
                                structured_content=data)


class Discovery:
    """The meta-tools over a set of tools: their definitions, and the search and describe answers."""

    def __init__(self, tools: Sequence[CompiledTool]) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self._call_annotations = _call_annotations(tools)

    def definitions(self) -> list[dict[str, Any]]:
        """The three meta-tools as tools/list sends them."""
        count = len(self.tools)
        return [
            {"name": SEARCH, "title": "Search the API's operations",
             "description": f"Find which of the {count} HTTP API operations does what you need: give a plain-words "
                            "query; each result has the operation's name, method and path, a summary and its main "
                            f"arguments. Then call it with {CALL}, or see its full input schema with {DESCRIBE}.",
             "inputSchema": _SEARCH_SCHEMA, "annotations": _LOCAL},
            {"name": DESCRIBE, "title": "Describe operations",
             "description": "The full description, input schema (arguments) and output shape of up to 10 operations, "
                            f"by the names {SEARCH} gave.",
             "inputSchema": _DESCRIBE_SCHEMA, "annotations": _LOCAL},
            {"name": CALL, "title": "Call an operation",
             "description": f"Call one HTTP API operation by its name (from {SEARCH}) with its arguments (as "
                            f"{DESCRIBE} shows them); the arguments are checked exactly as for a direct tool, and "
                            "the result is the API's answer.",
             "inputSchema": _CALL_SCHEMA, "annotations": self._call_annotations},
        ]

    @cached_property
    def index(self) -> ToolIndex:
        """The search index, built on the first search rather than while the server starts."""
        return ToolIndex(list(self.tools.values()))

    @cached_property
    def _validators(self) -> dict[str, Draft202012Validator]:
        return {name: validator_for(schema) for name, schema in _SCHEMAS.items()}

    def problem(self, name: str, arguments: dict[str, Any]) -> str | None:
        """What is wrong with a meta-tool's arguments, or None."""
        return schema_problem(self._validators[name], name, arguments)

    def search(self, arguments: dict[str, Any]) -> types.CallToolResult:
        """The best operations for a query, each with enough to call a simple one right away."""
        methods = [arguments["method"]] if arguments.get("method") else []
        hits = self.index.search(arguments["query"], arguments.get("limit", 5), methods=methods)
        results = [{"name": hit.name, "operation": hit.operation, "summary": hit.summary,
                    "arguments": _arguments_in_brief(self.tools[hit.name].input_schema)} for hit in hits]
        hint = (f"Call one with {CALL} {{name, arguments}}; {DESCRIBE} gives an operation's full input schema."
                if results else "Nothing matched; try other words, e.g. the resource's name and what to do with it.")
        return _result({"query": arguments["query"], "results": results, "next": hint})

    def describe(self, arguments: dict[str, Any], closest: Callable[[str], list[str]]) -> types.CallToolResult:
        """Full descriptions of known operations; unknown names come back with the closest known ones."""
        known = [self.tools[name] for name in arguments["names"] if name in self.tools]
        unknown = {name: closest(name) for name in arguments["names"] if name not in self.tools}
        if not known:
            return error_result(f"No operation is named {', '.join(unknown)}; closest: "
                                f"{', '.join(n for names in unknown.values() for n in names) or 'none'}. "
                                f"Use {SEARCH} to find operations.")
        described = []
        for tool in known:
            entry: dict[str, Any] = {"name": tool.name, "operation": tool.operation, "description": tool.description,
                                     "inputSchema": tool.input_schema, "annotations": tool.annotations}
            if tool.output_schema is not None:
                entry["outputSchema"] = tool.output_schema
            described.append(entry)
        data: dict[str, Any] = {"operations": described}
        if unknown:
            data["unknown"] = unknown
        return _result(data)
