"""OpenAPI 3.0/3.1 Schema Objects -> JSON Schema 2020-12 in its most portable form, shared across all tools.

Each referenced schema is converted once. References are then written out for each tool by
`inline.py` (the same object in every tool that reaches it, so a thousand tools share it in memory);
only recursive schemas, and large ones a tool would repeat, stay `$ref`s into the tool's `$defs`.
A value that may be null is `anyOf: [schema, {"type": "null"}]`, never a type array, which Gemini,
pydantic-ai's TestModel and MCP Inspector's strict lint refuse. Unknown or malformed keywords are
dropped rather than passed on: every emitted schema must be valid 2020-12.

Inputs (`convert`) describe what a caller may send; `readOnly` properties are left out.
Outputs (`shape`) are the shape of a response only (property names and items; no types, titles or
descriptions, no `$defs`, references inlined to a fixed depth), so that a real upstream that strays
from its document never makes a client reject a result as not matching its `outputSchema`, and so
that richly linked documents (Stripe) do not give every tool a copy of the whole document's words.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

from mcp_gateway.compile.inline import ANNOTATIONS, Inliner
from mcp_gateway.compile.refs import deref, lookup, pointer_parts

_TYPES = {"string", "number", "integer", "boolean", "array", "object", "null"}
_NUMBER_KEYS = ("minimum", "maximum", "multipleOf")
_COUNT_KEYS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
_TEXT_KEYS = ("title", "description", "format", "contentMediaType", "contentEncoding")
_BOOL_KEYS = ("uniqueItems", "deprecated", "readOnly", "writeOnly")
# keywords that constrain one JSON type only: a type array is split into one `anyOf` branch per type, each with its own
_TYPE_KEYWORDS = {
    "string": frozenset({"minLength", "maxLength", "pattern", "format", "contentMediaType", "contentEncoding"}),
    "number": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "format"}),
    "array": frozenset({"items", "prefixItems", "minItems", "maxItems", "uniqueItems"}),
    "object": frozenset({"properties", "required", "additionalProperties", "patternProperties", "minProperties",
                         "maxProperties", "dependentRequired"}),
}
_TYPE_KEYWORDS["integer"] = _TYPE_KEYWORDS["number"]
_ALL_TYPE_KEYWORDS = frozenset().union(*_TYPE_KEYWORDS.values())


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _valid_pattern(pattern: Any) -> bool:
    if not isinstance(pattern, str):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "possible nested set": valid today, only a warning
            re.compile(pattern)
    except (re.error, OverflowError, RecursionError):
        return False
    return True


def def_name_for(ref: str, taken: set[str]) -> str:
    """A `$defs` key from a pointer's last segment: safe characters only, unique in `taken`."""
    parts = pointer_parts(ref)
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", parts[-1] if parts else "root").strip("_") or "schema"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def _is_of_type(value: Any, kind: str) -> bool:
    """Whether a JSON value is an instance of a JSON Schema type."""
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return _is_number(value) and float(value).is_integer()
    if kind == "number":
        return _is_number(value)
    expected = {"string": str, "array": list, "object": dict}.get(kind)
    return expected is not None and isinstance(value, expected)


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null, as `anyOf` (words for people and the default stay outside, where every client reads them)."""
    inner = {key: value for key, value in schema.items() if key not in ANNOTATIONS}
    outer = {key: value for key, value in schema.items() if key in ANNOTATIONS}
    branches = inner["anyOf"] if list(inner) == ["anyOf"] else [inner]
    return {"anyOf": [*branches, {"type": "null"}], **outer}


def _without_type_arrays(schema: dict[str, Any]) -> dict[str, Any]:
    """The same schema without a type array: one type, or `anyOf` branches (each type with its own keywords), plus
    a null branch where null is allowed. An `enum` or `const` alone says exactly what is allowed."""
    kinds = schema.get("type")
    if not isinstance(kinds, list):
        return schema
    rest = {key: value for key, value in schema.items() if key != "type"}
    if "const" in rest:
        return rest
    if "enum" in rest:
        allowed = [value for value in rest["enum"] if any(_is_of_type(value, kind) for kind in kinds)]
        if None in allowed and len(allowed) > 1:
            values = [value for value in allowed if value is not None]
            return _or_null(_without_type_arrays({**rest, "enum": values, "type": [k for k in kinds if k != "null"]}))
        kinds = [kind for kind in kinds if any(_is_of_type(value, kind) for value in allowed)] or kinds
        rest["enum"] = allowed or rest["enum"]
        return {"type": kinds[0], **rest} if len(kinds) == 1 else rest
    others = [kind for kind in kinds if kind != "null"]
    if not others:
        return {"type": "null", **rest}
    if len(others) == 1:
        single = {"type": others[0], **rest}
    else:
        single = {key: value for key, value in rest.items() if key not in _ALL_TYPE_KEYWORDS}
        if "anyOf" in single:  # the document's own union still applies, beside the union of types
            single["allOf"] = [*single.get("allOf", []), {"anyOf": single.pop("anyOf")}]
        single["anyOf"] = [{"type": kind, **{key: rest[key] for key in _TYPE_KEYWORDS[kind] if key in rest}}
                           for kind in others]
    return _or_null(single) if "null" in kinds else single


class SchemaConverter:
    """Converts schemas of one document; remembers every `$defs` entry it has made."""

    def __init__(self, document: dict[str, Any], openapi_31: bool) -> None:
        self.document = document
        self.openapi_31 = openapi_31
        self.def_names: dict[str, str] = {}
        self._pointers: dict[str, str] = {}  # `#/$defs/<name>` -> the document pointer it stands for
        self._taken: set[str] = set()
        self._defs: dict[str, Any] = {}
        self._edges: dict[str, frozenset[str]] = {}
        self._inliner = Inliner(self._definition, self._pointers, self.def_names)
        self._shapes: dict[tuple[str, int], dict[str, Any]] = {}

    # -- public -------------------------------------------------------------------------------
    def convert(self, schema: Any) -> tuple[dict[str, Any], set[str]]:
        """Convert one inline schema; returns it and the pointers of the definitions it refers to."""
        refs: set[str] = set()
        converted = self._node(schema, refs)
        return converted, refs

    def finish(self, schema: dict[str, Any], refs: set[str]) -> dict[str, Any]:
        """A tool's root schema with its references written out where that is possible and small (`inline.py`);
        `refs` are the pointers `convert` reported for the parts of `schema`."""
        return self._inliner.finish(schema, refs)

    def resolve(self, schema: Any) -> Any:
        """Follow `$ref`s at the root of a schema to the node they end at (for shape decisions)."""
        return deref(self.document, schema)

    # -- internals -----------------------------------------------------------------------------
    def _ref(self, ref: str, refs: set[str]) -> dict[str, Any]:
        if ref not in self.def_names:
            self.resolve({"$ref": ref})  # raises OperationSkipped when it dangles or only points at itself
            self.def_names[ref] = def_name_for(ref, self._taken)
            self._pointers[f"#/$defs/{self.def_names[ref]}"] = ref
        refs.add(ref)
        return {"$ref": f"#/$defs/{self.def_names[ref]}"}

    def _definition(self, ref: str) -> tuple[Any, frozenset[str]]:
        if ref not in self._defs:  # a cycle back to `ref` is only a name (see `_ref`), never a re-visit
            edges: set[str] = set()
            self._defs[ref] = self._node(lookup(self.document, ref), edges)
            self._edges[ref] = frozenset(edges)
        return self._defs[ref], self._edges[ref]

    def _schemas(self, values: Any, refs: set[str]) -> list[Any] | None:
        if not isinstance(values, list):
            return None
        out = [self._node(v, refs) for v in values if isinstance(v, dict | bool)]
        return out or None

    def _node(self, node: Any, refs: set[str]) -> Any:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            return {}
        out: dict[str, Any] = {}
        ref = node.get("$ref")
        if isinstance(ref, str):
            out.update(self._ref(ref, refs))
            if not self.openapi_31:  # 3.0: siblings of $ref are ignored, except words for people
                for key in ("description", "title"):
                    if isinstance(node.get(key), str):
                        out[key] = node[key]
                return out
        nullable = node.get("nullable") is True
        self._copy_type(node, out, nullable)
        for key in _TEXT_KEYS:
            if isinstance(node.get(key), str):
                out[key] = node[key]
        for key in _BOOL_KEYS:
            if isinstance(node.get(key), bool):
                out[key] = node[key]
        for key in _NUMBER_KEYS:
            if _is_number(node.get(key)):
                out[key] = node[key]
        if "multipleOf" in out and out["multipleOf"] <= 0:
            del out["multipleOf"]
        for key in _COUNT_KEYS:
            value = node.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                out[key] = value
        self._copy_exclusive(node, out)
        if _valid_pattern(node.get("pattern")):
            out["pattern"] = node["pattern"]
        if isinstance(node.get("enum"), list) and node["enum"]:
            enum = list(node["enum"])
            if nullable and None not in enum:
                enum.append(None)
            out["enum"] = enum
        if "const" in node:
            out["const"] = node["const"]
        if "default" in node:
            out["default"] = node["default"]
        if "example" in node:
            out["examples"] = [node["example"]]
        elif isinstance(node.get("examples"), list):
            out["examples"] = node["examples"]
        self._copy_object(node, out, refs)
        self._copy_array(node, out, refs)
        for key in ("allOf", "anyOf", "oneOf"):
            subs = self._schemas(node.get(key), refs)
            if subs:
                out[key] = subs
        if isinstance(node.get("not"), dict | bool):
            out["not"] = self._node(node["not"], refs)
        if nullable and "type" not in out and "enum" not in out and "const" not in out:
            return _or_null(out)
        return _without_type_arrays(out)

    def _copy_type(self, node: dict[str, Any], out: dict[str, Any], nullable: bool) -> None:
        kind = node.get("type")
        kinds = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else []
        kinds = list(dict.fromkeys(k for k in kinds if isinstance(k, str) and k in _TYPES))
        if not kinds:
            return
        if nullable and "null" not in kinds:
            kinds.append("null")
        out["type"] = kinds[0] if len(kinds) == 1 else kinds  # a list is made portable by `_without_type_arrays`

    def _copy_exclusive(self, node: dict[str, Any], out: dict[str, Any]) -> None:
        for key, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            value = node.get(key)
            if value is True and bound in out:  # 3.0 boolean form
                out[key] = out.pop(bound)
            elif _is_number(value):
                out[key] = value

    def _copy_object(self, node: dict[str, Any], out: dict[str, Any], refs: set[str]) -> None:
        props = node.get("properties")
        dropped: set[str] = set()
        if isinstance(props, dict):
            converted = {}
            for name, sub in props.items():
                if isinstance(sub, dict) and sub.get("readOnly") is True:
                    dropped.add(str(name))
                    continue
                converted[str(name)] = self._node(sub, refs)
            out["properties"] = converted
        required = node.get("required")
        if isinstance(required, list):
            names = [r for r in dict.fromkeys(r for r in required if isinstance(r, str)) if r not in dropped]
            if names:
                out["required"] = names
        extra = node.get("additionalProperties")
        if isinstance(extra, bool):
            out["additionalProperties"] = extra
        elif isinstance(extra, dict):
            out["additionalProperties"] = self._node(extra, refs)
        if isinstance(node.get("patternProperties"), dict):
            patterns = {p: self._node(s, refs) for p, s in node["patternProperties"].items()
                        if _valid_pattern(p)}
            if patterns:
                out["patternProperties"] = patterns

    def _copy_array(self, node: dict[str, Any], out: dict[str, Any], refs: set[str]) -> None:
        items = node.get("items")
        if isinstance(items, dict | bool):
            out["items"] = self._node(items, refs)
        elif isinstance(items, list) and items:  # tuple form
            out["prefixItems"] = [self._node(i, refs) for i in items]
        if isinstance(node.get("prefixItems"), list):
            out["prefixItems"] = [self._node(i, refs) for i in node["prefixItems"]]

    def shape(self, node: Any, depth: int = 1) -> dict[str, Any]:
        """Output mode: the names a response has, never what they must hold; `depth` levels of references."""
        if not isinstance(node, dict):
            return {}
        ref = node.get("$ref")
        if isinstance(ref, str):
            if depth == 0:
                return {}
            if (ref, depth) not in self._shapes:  # every reference costs a level, so a cycle ends at depth 0
                self._shapes[(ref, depth)] = self.shape(lookup(self.document, ref), depth - 1)
            return self._shapes[(ref, depth)]
        out: dict[str, Any] = {}
        props = node.get("properties")
        if isinstance(props, dict):
            out["properties"] = {str(k): self.shape(v, depth) for k, v in props.items()}
        if isinstance(node.get("items"), dict):
            out["items"] = self.shape(node["items"], depth)
        for key in ("allOf", "anyOf", "oneOf"):
            if isinstance(node.get(key), list):
                subs = [self.shape(v, depth) for v in node[key]]
                if any(subs):
                    out["allOf" if key == "allOf" else "anyOf"] = subs
        return out
