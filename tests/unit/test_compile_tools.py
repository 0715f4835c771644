"""Operations -> tools: argument names, path templates, path-item refs, parameter content, bodies."""

from __future__ import annotations

from mcp_gateway.compile import compile_document
from mcp_gateway.compile.tools import operation_tags
from mcp_gateway.plan import PagePlan
from mcp_gateway.profile import Profile
from tests.strict_client import tools_problems

OK = {"200": {"description": "ok"}}


def compile_paths(paths: dict, **components) -> dict:
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths,
                "components": components}
    compilation = compile_document(document, Profile(spec="x"))
    assert tools_problems(tool.to_mcp() for tool in compilation.tools) == []
    return {tool.operation: tool for tool in compilation.tools}


def test_argument_names_are_safe_distinct_and_readable():
    params = [{"name": n, "in": "query", "schema": {"type": "string"}}
              for n in ("StartTime", "StartTime<", "StartTime>")]
    params += [{"name": "$.xgafv", "in": "query"}, {"name": "", "in": "header"}, {"name": "id", "in": "query"},
               {"name": "Content-Type", "in": "header"}]
    body = {"content": {"application/json": {"schema": {"type": "object", "properties": {
        "id": {"type": "string"}, "created": {"type": "string", "readOnly": True}, "name": {"type": "string"}}}}}}
    tool = compile_paths({"/things/{id}": {"post": {"parameters": params, "requestBody": body, "responses": OK}}})[
        "POST /things/{id}"]
    assert [(p.argument, p.name, p.location) for p in tool.plan.params] == [
        ("id", "id", "path"), ("StartTime", "StartTime", "query"), ("StartTime_lt", "StartTime<", "query"),
        ("StartTime_gt", "StartTime>", "query"), (".xgafv", "$.xgafv", "query"), ("query_id", "id", "query")]
    assert tool.plan.body.fields == (("body_id", "id"), ("name", "name"))
    assert tool.input_schema["required"] == ["id"]


def test_path_templates_win_over_declarations():
    declared = [{"name": "gone", "in": "path", "required": True, "schema": {"type": "string"}}]
    tool = compile_paths({"/a/{undeclared}": {"get": {"parameters": declared, "responses": OK}}})["GET /a/{undeclared}"]
    assert [(p.argument, p.location) for p in tool.plan.params] == [("undeclared", "path")]
    assert tool.input_schema["properties"]["undeclared"] == {"type": "string", "minLength": 1}
    assert tool.input_schema["required"] == ["undeclared"]


def test_path_item_refs_and_shared_parameters():
    item = {"parameters": [{"$ref": "#/components/parameters/Limit"}],
            "get": {"operationId": "listAll", "responses": OK}}
    tools = compile_paths({"/all": {"$ref": "#/components/x-items/all"}},
                          parameters={"Limit": {"name": "limit", "in": "query", "schema": {"type": "integer"}}},
                          **{"x-items": {"all": item}})
    assert tools["GET /all"].name == "listAll"
    assert tools["GET /all"].input_schema["properties"] == {"limit": {"type": "integer"}}


def test_parameters_described_with_content_are_sent_as_json():
    param = {"name": "q", "in": "query", "content": {"application/json": {"schema": {"type": "object"}}}}
    tool = compile_paths({"/search": {"get": {"parameters": [param], "responses": OK}}})["GET /search"]
    assert tool.plan.params[0].as_json is True
    assert tool.input_schema["properties"]["q"] == {"type": "object"}


