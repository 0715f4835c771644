"""OpenAPI Schema Objects -> JSON Schema 2020-12: dialect fixes, dropped keywords, shared `$defs`."""

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


def test_nullable_30_becomes_a_null_type():
    assert convert({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert convert({"type": "string", "enum": ["a"], "nullable": True}) == {
        "type": ["string", "null"], "enum": ["a", None]}
    assert convert({"nullable": True, "allOf": [{"type": "integer"}]}) == {
        "anyOf": [{"allOf": [{"type": "integer"}]}, {"type": "null"}]}


def test_31_type_arrays_pass_through():
    assert convert({"type": ["integer", "null"]}, openapi_31=True) == {"type": ["integer", "null"]}


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


def test_siblings_of_ref_in_30_keep_only_words_for_people():
    components = {"Pet": {"type": "object"}}
    schema = {"$ref": "#/components/schemas/Pet", "description": "the pet", "nullable": True, "type": "string"}
    assert convert(schema, components=components) == {"$ref": "#/$defs/Pet", "description": "the pet"}
    assert convert({"$ref": "#/components/schemas/Pet", "minProperties": 1}, openapi_31=True,
                   components=components) == {"$ref": "#/$defs/Pet", "minProperties": 1}


def test_recursive_schemas_stay_refs_and_are_converted_once():
    document = {"components": {"schemas": {
        "Node": {"type": "object", "properties": {"children": {"type": "array",
                                                               "items": {"$ref": "#/components/schemas/Node"}},
                                                  "owner": {"$ref": "#/components/schemas/User"}}},
        "User": {"type": "object", "properties": {"best": {"$ref": "#/components/schemas/Node"}}},
    }}}
    converter = SchemaConverter(document, openapi_31=False)
    root, refs = converter.convert({"$ref": "#/components/schemas/Node"})
    assert root == {"$ref": "#/$defs/Node"}
    defs = converter.defs_for(refs)
    assert set(defs) == {"Node", "User"}
    assert defs["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert defs["User"]["properties"]["best"] == {"$ref": "#/$defs/Node"}
    again = converter.defs_for({"#/components/schemas/User"})
    assert again["Node"] is defs["Node"]  # shared, not converted twice
    Draft202012Validator.check_schema({"$defs": defs, **root})


def test_def_names_are_safe_and_unique():
    document = {"components": {"schemas": {"a b": {"type": "string"}, "a_b": {"type": "integer"},
                                           "x~1y": {"type": "boolean"}}}}
    converter = SchemaConverter(document, openapi_31=False)
    refs: set[str] = set()
    for ref in ("#/components/schemas/a b", "#/components/schemas/a_b", "#/components/schemas/x~01y"):
        refs |= converter.convert({"$ref": ref})[1]
    assert sorted(converter.defs_for(refs)) == ["a_b", "a_b_2", "x_1y"]


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
    assert set(tool["inputSchema"]["$defs"]) == {"Tree"}
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
