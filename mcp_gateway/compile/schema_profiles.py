"""Input schemas rewritten for picky model APIs (`schema_profile`), from the portable form `schema.py` makes.

- `portable` (the default): the form itself; nothing here runs.
- `gemini`: only the keywords of the Schema object that Gemini function declarations accept (`GEMINI_KEYWORDS`).
  One `type` per schema, null as `nullable: true`, unions as `anyOf`, `allOf` merged, references written out
  (a recursive one entered at most `REFERENCE_DEPTH` times along a path, then a described free object),
  string-only `enum`s, the formats Gemini documents; what cannot be said (other formats, non-string enums and
  constants, `additionalProperties`, `dependentRequired`...) moves into the description or is dropped.
- `openai-strict`: what OpenAI's structured outputs accept with `strict: true` (`OPENAI_STRICT_KEYWORDS`).
  Every object is closed (`additionalProperties: false`) and lists every property in `required`, an optional
  one as `anyOf: [schema, {"type": "null"}]`; an object with free keys (or no declared properties) becomes a
  string holding its JSON text; a value of any type, a union of the scalar types; recursive references stay
  `$ref`s into `$defs`, which strict mode supports.

Calls are still checked against the portable schema (`CompiledTool.argument_schema`): what a profile
leaves out is still enforced, and under `openai-strict` a null for an optional property means it was left
out, and JSON text where an object belongs is read as that object (`arguments.py`).

Each shared schema object is rewritten once per document (results are kept by object identity); only
parts that hold a reference are rewritten per tool, within a budget of `REFERENCE_BUDGET` written-out
references, so a document that reuses large definitions cannot multiply a tool's size.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from mcp_gateway.compile.inline import subschemas
from mcp_gateway.profile import SchemaProfile

SCHEMA_PROFILES: tuple[SchemaProfile, ...] = get_args(SchemaProfile)

# The fields of the Gemini API's Schema object ("a select subset of an OpenAPI 3.0 schema object"), as its API
# reference lists them (ai.google.dev/api/caching#Schema; the same list is the google-genai SDKs' `types.Schema`).
GEMINI_KEYWORDS = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties", "required",
    "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf", "propertyOrdering",
    "default", "items", "minimum", "maximum",
})
# Formats Gemini documents per type (other formats are refused by some models; Gemini CLI strips them too).
GEMINI_FORMATS = {"string": {"enum", "date-time"}, "number": {"float", "double"}, "integer": {"int32", "int64"}}
# Keywords OpenAI's structured outputs support in strict mode ("Supported schemas": types, anyOf, enum, const,
# $defs/$ref with recursion; strings pattern and format; numbers multipleOf, (exclusive) minimum and maximum; arrays
# minItems and maxItems; objects with every property required and additionalProperties false).
OPENAI_STRICT_KEYWORDS = frozenset({
    "type", "description", "title", "properties", "required", "additionalProperties", "items", "anyOf", "enum",
    "const", "$defs", "$ref", "pattern", "format", "multipleOf", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minItems", "maxItems",
})
OPENAI_STRICT_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6",
                                   "uuid"})
REFERENCE_DEPTH = 2  # gemini: how many times one path may enter the same definition before it is cut
REFERENCE_BUDGET = 400  # written-out references per tool; past it a reference becomes a described free object

_SCALARS = ("string", "number", "boolean")
_WORDS = ("title", "description")
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly"})


def _union(node: dict[str, Any]) -> tuple[list[Any] | None, dict[str, Any]]:
    """The node's `anyOf` (else `oneOf`) and the rest of it."""
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            return node[key], {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
    return None, node


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema == {"type": "null"}


def _words(node: dict[str, Any]) -> dict[str, Any]:
    return {key: node[key] for key in _WORDS if isinstance(node.get(key), str)}


def _note(out: dict[str, Any], text: str) -> None:
    """Say in the description what a keyword the profile cannot carry said."""
    described = out.get("description", "")
    out["description"] = f"{described} ({text})" if described else f"({text})"


def _merge_all_of(node: dict[str, Any], parts: list[Any]) -> dict[str, Any]:
    """`node` with its `allOf` parts merged in: properties and required names united, other keywords first-come."""
    merged = {key: value for key, value in node.items() if key != "allOf"}
    for part in parts:
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                merged["properties"] = {**value, **merged.get("properties", {})}
            elif key == "required" and isinstance(value, list):
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


class _Rewriter:
    """Rewrites the schemas of one document for one profile; `tool` starts a tool's budget."""

    def __init__(self, profile: SchemaProfile) -> None:
        self.profile = profile
        self._done: dict[int, tuple[Any, Any]] = {}  # id -> (node, result): kept alive, so ids stay theirs
        self._defs: dict[str, Any] = {}
        self._recursive: set[str] = set()
        self._referenced: set[str] = set()
        self._budget = 0

    def tool(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A tool's root schema as the profile serves it."""
        self._defs = schema.get("$defs") or {}
        self._recursive = _recursive_definitions(self._defs)
        self._referenced = set()
        self._budget = REFERENCE_BUDGET
        root = {key: value for key, value in schema.items() if key not in ("$defs", "dependentRequired")}
        served, _ = self._node(root, ())
        served = {**served, "type": "object"}
        if self.profile == "openai-strict" and "properties" not in served:
            served = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
        kept: dict[str, Any] = {}
        while self._referenced - kept.keys():  # the definitions still referred to, and those they refer to
            name = min(self._referenced - kept.keys())
            kept[name] = self._node(self._defs[name], (name,))[0]
        return {**served, "$defs": dict(sorted(kept.items()))} if kept else served

    def _node(self, node: Any, path: tuple[str, ...]) -> tuple[dict[str, Any], bool]:
        """(rewritten node, whether it holds a reference, whose rewriting depends on the tool); results that do
        not are kept by identity, so a schema shared by many tools is rewritten once. `path`: the definitions
        being written out."""
        if not isinstance(node, dict):
            return {}, False  # `true` (a boolean schema): any value, which neither profile spells otherwise
        found = self._done.get(id(node))
        if found is not None:
            return found[1], False
        if "$ref" in node:
            return self._reference(node, path), True
        union, rest = _union(node)
        if isinstance(node.get("allOf"), list):
            out, referred = self._node(_merge_all_of(node, node["allOf"]), path)
        elif union is not None and rest.keys() <= _ANNOTATIONS:
            out, referred = self._union(union, rest, path)
        else:  # a union beside a type (e.g. alternative `required` lists) is left to the argument check
            out, referred = (self._gemini if self.profile == "gemini" else self._strict)(rest, path)
        if not referred:
            self._done[id(node)] = (node, out)
        return out, referred

    def _union(self, union: list[Any], rest: dict[str, Any], path: tuple[str, ...]) -> tuple[dict[str, Any], bool]:
        """`anyOf`/`oneOf` (as `anyOf`); for gemini, a null branch becomes `nullable` and a single other
        branch stands alone."""
        if self.profile != "gemini":
            subs, referred = self._subschemas(union, path)
            return {"anyOf": subs, **_words(rest)}, referred
        branches = [branch for branch in union if not _is_null(branch)]
        if len(branches) == 1 and isinstance(branches[0], dict):
            single, referred = self._node({**branches[0], **_words(rest)}, path)
            out = _nullable(single) if len(branches) < len(union) else dict(single)
            if "default" in rest:
                out["default"] = rest["default"]
            return out, referred
        subs, referred = self._subschemas(branches, path)
        if len(branches) < len(union):
            subs = [_nullable(sub) for sub in subs]
        # no default beside anyOf: the API refuses it (Gemini CLI drops it too)
        return {**_words(rest), "anyOf": subs}, referred

    def _reference(self, node: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
        """The definition written out, unless the tool's budget is spent or it is recursive: gemini writes a
        recursive one out until this path has entered it `REFERENCE_DEPTH` times, then a described object stands
        for it; openai-strict, whose strict mode supports recursion, keeps the reference."""
        name = str(node["$ref"]).removeprefix("#/$defs/")
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        target = self._defs.get(name)
        recursive = name in self._recursive
        if self.profile == "openai-strict" and isinstance(target, dict) and (recursive or self._budget <= 0):
            self._referenced.add(name)
            return {"$ref": node["$ref"], **_words(siblings)}
        if not isinstance(target, dict) or path.count(name) >= REFERENCE_DEPTH or self._budget <= 0:
            cut = {"type": "object", **_words(target if isinstance(target, dict) else {}), **_words(siblings)}
            _note(cut, "nested further: any object of this kind")
            return cut
        self._budget -= 1
        return self._node({**target, **siblings}, (*path, name))[0]

    def _subschemas(self, values: list[Any], path: tuple[str, ...]) -> tuple[list[dict[str, Any]], bool]:
        results = [self._node(value, path) for value in values]
        return [result for result, _ in results], any(referred for _, referred in results)

    # -- gemini ------------------------------------------------------------------------------------
    def _gemini(self, node: dict[str, Any], path: tuple[str, ...]) -> tuple[dict[str, Any], bool]:
        out = _words(node)
        kind = node.get("type")
        if kind is None:
            kind = "object" if "properties" in node else "array" if "items" in node else None
        referred = False
        if kind == "null":
            return {**out, "nullable": True}, False
        values = node["enum"] if isinstance(node.get("enum"), list) else [node["const"]] if "const" in node else []
        if isinstance(kind, str):
            out["type"] = kind
        elif values and all(isinstance(value, str) for value in values if value is not None):
            out["type"] = "string"  # Gemini's enums are lists of strings
        fmt = node.get("format")
        if isinstance(fmt, str) and fmt:
            if fmt in GEMINI_FORMATS.get(str(kind), ()):
                out["format"] = fmt
            else:
                _note(out, f"format: {fmt}")
        self._gemini_values(node, out)
        if kind in ("integer", "number"):
            for key, bound, step in (("exclusiveMinimum", "minimum", 1), ("exclusiveMaximum", "maximum", -1)):
                value = node.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    out[bound] = value + step if kind == "integer" and float(value).is_integer() else value
            out.update({key: node[key] for key in ("minimum", "maximum") if key in node})
        elif kind == "string":
            out.update({key: node[key] for key in ("minLength", "maxLength", "pattern") if key in node})
        elif kind == "array":
            out.update({key: node[key] for key in ("minItems", "maxItems") if key in node})
            if isinstance(node.get("items"), dict):
                out["items"], referred = self._node(node["items"], path)
        elif kind == "object":
            referred = self._gemini_object(node, out, path)
        return out, referred

    def _gemini_values(self, node: dict[str, Any], out: dict[str, Any]) -> None:
        """`enum`, `const`, `default` and examples as Gemini can say them."""
        values = node["enum"] if isinstance(node.get("enum"), list) else [node["const"]] if "const" in node else []
        if values:
            present = [value for value in values if value is not None]
            if None in values:
                out["nullable"] = True
            if present and all(isinstance(value, str) for value in present):
                out["enum"] = present
            elif present:
                _note(out, "one of: " + ", ".join(json.dumps(value) for value in present)[:300])
        if "default" in node:
            out["default"] = node["default"]
        if isinstance(node.get("examples"), list) and node["examples"]:
            out["example"] = node["examples"][0]

    def _gemini_object(self, node: dict[str, Any], out: dict[str, Any], path: tuple[str, ...]) -> bool:
        referred = False
        properties = node.get("properties")
        if isinstance(properties, dict) and properties:
            out["properties"] = {}
            for name, sub in properties.items():
                out["properties"][name], deeper = self._node(sub, path)
                referred = referred or deeper
            required = [name for name in node.get("required", []) if name in properties]
            if required:
                out["required"] = required
        out.update({key: node[key] for key in ("minProperties", "maxProperties") if key in node})
        extra = node.get("additionalProperties")
        if extra not in (None, False) and not properties:
            _note(out, "an object with free keys")
        return referred

    # -- openai-strict -------------------------------------------------------------------------------
    def _strict(self, node: dict[str, Any], path: tuple[str, ...]) -> tuple[dict[str, Any], bool]:
        out = _words(node)
        for key in ("enum", "const"):
            if key in node:
                out[key] = node[key]
        kind = node.get("type")
        if kind is None:
            kind = "object" if "properties" in node else "array" if "items" in node else None
        if kind is None:
            if "enum" in out or "const" in out:
                return out, False
            return {"anyOf": [{"type": scalar} for scalar in _SCALARS], **out}, False
        out["type"] = kind
        referred = False
        if kind == "string":
            if isinstance(node.get("pattern"), str):
                out["pattern"] = node["pattern"]
            if node.get("format") in OPENAI_STRICT_FORMATS:
                out["format"] = node["format"]
            elif isinstance(node.get("format"), str):
                _note(out, f"format: {node['format']}")
        elif kind in ("integer", "number"):
            out.update({key: node[key] for key in ("multipleOf", "minimum", "maximum", "exclusiveMinimum",
                                                   "exclusiveMaximum") if key in node})
        elif kind == "array":
            out.update({key: node[key] for key in ("minItems", "maxItems") if key in node})
            items, referred = self._node(node.get("items", {}), path)
            out["items"] = items or {"anyOf": [{"type": scalar} for scalar in _SCALARS]}
        elif kind == "object":
            referred = self._strict_object(node, out, path)
        return out, referred

    def _strict_object(self, node: dict[str, Any], out: dict[str, Any], path: tuple[str, ...]) -> bool:
        properties = node.get("properties")
        if not isinstance(properties, dict) or not properties:
            out["type"] = "string"
            _note(out, "a JSON object, written as JSON text")
            return False
        required = set(node.get("required", []))
        out["properties"] = {}
        referred = False
        for name, sub in properties.items():
            served, deeper = self._node(sub, path)
            referred = referred or deeper
            if name not in required and not _accepts_null(served):
                served = {"anyOf": [served, {"type": "null"}]}
            out["properties"][name] = served
        out["required"] = list(properties)
        out["additionalProperties"] = False
        return referred


def _recursive_definitions(defs: dict[str, Any]) -> set[str]:
    """The names in a tool's `$defs` that can reach themselves through references (a few names: a plain search)."""
    targets = {name: {ref.removeprefix("#/$defs/") for sub in _subschema_nodes(body)
                      if isinstance(ref := sub.get("$ref"), str)} for name, body in defs.items()}
    recursive = set()
    for name in defs:
        seen: set[str] = set()
        stack = list(targets[name])
        while stack:
            current = stack.pop()
            if current == name:
                recursive.add(name)
                break
            if current not in seen and current in targets:
                seen.add(current)
                stack.extend(targets[current])
    return recursive


def _subschema_nodes(schema: Any) -> list[dict[str, Any]]:
    """Every schema object inside `schema` (itself included), by the keywords the portable form uses."""
    found: list[dict[str, Any]] = []
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.append(node)
            stack.extend(subschemas(node))
    return found


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """gemini: `schema` or null; `nullable` goes beside a `type`, so into each branch of a union."""
    if "type" not in schema and isinstance(schema.get("anyOf"), list):
        return {**schema, "anyOf": [_nullable(branch) for branch in schema["anyOf"]]}
    return {**schema, "nullable": True}


def _accepts_null(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "null" or any(_is_null(branch) for branch in schema.get("anyOf", []))


class SchemaProfileWriter:
    """The served input schemas of one document's tools under one profile (none for `portable`)."""

    def __init__(self, profile: SchemaProfile) -> None:
        self.profile = profile
        self._rewriter = _Rewriter(profile)

    def served(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The tool's inputSchema as this profile serves it (the portable schema itself for `portable`)."""
        if self.profile == "portable":
            return schema
        return self._rewriter.tool(schema)
