"""OpenAPI Schema Objects -> portable JSON Schema 2020-12: dialect fixes, dropped keywords, nullable as `anyOf`,
references written out (recursive and large repeated ones kept in `$defs`)."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from mcp_gateway.compile import compile_document
from mcp_gateway.compile.schema import SchemaConverter
from mcp_gateway.profile import Profile
from tests.strict_client import tools_problems


def convert(schema: dict, openapi_31: bool = False, components: dict | None = None) -> dict:
    """One schema converted, checked against the 2020-12 meta-schema on the way out."""
    document = {"components": {"schemas": components or {}}}
    converted, _ = SchemaConverter(document, openapi_31).convert(schema)
    Draft202012Validator.check_schema(converted)
    return converted


def test_nullable_30_becomes_an_any_of_with_null():
    assert convert({"type": "string", "nullable": True}) == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert convert({"type": "string", "enum": ["a"], "nullable": True}) == {
        "anyOf": [{"type": "string", "enum": ["a"]}, {"type": "null"}]}
    assert convert({"nullable": True, "allOf": [{"type": "integer"}]}) == {
        "anyOf": [{"allOf": [{"type": "integer"}]}, {"type": "null"}]}
    assert convert({"type": "integer", "nullable": True, "description": "d", "default": None, "minimum": 1}) == {
        "anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}], "description": "d", "default": None}


def test_31_type_arrays_become_one_branch_per_type():
    assert convert({"type": ["integer", "null"]}, openapi_31=True) == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert convert({"type": ["string", "integer"], "minLength": 2, "maximum": 9, "title": "t"}, openapi_31=True) == {
        "title": "t", "anyOf": [{"type": "string", "minLength": 2}, {"type": "integer", "maximum": 9}]}
    assert convert({"type": ["string", "array", "null"], "items": {"type": "string"}, "anyOf": [{"minLength": 1}]},
                   openapi_31=True) == {
        "anyOf": [{"allOf": [{"anyOf": [{"minLength": 1}]}],
                   "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}, {"type": "null"}]}


def test_an_enum_without_null_keeps_null_out():
    assert convert({"type": ["string", "null"], "enum": ["a", "b"]}, openapi_31=True) == {
        "type": "string", "enum": ["a", "b"]}
    assert convert({"type": ["string", "integer"], "enum": ["a", 1, True]}, openapi_31=True) == {"enum": ["a", 1]}
    assert convert({"type": ["string", "null"], "const": "a"}, openapi_31=True) == {"const": "a"}


def test_nothing_left_is_a_type_array():
    cases = [({"type": t, "nullable": n}, v) for t in ("string", ["integer", "string"], ["null"]) for n in (True, False)
             for v in (False, True)]
    for schema, openapi_31 in cases:
        converted = json.dumps(convert(schema, openapi_31=openapi_31))
        assert '"type": [' not in converted, (schema, converted)


def test_boolean_exclusive_bounds_become_numbers():
    assert convert({"type": "number", "minimum": 1, "exclusiveMinimum": True}) == {
        "type": "number", "exclusiveMinimum": 1}
    assert convert({"maximum": 9, "exclusiveMaximum": True}) == {"exclusiveMaximum": 9}
    assert convert({"minimum": 1, "exclusiveMinimum": False}) == {"minimum": 1}
    assert convert({"exclusiveMinimum": True}) == {}
    assert convert({"exclusiveMinimum": 2.5}, openapi_31=True) == {"exclusiveMinimum": 2.5}


def test_example_becomes_examples():
    assert convert({"type": "string", "example": "x"}) == {"type": "string", "examples": ["x"]}
    assert convert({"examples": ["a", "b"]}, openapi_31=True) == {"examples": ["a", "b"]}
    assert convert({"examples": {"one": {"value": 1}}}) == {}


def test_read_only_properties_are_left_out_of_inputs():
    schema = {"type": "object", "required": ["id", "name"],
              "properties": {"id": {"type": "integer", "readOnly": True}, "name": {"type": "string"}}}
    assert convert(schema) == {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}


@pytest.mark.parametrize("schema", [
    {"type": "file"},
    {"type": "strin"},
    {"pattern": "([a-z"},
    {"minLength": -1},
    {"maxItems": 1.5},
    {"multipleOf": 0},
    {"minimum": "1"},
    {"minimum": json.loads("NaN")},
    {"maximum": json.loads("Infinity")},
    {"enum": []},
    {"enum": "abc"},
    {"required": "name"},
    {"properties": ["a"]},
    {"discriminator": {"propertyName": "kind"}},
    {"xml": {"name": "x"}},
    {"externalDocs": {"url": "x"}},
    {"allOf": []},
    {"allOf": "x"},
    {"items": "x"},
    {"additionalProperties": "yes"},
    {"description": 3},
    {"format": None},
])
def test_invalid_keywords_are_dropped(schema):
    assert convert(schema) == {}


def test_tuple_items_become_prefix_items():
    assert convert({"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}) == {
        "type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}


def finished(schema: dict, components: dict, openapi_31: bool = False) -> dict:
    """A tool's root schema with one argument `x`, references written out as for a tool; checked on the way out."""
    converter = SchemaConverter({"components": {"schemas": components}}, openapi_31)
    converted, refs = converter.convert(schema)
    root = converter.finish({"type": "object", "properties": {"x": converted}}, refs)
    Draft202012Validator.check_schema(root)
    return root


