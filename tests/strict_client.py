"""What the strictest mainstream MCP client demands of a tool, as a check that lists every problem found.

Used by the tests and the corpus benchmarks (not shipped): a compiled tool must pass it on every real document.
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
_NAMED_SCHEMAS = ("properties", "$defs", "dependentSchemas")  # any name will do; patternProperties' must be regexes
_WORDS = ("title", "description")  # any string
_VALUES = ("default", "const")  # any JSON value
_VALUE_LISTS = ("enum", "examples")  # any array


def subschemas(schema: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(pointer, schema object) for every schema inside `schema`, itself included; keywords only, never data."""
    stack = [(path, schema)]
    while stack:
        where, node = stack.pop()
        if not isinstance(node, dict):
            continue
        yield where, node
        stack.extend((f"{where}/{key}", node[key]) for key in _ONE_SCHEMA if key in node)
        for key in _SCHEMA_LISTS:
            if isinstance(node.get(key), list):
                stack.extend((f"{where}/{key}/{i}", sub) for i, sub in enumerate(node[key]))
        for key in _SCHEMA_MAPS:
            if isinstance(node.get(key), dict):
                stack.extend((f"{where}/{key}/{name}", sub) for name, sub in node[key].items())


def _shallow(node: dict[str, Any]) -> dict[str, Any]:
    """The node with every subschema replaced by `true` and every value whose content cannot matter emptied.

    What makes a 2020-12 schema object valid is its own keywords (the meta-schema applies itself to
    every subschema, wherever it sits, and no `$id` is ever emitted), and of words, examples, defaults
    and property names nothing but their type; so this form decides validity, and few distinct forms
    occur in a whole document.
    """
    out = dict(node)
    for key in _ONE_SCHEMA:
        if isinstance(out.get(key), dict | bool):
            out[key] = True
    for key in _SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [True if isinstance(sub, dict | bool) else sub for sub in out[key]]
    for key in _SCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            subs = out[key].items()
            odd = {name: sub for name, sub in subs if not isinstance(sub, dict | bool)}
            out[key] = {**({"": True} if len(odd) < len(subs) else {}), **odd} if key in _NAMED_SCHEMAS else \
                {name: True if isinstance(sub, dict | bool) else sub for name, sub in subs}
    for keys, kind, empty in ((_WORDS, str, ""), (_VALUE_LISTS, list, [])):
        for key in keys:
            if isinstance(out.get(key), kind):
                out[key] = empty
    for key in _VALUES:
        if key in out:
            out[key] = None
    return out


class ToolChecker:
    """Checks tools as a strict client would; remembers what it has found valid, so shared parts cost once."""

    def __init__(self) -> None:
        self._valid: set[int] = set()  # ids of schema objects found valid with everything under them
        self._keep: list[Any] = []  # those objects, so that their ids stay theirs
        self._forms: dict[str, str | None] = {}  # shallow form -> its first meta-schema error

    def meta_problems(self, schema: Any) -> list[str]:
        """Where the schema breaks the 2020-12 meta-schema (every schema object checked, as check_schema would)."""
        if isinstance(schema, bool) or id(schema) in self._valid:
            return []
        if not isinstance(schema, dict):
            return ["is not a schema (an object or a boolean)"]
        problems = []
        seen = []
        for where, node in subschemas(schema):
            if id(node) in self._valid:
                continue
            seen.append(node)
            form = json.dumps(_shallow(node), sort_keys=True)
            if form not in self._forms:
                error = best_match(_META.iter_errors(json.loads(form)))
                self._forms[form] = None if error is None else \
                    f"{'/'.join(str(p) for p in error.path)}: {error.message[:200]}"
            if self._forms[form] is not None:
                problems.append(f"is not valid 2020-12 at {where}/{self._forms[form]}")
        if not problems:
            self._valid.update(id(node) for node in seen)
            self._keep.extend(seen)
        return problems

    def schema_problems(self, schema: Any, label: str) -> list[str]:
        """Problems of one root schema: object at the root, valid 2020-12, every `$ref` resolvable inside it."""
        if not isinstance(schema, dict):
            return [f"{label} is not an object"]
        problems = [f"{label} {p}" for p in self.meta_problems(schema)]
        if schema.get("type") != "object":
            problems.append(f"{label} root type is {schema.get('type')!r}, not 'object'")
        resolver = Registry().with_resource(
            _ROOT_URI, Resource.from_contents(schema, default_specification=DRAFT202012)).resolver(_ROOT_URI)
        for ref in {node["$ref"] for _, node in subschemas(schema) if isinstance(node.get("$ref"), str)}:
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
