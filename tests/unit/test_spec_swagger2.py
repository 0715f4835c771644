"""Swagger 2.0 -> OpenAPI 3 shape: bodies, form data, collection formats, security, media types."""

from __future__ import annotations

import pytest

from mcp_gateway.compile import compile_document
from mcp_gateway.errors import DocumentError
from mcp_gateway.profile import Profile
from mcp_gateway.spec import normalise
from tests.common import fixture_document
from tests.strict_client import tools_problems


@pytest.fixture(scope="module")
def converted() -> dict:
    return normalise(fixture_document("swagger2_pets.yaml"), "pets.json")


def test_servers_and_components(converted):
    assert converted["openapi"].startswith("3.0")
    assert converted["servers"] == [{"url": "https://api.example.com/v2"}]
    assert set(converted["components"]["schemas"]) == {"Pet"}
    owner = converted["components"]["schemas"]["Pet"]["properties"]["owner"]
    assert owner == {"$ref": "#/components/schemas/Pet"}
    assert converted["components"]["schemas"]["Pet"]["properties"]["tag"] == {"type": "string", "nullable": True}
    assert "petBody" not in converted["components"].get("parameters", {})


def test_security_definitions(converted):
    schemes = converted["components"]["securitySchemes"]
    assert schemes["key"] == {"type": "apiKey", "in": "header", "name": "X-Key"}
    assert schemes["basic"] == {"type": "http", "scheme": "basic"}
    assert schemes["oauth"]["flows"] == {"authorizationCode": {
        "authorizationUrl": "https://a", "tokenUrl": "https://t", "scopes": {"read": "read"}}}
    assert converted["security"] == [{"key": []}]


def test_query_parameters_and_collection_formats(converted):
    params = {p["name"]: p for p in converted["paths"]["/pets"]["get"]["parameters"]}
    assert params["limit"]["schema"] == {"type": "integer", "maximum": 100}
    assert params["tags"]["style"] == "form" and params["tags"]["explode"] is True
    assert params["ids"]["style"] == "pipeDelimited" and params["ids"]["explode"] is False
    assert params["ids"]["schema"] == {"type": "array", "items": {"type": "integer"}}


def test_body_parameter_and_produces(converted):
    post = converted["paths"]["/pets"]["post"]
    assert post["requestBody"] == {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}
    assert set(post["responses"]["201"]["content"]) == {"application/json", "application/xml"}
    assert [p["name"] for p in post["parameters"]] == ["limit"]  # the path item's, merged in


def test_form_data_becomes_a_form_body(converted):
    upload = converted["paths"]["/pets/{id}/photo"]["post"]["requestBody"]
    schema = upload["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["file"] == {"type": "string", "format": "binary"}
    assert schema["required"] == ["file"]
    rename = converted["paths"]["/pets/{id}/rename"]["post"]["requestBody"]
    content = rename["content"]["application/x-www-form-urlencoded"]
    assert content["encoding"] == {"names": {"style": "form", "explode": False}}


def test_converted_document_compiles_to_valid_tools(converted):
    compilation = compile_document(converted, Profile(spec="pets.json"))
    tools = {tool.name: tool for tool in compilation.tools}
    assert set(tools) == {"listPets", "addPet", "uploadPhoto", "renamePet"}
    assert tools_problems(tool.to_mcp() for tool in compilation.tools) == []
    assert tools["addPet"].plan.body.kind == "json" and tools["addPet"].plan.body.fields == (
        ("name", "name"), ("tag", "tag"), ("owner", "owner"))
    assert tools["uploadPhoto"].plan.body.kind == "multipart"
    assert tools["uploadPhoto"].plan.body.binary_fields == frozenset({"file"})
    assert tools["renamePet"].input_schema["required"] == ["id", "names"]
    assert compilation.default_base_url == "https://api.example.com/v2"


@pytest.mark.parametrize("document", [{"info": {}}, {"swagger": "1.2"}, {"openapi": "4.0"}])
def test_other_documents_are_refused_by_name(document):
    with pytest.raises(DocumentError, match=r"doc\.json.*not an OpenAPI 3\.x or Swagger 2\.0"):
        normalise(document, "doc.json")
