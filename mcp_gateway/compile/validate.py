"""What the strictest mainstream MCP client demands of a tool, as a check that lists every problem found.

Used by the tests and the corpus benchmarks: a compiled tool must pass it on every real document.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from mcp_gateway.compile.naming import ARGUMENT_NAME_RE, TOOL_NAME_RE

_ROOT_URI = "urn:mcp-gateway:tool"
_META = Draft202012Validator(Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
_ONE_SCHEMA = ("additionalProperties", "items", "not", "if", "then", "else", "contains", "propertyNames",
               "unevaluatedItems", "unevaluatedProperties", "contentSchema")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")


def subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    """Every schema object inside `schema` (itself included), walking keywords only, never data like `default`."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        yield node
        stack.extend(node.get(key) for key in _ONE_SCHEMA)
        for key in _SCHEMA_LISTS:
            if isinstance(node.get(key), list):
                stack.extend(node[key])
        for key in _SCHEMA_MAPS:
            if isinstance(node.get(key), dict):
                stack.extend(node[key].values())


class ToolChecker:
    """Checks tools against what clients demand; a subschema object shared by many tools is checked once.

    Meta-schema validity of a 2020-12 subschema does not depend on where it sits (no `$id` is ever
    emitted), so a subschema found valid once is replaced by `true` when it turns up again.
    """

    def __init__(self) -> None:
        self._valid: set[int] = set()
        self._keep: list[Any] = []  # the objects behind `_valid`, so that their ids stay theirs

    def _pruned(self, node: Any, fresh: list[Any]) -> Any:
        if not isinstance(node, dict):
            return node
        if id(node) in self._valid:
            return True
        fresh.append(node)
        out = dict(node)
        for key in _ONE_SCHEMA:
            if key in out:
                out[key] = self._pruned(out[key], fresh)
        for key in _SCHEMA_LISTS:
            if isinstance(out.get(key), list):
                out[key] = [self._pruned(sub, fresh) for sub in out[key]]
        for key in _SCHEMA_MAPS:
            if isinstance(out.get(key), dict):
                out[key] = {name: self._pruned(sub, fresh) for name, sub in out[key].items()}
        return out

    def meta_problems(self, schema: Any) -> list[str]:
        """Where the schema breaks the 2020-12 meta-schema (the first error only)."""
        fresh: list[Any] = []
        error = best_match(_META.iter_errors(self._pruned(schema, fresh)))
        if error is None:
            self._valid.update(id(node) for node in fresh)
            self._keep.extend(fresh)
            return []
        where = "/".join(str(p) for p in error.path)
        return [f"is not valid 2020-12 at /{where}: {error.message[:200]}"]

    def schema_problems(self, schema: Any, label: str) -> list[str]:
        """Problems of one root schema: object at the root, valid 2020-12, every `$ref` resolvable inside it."""
        if not isinstance(schema, dict):
            return [f"{label} is not an object"]
        problems = [f"{label} {p}" for p in self.meta_problems(schema)]
        if schema.get("type") != "object":
            problems.append(f"{label} root type is {schema.get('type')!r}, not 'object'")
        resolver = Registry().with_resource(
            _ROOT_URI, Resource.from_contents(schema, default_specification=DRAFT202012)).resolver(_ROOT_URI)
        for ref in {node["$ref"] for node in subschemas(schema) if isinstance(node.get("$ref"), str)}:
            try:
                resolver.lookup(ref)
            except Unresolvable:
                problems.append(f"{label} has an unresolvable $ref {ref!r}")
        return problems

    def tool_problems(self, tool: dict[str, Any]) -> list[str]:
        """Why a client could reject this tool (as tools/list sends it); empty when it is valid."""
        problems = []
        name = tool.get("name")
        if not isinstance(name, str) or not TOOL_NAME_RE.match(name):
            problems.append(f"name {name!r} does not match {TOOL_NAME_RE.pattern}")
        try:
            json.dumps(tool, allow_nan=False)
        except (TypeError, ValueError) as exc:
            return [*problems, f"not plain JSON ({exc})"]
        input_schema = tool.get("inputSchema")
        problems.extend(self.schema_problems(input_schema, "inputSchema"))
        if isinstance(input_schema, dict):
            problems.extend(f"inputSchema has {key} at the root" for key in ("oneOf", "anyOf", "allOf")
                            if key in input_schema)
            properties = input_schema.get("properties")
            for prop in properties if isinstance(properties, dict) else ():
                if not ARGUMENT_NAME_RE.match(prop):
                    problems.append(f"inputSchema property {prop!r} does not match {ARGUMENT_NAME_RE.pattern}")
        if "outputSchema" in tool:
            problems.extend(self.schema_problems(tool["outputSchema"], "outputSchema"))
        return problems


def tools_problems(tools: Iterable[dict[str, Any]]) -> list[str]:
    """Problems of a whole tool list: each tool's, prefixed by its name, and names equal ignoring case."""
    checker = ToolChecker()
    problems = []
    seen: dict[str, str] = {}
    for tool in tools:
        name = str(tool.get("name"))
        problems.extend(f"{name}: {p}" for p in checker.tool_problems(tool))
        if name.lower() in seen:
            problems.append(f"{name}: same name as {seen[name.lower()]!r} ignoring case")
        seen.setdefault(name.lower(), name)
    return problems