def test_bodies_that_are_not_plain_objects_are_one_argument():
    body = {"required": True, "content": {"application/json": {"schema": {
        "oneOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"type": "array"}]}}}}
    tool = compile_paths({"/x": {"post": {"requestBody": body, "responses": OK}}})["POST /x"]
    assert tool.plan.body.argument == "body"
    assert tool.input_schema["required"] == ["body"]
    assert "oneOf" in tool.input_schema["properties"]["body"]


def test_operation_servers_and_tags():
    op = {"servers": [{"url": "https://{region}.example.com", "variables": {"region": {"default": "eu"}}}],
          "tags": ["a", 3, "b"], "responses": OK}
    tool = compile_paths({"/x": {"get": op}})["GET /x"]
    assert tool.plan.base_url == "https://eu.example.com"
    assert operation_tags(op) == ["a", "b"]  # what filters match against; a malformed tag is left out


def test_malformed_path_items_and_operations_are_skipped_by_name():
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                "paths": {"/x": {"get": "junk", "post": {"responses": OK}}, "/y": 3, "/z": {"$ref": "#/nowhere"},
                          "x-codegen-contextRoot": "/apis"}}
    compilation = compile_document(document, Profile(spec="x"))
    assert [t.operation for t in compilation.tools] == ["POST /x"]
    assert compilation.operations == 2
    assert [(s.operation, s.reason) for s in compilation.skipped] == [
        ("GET /x", "the operation is not an object"), ("* /y", "the path item is not an object"),
        ("* /z", "reference '#/nowhere' points at nothing")]


def test_an_optional_body_once_sent_needs_its_required_fields():
    body = {"content": {"application/json": {"schema": {"type": "object", "required": ["a", "b"], "properties": {
        "a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "integer"}}}}}}
    tool = compile_paths({"/x": {"post": {"requestBody": body, "responses": OK}}})["POST /x"]
    schema = tool.input_schema
    assert "required" not in schema
    assert schema["dependentRequired"] == {"a": ["b"], "b": ["a"], "c": ["a", "b"]}
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    assert validator.is_valid({}) and validator.is_valid({"a": "x", "b": "y"})
    assert not validator.is_valid({"a": "x"}) and not validator.is_valid({"c": 1})


def test_required_text_bodies_and_path_values_cannot_be_empty():
    body = {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}
    params = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
              {"name": "keys", "in": "query", "required": True,
               "schema": {"type": "array", "minItems": 0, "items": {"type": "string"}}},
              {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}},
              {"name": "f", "in": "query", "required": True, "schema": {"type": "object"}}]
    tool = compile_paths({"/t/{id}": {"put": {"parameters": params, "requestBody": body, "responses": OK}}})[
        "PUT /t/{id}"]
    props = tool.input_schema["properties"]
    assert props["id"]["minLength"] == 1 and props["keys"]["minItems"] == 1 and props["body"]["minLength"] == 1
    assert "minLength" not in props["q"] and props["f"]["minProperties"] == 1


def test_a_variable_in_the_query_part_of_a_path_key_is_a_query_parameter():
    tool = compile_paths({"/search?query={query}": {"get": {"responses": OK}}})["GET /search?query={query}"]
    assert [(p.argument, p.location) for p in tool.plan.params] == [("query", "query")]


def test_a_profile_can_give_a_body_the_document_leaves_out():
    document = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                "paths": {"/v1/embeddings": {"post": {"responses": OK}}}}
    profile = Profile(spec="x", overrides={"POST /v1/embeddings": {"request_body": {
        "type": "object", "required": ["input"], "properties": {"input": {"type": "string"}}}}})
    tool = compile_document(document, profile).tools[0]
    assert tool.plan.body.fields == (("input", "input"),) and tool.plan.body.media_type == "application/json"
    assert tool.input_schema["required"] == ["input"]


def test_a_profile_body_can_be_a_multipart_upload():
    """`request_body_media_type` says how the profile's body is sent: multipart, `format: binary` fields as files."""
    document = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                "paths": {"/v1/audio/transcriptions": {"post": {"responses": OK}}}}
    profile = Profile(spec="x", overrides={"POST /v1/audio/transcriptions": {
        "request_body_media_type": "multipart/form-data",
        "request_body": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary"}, "async": {"type": "boolean"}}}}})
    tool = compile_document(document, profile).tools[0]
    body = tool.plan.body
    assert (body.media_type, body.kind, body.binary_fields) == ("multipart/form-data", "multipart", {"file"})
    assert "data: URL" in tool.input_schema["properties"]["file"]["description"]
    assert tool.input_schema["properties"]["async"] == {"type": "boolean"}


def test_annotations_leave_mcp_defaults_unsaid():
    ops = {method: {"responses": OK} for method in ("get", "post", "put", "patch", "delete", "trace")}
    tools = compile_paths({"/x": ops})
    assert {label: tool.annotations for label, tool in tools.items()} == {
        "GET /x": {"readOnlyHint": True}, "POST /x": {"destructiveHint": False}, "PUT /x": {"idempotentHint": True},
        "PATCH /x": {"destructiveHint": False}, "DELETE /x": {"idempotentHint": True}, "TRACE /x": {}}
    assert "annotations" not in tools["TRACE /x"].to_mcp()


def test_annotation_overrides_apply_before_defaults_are_left_out():
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                "paths": {"/x": {"get": {"responses": OK}, "post": {"responses": OK}}}}
    closed = {"idempotentHint": True, "openWorldHint": False}
    profile = Profile(spec="x", overrides={"GET /x": {"annotations": {"readOnlyHint": False}},
                                           "POST /x": {"annotations": closed}})
    tools = {tool.operation: tool.annotations for tool in compile_document(document, profile).tools}
    assert tools == {"GET /x": {}, "POST /x": {"destructiveHint": False, **closed}}


def test_a_title_the_description_starts_with_is_not_sent_twice():
    ops = {"get": {"summary": "List pets", "description": "All of them.", "responses": OK},
           "delete": {"summary": "Drop pets", "deprecated": True, "responses": OK},
           "post": {"summary": "Add a pet", "responses": OK}}
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/pets": ops}}
    profile = Profile(spec="x", overrides={"POST /pets": {"description": "Adopt one."}})
    listed = {tool.operation: tool.to_mcp() for tool in compile_document(document, profile).tools}
    assert listed["GET /pets"]["description"] == "List pets\n\nAll of them.\n\nGET /pets"
    assert listed["DELETE /pets"]["description"] == "[Deprecated] Drop pets\n\nDELETE /pets"
    assert "title" not in listed["GET /pets"] and "title" not in listed["DELETE /pets"]
    assert listed["POST /pets"]["title"] == "Add a pet"  # the profile's description does not say it


def test_tools_with_a_json_answer_take_a_selection():
    json_ok = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "array"}}}}}
    text_ok = {"200": {"description": "ok", "content": {"text/plain": {"schema": {"type": "string"}}}}}
    reserved = [{"name": "_select", "in": "query", "schema": {"type": "string"}}]
    tools = compile_paths({"/a": {"get": {"parameters": reserved, "responses": json_ok}},
                           "/b": {"get": {"responses": text_ok}}, "/c": {"get": {"responses": OK}}})
    listed = tools["GET /a"]
    assert listed.select_argument == "_select" and listed.input_schema["properties"]["_select"]["type"] == "string"
    assert [(p.argument, p.name) for p in listed.plan.params] == [("select", "_select")]  # never colliding
    assert "_select" not in listed.input_schema.get("required", [])
    assert tools["GET /b"].select_argument is None and "_select" not in tools["GET /b"].input_schema["properties"]
    assert tools["GET /c"].select_argument is None  # no declared answer: nothing to select from


def test_pagination_is_planned_for_get_operations_a_profile_names():
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                "paths": {"/a": {"get": {"operationId": "listA", "responses": OK}, "post": {"responses": OK}}}}
    paginate = {"max_pages": 4, "items": "data", "cursor": "meta.next", "cursor_param": "after"}
    profile = Profile.model_validate({"spec": "x", "overrides": {"listA": {"paginate": paginate},
                                                                 "POST /a": {"paginate": {"max_pages": 2}}}})
    tools = {tool.operation: tool for tool in compile_document(document, profile).tools}
    assert tools["GET /a"].pagination == PagePlan(max_pages=4, items="data", cursor="meta.next", cursor_param="after")
    assert tools["POST /a"].pagination is None
