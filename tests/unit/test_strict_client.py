"""The tool checker agrees with jsonschema's check_schema, and catches what strict clients refuse."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from tests.common import positions, replaced
from tests.strict_client import ToolChecker, tools_problems

SCHEMAS = [
    {"type": "object", "properties": {"a": {"type": "string", "description": "x"}}},
    {"type": "object", "properties": {"a": {"type": "strin"}}},
    {"type": "object", "properties": {"a": {"pattern": "([a-z"}}},
    {"type": "object", "properties": {"a": {"pattern": "^[a-z]+$", "enum": [1, "a", None]}}},
    {"type": "object", "properties": {"a": {"minLength": -1}}},
    {"type": "object", "properties": {"a": {"required": ["x", "x"]}}},
    {"type": "object", "properties": {"a": {"enum": "x"}}},
    {"type": "object", "properties": {"a": {"examples": {"x": 1}}}},
    {"type": "object", "properties": {"a": {"description": 3}}},
    {"type": "object", "properties": {"a": "x"}},
    {"type": "object", "patternProperties": {"([": {"type": "string"}}},
    {"type": "object", "$defs": {"A": {"items": [{"type": "string"}]}}, "properties": {"a": {"$ref": "#/$defs/A"}}},
    {"type": "object", "$defs": {"A": {"prefixItems": [{"type": "string"}], "default": {"any": "thing"}}}},
    {"anyOf": [{"type": "object"}, {"type": "nul"}]},
    {"type": "object", "properties": {"a": {"anyOf": [True, False, {"const": {"x": [1]}}]}}},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_meta_problems_agree_with_check_schema(schema):
    try:
        Draft202012Validator.check_schema(schema)
        valid = True
    except SchemaError:
        valid = False
    checker = ToolChecker()
    assert (checker.meta_problems(schema) == []) is valid
    assert (checker.meta_problems(schema) == []) is valid  # and again, from what it remembers


def tool(**changes) -> dict:
    base = {"name": "get_thing", "description": "d",
            "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}}}}
    return {**base, **changes}


@pytest.mark.parametrize(("changes", "problem"), [
    ({"name": "repos/get"}, "does not match"),
    ({"name": "x" * 65}, "does not match"),
    ({"inputSchema": {"type": "object", "properties": {"a b": {}}}}, "property 'a b' does not match"),
    ({"inputSchema": {"type": "object", "oneOf": [{"required": ["a"]}]}}, "oneOf at the root"),
    ({"inputSchema": {"type": "array"}}, "root type is 'array'"),
    ({"inputSchema": {"type": "object", "properties": {"a": {"$ref": "#/$defs/Gone"}}}}, "unresolvable $ref"),
    ({"inputSchema": {"type": "object", "properties": {"a": {"minimum": float("nan")}}}}, "not plain JSON"),
    ({"outputSchema": {"properties": {}}}, "outputSchema root type"),
    ({"outputSchema": {"type": "object", "properties": {"a": {"type": 3}}}}, "outputSchema is not valid 2020-12"),
])
def test_tool_problems(changes, problem):
    problems = ToolChecker().tool_problems(tool(**changes))
    assert any(problem in p for p in problems), problems


def test_valid_tools_and_case_folded_duplicates():
    assert tools_problems([tool(), tool(name="other")]) == []
    assert tools_problems([tool(), tool(name="Get_Thing")]) == ["Get_Thing: same name as 'get_thing' ignoring case"]


def test_refs_in_data_are_not_schema_refs():
    schema = {"type": "object", "properties": {"a": {"default": {"$ref": "#/nowhere"}, "examples": [{"$ref": "x"}]}}}
    assert ToolChecker().tool_problems(tool(inputSchema=schema)) == []


RICH = {
    "type": "object", "required": ["a"], "additionalProperties": False,
    "properties": {
        "a": {"type": ["string", "null"], "pattern": "^x", "minLength": 1, "description": "d", "examples": ["x"]},
        "b": {"type": "array", "items": {"$ref": "#/$defs/Node"}, "maxItems": 3, "uniqueItems": True},
        "c": {"anyOf": [{"type": "integer", "exclusiveMinimum": 0}, {"enum": [1, "two", None]}], "default": 1},
    },
    "$defs": {"Node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                       "patternProperties": {"^x-": {"const": {"k": "v"}}}}},
}


def test_meta_problems_agree_with_check_schema_on_every_mutation():
    checker = ToolChecker()  # one checker throughout, so that what it remembers is put to the test
    verdicts = []
    for path in positions(RICH):
        for junk in (None, -1, "x", "([", [], {}, [{}], True):
            schema = replaced(RICH, path, junk)
            try:
                Draft202012Validator.check_schema(schema)
                valid = True
            except SchemaError:
                valid = False
            assert (checker.meta_problems(schema) == []) is valid, (path, junk)
            verdicts.append(valid)
    assert verdicts.count(False) > 50 and verdicts.count(True) > 50
