"""Schema profiles: gemini's and openai-strict's subsets, what each rewrites, and calls still checked in full."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from mcp_gateway.arguments import ArgumentChecker
from mcp_gateway.build import TargetOptions, profile_for
from mcp_gateway.cli import build_parser
from mcp_gateway.compile import compile_document
from mcp_gateway.compile.schema_profiles import GEMINI_KEYWORDS, OPENAI_STRICT_KEYWORDS
from mcp_gateway.plan import CompiledTool
from mcp_gateway.profile import Profile, load_profile, looks_like_profile
from mcp_gateway.spec import read_document
from tests.common import ROOT, SPECS, needs_shared_specs
from tests.strict_client import subschemas

SCHEMAS = {
    "Tree": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "kids": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}}},
    "Colour": {"type": "string", "enum": ["red", "green"], "nullable": True},
    "Level": {"type": "integer", "enum": [1, 2, 3]},
}
BODY = {"type": "object", "required": ["id", "tree"], "properties": {
    "id": {"type": "string", "format": "uuid", "pattern": "^[a-f0-9-]+$", "minLength": 36, "description": "The id."},
    "tree": {"$ref": "#/components/schemas/Tree"},
    "colour": {"$ref": "#/components/schemas/Colour"},
    "level": {"$ref": "#/components/schemas/Level"},
    "note": {"type": "string", "nullable": True, "maxLength": 10},
    "when": {"type": "string", "format": "date-time"},
    "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 1},
    "count": {"type": "integer", "exclusiveMinimum": True, "minimum": 0},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    "extra": {"type": "object"},
    "owner": {"allOf": [{"type": "object", "properties": {"login": {"type": "string"}}, "required": ["login"]},
                        {"properties": {"site": {"type": "string"}}}]},
    "mode": {"const": "fast"},
    "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    "value": {"oneOf": [{"type": "string"}, {"type": "number"}], "nullable": True},
}}


def document(body: dict | None = None) -> dict:
    op = {"operationId": "plant", "requestBody": {"required": True,
                                                  "content": {"application/json": {"schema": body or BODY}}},
          "parameters": [{"name": "dry", "in": "query", "schema": {"type": "boolean"}}],
          "responses": {"200": {"description": "ok"}}}
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/trees": {"post": op}},
            "components": {"schemas": SCHEMAS}}


def tool(schema_profile: str, body: dict | None = None) -> CompiledTool:
    return compile_document(document(body), Profile(spec="x", schema_profile=schema_profile)).tools[0]


def keywords(schema: dict) -> set[str]:
    """Every keyword used anywhere in `schema` (property names are not keywords)."""
    return {key for _, node in subschemas(schema) for key in node}


def test_portable_is_the_default_and_has_nothing_else_to_check():
    portable = tool("portable")
    assert portable.argument_schema is None and not portable.strict_arguments
    assert portable.input_schema["properties"]["note"] == {
        "anyOf": [{"type": "string", "maxLength": 10}, {"type": "null"}]}
    assert portable.input_schema["$defs"].keys() == {"Tree"}  # recursive: the only reference left


def test_gemini_uses_only_the_documented_subset():
    gemini = tool("gemini")
    schema = gemini.input_schema
    assert keywords(schema) <= GEMINI_KEYWORDS
    Draft202012Validator.check_schema(schema)  # still JSON Schema too, for clients that check
    properties = schema["properties"]
    assert "additionalProperties" not in schema and "$defs" not in schema
    assert properties["note"] == {"type": "string", "maxLength": 10, "nullable": True}
    assert properties["colour"] == {"type": "string", "enum": ["red", "green"], "nullable": True}
    assert properties["level"] == {"type": "integer", "description": "(one of: 1, 2, 3)"}
    assert properties["id"] == {"type": "string", "description": "The id. (format: uuid)", "minLength": 36,
                                "pattern": "^[a-f0-9-]+$"}
    assert properties["when"] == {"type": "string", "format": "date-time"}
    assert properties["ratio"] == {"type": "number", "minimum": 0, "maximum": 1}
    assert properties["count"] == {"type": "integer", "minimum": 1}  # exclusive bound of an integer: exact
    assert properties["labels"] == {"type": "object", "description": "(an object with free keys)"}
    assert properties["owner"] == {"type": "object", "properties": {
        "login": {"type": "string"}, "site": {"type": "string"}}, "required": ["login"]}
    assert properties["mode"] == {"type": "string", "enum": ["fast"]}
    assert properties["either"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert properties["value"] == {"anyOf": [{"type": "string", "nullable": True},
                                             {"type": "number", "nullable": True}]}


def test_gemini_writes_recursion_out_to_a_fixed_depth():
    tree = tool("gemini").input_schema["properties"]["tree"]  # Tree entered once
    again = tree["properties"]["kids"]["items"]  # twice
    assert again["type"] == "object" and again["properties"]["name"] == {"type": "string"}
    cut = again["properties"]["kids"]["items"]
    assert cut == {"type": "object", "description": "(nested further: any object of this kind)"}


def test_gemini_keeps_type_specific_keywords_with_their_type():
    for _, node in subschemas(tool("gemini").input_schema):
        if "properties" in node or "required" in node:
            assert node.get("type") == "object", node
            assert set(node.get("required", [])) <= set(node.get("properties", {})), node
        if "items" in node:
            assert node.get("type") == "array", node
        if "nullable" in node:  # beside a type, where validators that know the keyword expect it
            assert "type" in node, node


def test_openai_strict_closes_every_object_and_requires_every_property():
    strict = tool("openai-strict")
    schema = strict.input_schema
    assert keywords(schema) <= OPENAI_STRICT_KEYWORDS
    Draft202012Validator.check_schema(schema)
    for _, node in subschemas(schema):
        if node.get("type") == "object":
            assert node["additionalProperties"] is False, node
            assert node["required"] == list(node["properties"]), node
    properties = schema["properties"]
    assert properties["dry"] == {"anyOf": [{"type": "boolean"}, {"type": "null"}]}  # optional: null allowed
    assert properties["id"] == {"type": "string", "description": "The id.", "pattern": "^[a-f0-9-]+$",
                                "format": "uuid"}
    assert properties["labels"] == {"anyOf": [
        {"type": "string", "description": "(a JSON object, written as JSON text)"}, {"type": "null"}]}
    assert properties["tree"] == {"$ref": "#/$defs/Tree"}  # recursion is supported in strict mode
    assert schema["$defs"]["Tree"]["properties"]["kids"] == {
        "anyOf": [{"type": "array", "items": {"$ref": "#/$defs/Tree"}}, {"type": "null"}]}


def test_openai_strict_with_no_arguments():
    op = {"operationId": "ping", "responses": {"200": {"description": "ok"}}}
    doc = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/ping": {"get": op}}}
    compiled = compile_document(doc, Profile(spec="x", schema_profile="openai-strict")).tools[0]
    assert compiled.input_schema == {"type": "object", "properties": {}, "required": [], "additionalProperties": False}


def test_calls_are_checked_against_the_portable_schema():
    gemini = tool("gemini")
    checker = ArgumentChecker()
    arguments = {"id": "0" * 36, "tree": {"name": "oak"}}
    assert checker.check(gemini, arguments)[1] is None
    _, problem = checker.check(gemini, {**arguments, "colour": "blue"})  # the enum still holds
    assert problem and "colour" in problem
    _, problem = checker.check(gemini, {**arguments, "treee": {}})  # so does the closed root gemini cannot say
    assert problem and "treee" in problem
    _, problem = checker.check(gemini, {**arguments, "count": 0})  # and the exclusive bound
    assert problem and "count" in problem


def test_openai_strict_nulls_mean_absent_and_json_text_is_the_object():
    strict = tool("openai-strict")
    checker = ArgumentChecker()
    sent = {"id": "0" * 36, "dry": None, "note": None, "colour": None, "level": None, "when": None, "ratio": None,
            "count": None, "labels": '{"a": "b"}', "extra": None, "mode": None, "either": None, "value": None,
            "owner": {"login": "me", "site": None},
            "tree": {"name": "oak", "kids": [{"name": "acorn", "kids": None}]}}
    arguments, problem = checker.check(strict, sent)
    assert problem is None
    assert arguments == {"id": "0" * 36, "labels": {"a": "b"}, "owner": {"login": "me"},
                         "tree": {"name": "oak", "kids": [{"name": "acorn"}]}}
    _, problem = checker.check(strict, {**sent, "labels": '{"a": 1}'})  # read back, then checked in full
    assert problem and "labels" in problem
    _, problem = checker.check(strict, {**sent, "id": None})  # a required property is no optional one
    assert problem and "id" in problem


def test_a_nullable_required_property_keeps_its_null():
    body = {"type": "object", "required": ["note"], "properties": {"note": {"type": "string", "nullable": True}}}
    arguments, problem = ArgumentChecker().check(tool("openai-strict", body), {"note": None})
    assert (arguments, problem) == ({"note": None}, None)


def _bundled() -> list[Path]:
    return [path for path in sorted((ROOT / "tool_specs").glob("*.yaml")) if looks_like_profile(str(path))]


@pytest.mark.parametrize("path", _bundled(), ids=lambda path: path.stem)
def test_bundled_profiles_under_gemini_use_only_its_subset(path):
    profile = load_profile(str(path))
    source = profile.spec_fallback or profile.spec
    if not Path(source).is_file():
        pytest.skip(f"{path.name}: its document {source} is not a local file here")
    compiled = compile_document(read_document(source), profile.model_copy(update={"schema_profile": "gemini"}))
    assert compiled.tools
    outside = {tool.name: keywords(tool.input_schema) - GEMINI_KEYWORDS for tool in compiled.tools}
    assert {name: keys for name, keys in outside.items() if keys} == {}


@needs_shared_specs
def test_github_under_gemini_uses_only_its_subset():
    path = SPECS / "realworld" / "github.com_api.github.com.json"
    compiled = compile_document(read_document(str(path)), Profile(spec=str(path), schema_profile="gemini"))
    assert len(compiled.tools) == 1223
    outside = {tool.name: keywords(tool.input_schema) - GEMINI_KEYWORDS for tool in compiled.tools}
    assert {name: keys for name, keys in outside.items() if keys} == {}
    assert '"type": [' not in json.dumps([tool.input_schema for tool in compiled.tools])


def test_flags_and_profile_keys_choose_the_schema_profile_and_name_budget(tmp_path, capsys):
    doc = tmp_path / "api.json"
    doc.write_text(json.dumps(document()), encoding="utf-8")
    profile_file = tmp_path / "api.yaml"
    profile_file.write_text(f"spec: {doc}\nschema_profile: gemini\nname_budget: 40\n", encoding="utf-8")
    profile, _ = profile_for(str(profile_file), TargetOptions(), single=False)
    assert (profile.schema_profile, profile.tool_name_limit) == ("gemini", 40)
    args = build_parser().parse_args(["tools", str(doc), "--schema-profile", "openai-strict", "--name-budget", "30"])
    for target in (str(profile_file), str(doc)):  # the flags apply to every target, profile or bare document
        profile, _ = profile_for(target, TargetOptions(schema_profile=args.schema_profile,
                                                       name_budget=args.name_budget), single=False)
        assert (profile.schema_profile, profile.tool_name_limit) == ("openai-strict", 30)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", str(doc), "--name-budget", "70"])
    assert "from 16 to 64" in capsys.readouterr().err