def test_siblings_of_ref_in_30_keep_only_words_for_people():
    components = {"Pet": {"type": "object"}}
    schema = {"$ref": "#/components/schemas/Pet", "description": "the pet", "nullable": True, "type": "string"}
    assert convert(schema, components=components) == {"$ref": "#/$defs/Pet", "description": "the pet"}
    assert finished(schema, components)["properties"]["x"] == {"type": "object", "description": "the pet"}
    assert convert({"$ref": "#/components/schemas/Pet", "minProperties": 1}, openapi_31=True,
                   components=components) == {"$ref": "#/$defs/Pet", "minProperties": 1}
    assert finished({"$ref": "#/components/schemas/Pet", "minProperties": 1}, components, openapi_31=True) == {
        "type": "object", "properties": {"x": {"minProperties": 1, "allOf": [{"type": "object"}]}}}


def test_non_recursive_references_are_written_out_and_shared():
    components = {"Id": {"type": "string", "minLength": 1},
                  "Pair": {"type": "object", "properties": {"a": {"$ref": "#/components/schemas/Id"},
                                                            "b": {"$ref": "#/components/schemas/Id"}}}}
    converter = SchemaConverter({"components": {"schemas": components}}, openapi_31=False)
    converted, refs = converter.convert({"$ref": "#/components/schemas/Pair"})
    one = converter.finish({"type": "object", "properties": {"x": converted}}, refs)
    assert one == {"type": "object", "properties": {"x": {"type": "object", "properties": {
        "a": {"type": "string", "minLength": 1}, "b": {"type": "string", "minLength": 1}}}}}
    converted, refs = converter.convert({"$ref": "#/components/schemas/Pair"})
    two = converter.finish({"type": "object", "properties": {"y": converted}}, refs)
    assert two["properties"]["y"] is one["properties"]["x"]  # one object for every tool that uses it


def test_recursive_schemas_stay_refs_and_are_converted_once():
    document = {"components": {"schemas": {
        "Node": {"type": "object", "properties": {"children": {"type": "array",
                                                               "items": {"$ref": "#/components/schemas/Node"}},
                                                  "owner": {"$ref": "#/components/schemas/User"},
                                                  "tag": {"$ref": "#/components/schemas/Tag"}}},
        "User": {"type": "object", "properties": {"best": {"$ref": "#/components/schemas/Node"}}},
        "Tag": {"type": "string"},
    }}}
    converter = SchemaConverter(document, openapi_31=False)
    converted, refs = converter.convert({"$ref": "#/components/schemas/Node"})
    root = converter.finish({"type": "object", "properties": {"x": converted}}, refs)
    assert root["properties"]["x"] == {"$ref": "#/$defs/Node"}
    defs = root["$defs"]
    assert set(defs) == {"Node", "User"}  # Tag is not recursive: written out
    assert defs["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert defs["Node"]["properties"]["tag"] == {"type": "string"}
    assert defs["User"]["properties"]["best"] == {"$ref": "#/$defs/Node"}
    converted, refs = converter.convert({"$ref": "#/components/schemas/User"})
    again = converter.finish({"type": "object", "properties": {"x": converted}}, refs)
    assert again["$defs"]["Node"] is defs["Node"]  # shared, not converted twice
    Draft202012Validator.check_schema(root)


def test_def_names_are_safe_and_unique():
    def recursive(kind: str) -> dict:
        return {"type": "object",
                "properties": {"kind": {"const": kind}, "again": {"$ref": f"#/components/schemas/{kind}"}}}

    names = {"a b": "a%20b", "a_b": "a_b", "x~1y": "x~01y"}
    document = {"components": {"schemas": {name: recursive(escaped) for name, escaped in names.items()}}}
    converter = SchemaConverter(document, openapi_31=False)
    refs: set[str] = set()
    properties = {}
    for name, escaped in names.items():
        properties[name], found = converter.convert({"$ref": f"#/components/schemas/{escaped}"})
        refs |= found
    assert sorted(converter.finish({"type": "object", "properties": properties}, refs)["$defs"]) == [
        "a_b", "a_b_2", "x_1y"]


def test_a_long_chain_of_definitions_needs_no_recursion_depth():
    chain = {f"D{i}": {"type": "object", "properties": {"next": {"$ref": f"#/components/schemas/D{i + 1}"}}}
             for i in range(3000)}
    chain["D3000"] = {"type": "string"}
    root = finished({"$ref": "#/components/schemas/D2990"}, chain)
    assert root["properties"]["x"]["properties"]["next"]["properties"]["next"]["properties"]["next"]["properties"][
        "next"]["properties"]["next"]["properties"]["next"]["properties"]["next"]["properties"]["next"]["properties"][
        "next"]["properties"]["next"] == {"type": "string"}


def test_large_definitions_reused_within_a_tool_stay_references():
    """Each level uses the next twice: written out in full, the 30 levels would be 2**30 copies of the last."""
    big = {"type": "string", "description": "x" * 3000}
    levels = {f"L{i}": {"type": "object", "properties": {"a": {"$ref": f"#/components/schemas/L{i + 1}"},
                                                         "b": {"$ref": f"#/components/schemas/L{i + 1}"}}}
              for i in range(30)}
    levels["L30"] = big
    root = finished({"$ref": "#/components/schemas/L0"}, levels)
    size = len(json.dumps(root))
    assert size < 20_000
    assert root["properties"]["x"]["properties"]["a"] == {"$ref": "#/$defs/L1"}  # L1 is large and used twice
    assert root["$defs"]["L30"] == big
    small = finished({"$ref": "#/components/schemas/L29"}, {**levels, "L30": {"type": "string"}})
    assert "$defs" not in small  # small definitions are written out wherever they are used


def _document(schemas: dict, body: dict, response: dict | None = None) -> dict:
    op = {"operationId": "op", "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
          "responses": {"200": {"description": "ok",
                                "content": {"application/json": {"schema": response or {"type": "object"}}}}}}
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/x": {"post": op}},
            "components": {"schemas": schemas}}


