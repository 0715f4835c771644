"""A document read from a file may refer to schemas that live at a URL: they are fetched and bundled."""

from __future__ import annotations

import json
from pathlib import Path

from mcp_gateway.compile import compile_document
from mcp_gateway.profile import Profile
from mcp_gateway.spec import read_document
from tests.upstream import RecordingUpstream


def test_a_local_document_refers_to_a_schema_on_the_web(tmp_path: Path, upstream: RecordingUpstream) -> None:
    pet = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    upstream.reply(200, {"Pet": pet}, {"Content-Type": "application/json"})
    schema = {"$ref": f"{upstream.url}/schemas.json#/Pet"}
    body = {"required": True, "content": {"application/json": {"schema": schema}}}
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                "paths": {"/pets": {"post": {"operationId": "addPet", "requestBody": body,
                                             "responses": {"200": {"description": "ok"}}}}}}
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document))
    [tool] = compile_document(read_document(str(path)), Profile(spec=str(path))).tools
    assert tool.input_schema["properties"]["name"] == {"type": "string"}
    assert tool.input_schema["required"] == ["name"]
    assert [request.raw_path for request in upstream.requests] == ["/schemas.json"]