def test_tools_carry_only_the_defs_they_reach_and_validate():
    schemas = {
        "Tree": {"type": "object",
                 "properties": {"kids": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}}},
        "Unused": {"type": "string"},
    }
    body = {"type": "object", "required": ["tree"], "properties": {"tree": {"$ref": "#/components/schemas/Tree"}}}
    compilation = compile_document(_document(schemas, body, {"$ref": "#/components/schemas/Tree"}), Profile(spec="x"))
    tool = compilation.tools[0].to_mcp()
    assert tools_problems([tool]) == []
    assert tool["inputSchema"]["properties"]["tree"] == {"$ref": "#/$defs/Tree"}
    assert set(tool["inputSchema"]["$defs"]) == {"Tree"}  # recursive: Unused is not reached, nothing else is kept
    assert tool["outputSchema"]["type"] == "object"


def test_output_schemas_are_the_shape_without_types_or_words():
    schemas = {"Tree": {"type": "object", "title": "Tree", "description": "A tree.", "required": ["name"],
                        "properties": {"name": {"type": "string", "title": "Name", "description": "Its name."},
                                       "kids": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}},
                                       "tags": {"anyOf": [{"type": "string", "description": "One tag."},
                                                          {"type": "array", "items": {"type": "string"}}]}}}}
    compilation = compile_document(_document(schemas, {"type": "object"}, {"$ref": "#/components/schemas/Tree"}),
                                   Profile(spec="x"))
    assert compilation.tools[0].output_schema == {"type": "object", "properties": {  # a reference one level deep
        "name": {}, "kids": {"items": {}}, "tags": {"anyOf": [{}, {"items": {}}]}}}


def test_a_dangling_ref_skips_only_its_operation():
    document = _document({}, {"$ref": "#/components/schemas/Missing"})
    document["paths"]["/y"] = {"get": {"operationId": "fine", "responses": {"200": {"description": "ok"}}}}
    compilation = compile_document(document, Profile(spec="x"))
    assert [t.name for t in compilation.tools] == ["fine"]
    assert compilation.skipped[0].operation == "POST /x"
    assert "#/components/schemas/Missing" in compilation.skipped[0].reason


def test_a_dangling_ref_in_a_response_costs_only_the_output_schema():
    compilation = compile_document(_document({}, {"type": "object"}, {"$ref": "#/components/schemas/Gone"}),
                                   Profile(spec="x"))
    assert compilation.tools[0].output_schema is None


def test_a_ref_that_only_points_at_itself_skips_its_operation():
    schemas = {"Loop": {"$ref": "#/components/schemas/Loop"}}
    compilation = compile_document(_document(schemas, {"type": "object", "properties": {
        "x": {"$ref": "#/components/schemas/Loop"}}}), Profile(spec="x"))
    assert compilation.tools == ()
    assert compilation.skipped[0].reason == "reference chain is too long or circular"
