"""Unit tests of result rendering: an upstream Reply -> an MCP CallToolResult (README "Calls and results")."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import mcp_types as types
import pytest

from mcp_gateway.exchange import Reply
from mcp_gateway.plan import CallPlan, CompiledTool
from mcp_gateway.redaction import Redactor
from mcp_gateway.response import (
    error_message,
    error_result,
    redact_result,
    render_error,
    render_stream,
    render_success,
)
from mcp_gateway.selection import compile_selection

URL = "http://api.test/v1/pets/7"
SCHEMA = {"type": "object", "properties": {"id": {}, "name": {}}}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def tool(output_schema: dict[str, Any] | None = None) -> CompiledTool:
    return CompiledTool(name="get_pet", title=None, description="Get a pet. GET /pets/{id}",
                        input_schema={"type": "object"}, output_schema=output_schema, annotations={},
                        plan=CallPlan(method="GET", path="/pets/{id}"), operation="GET /pets/{id}")


def reply(body: bytes, content_type: str | None = None, status: int = 200, total: int | None = None,
          headers: dict[str, str] | None = None) -> Reply:
    fields = {**({"content-type": content_type} if content_type else {}), **(headers or {})}
    return Reply(status=status, reason=httpx.codes.get_reason_phrase(status), headers=httpx.Headers(fields),
                 body=body, total_bytes=len(body) if total is None else total, url=URL)


def only_text(result: types.CallToolResult) -> str:
    assert len(result.content) == 1
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


# -- JSON ----------------------------------------------------------------------------------------------


def test_json_object_becomes_compact_text_and_structured_content() -> None:
    body = json.dumps({"id": 7, "name": "Rex", "tags": ["good", "boy"]}, indent=2).encode()
    result = render_success(tool(), reply(body, "application/json"), 10_000)
    assert not result.is_error
    assert only_text(result) == '{"id":7,"name":"Rex","tags":["good","boy"]}'
    assert result.structured_content == {"id": 7, "name": "Rex", "tags": ["good", "boy"]}


@pytest.mark.parametrize(("schema", "structured"), [(None, None), (SCHEMA, {"result": [1, {"a": "b"}]})])
def test_json_array_is_wrapped_only_for_an_output_schema(schema: dict[str, Any] | None, structured: Any) -> None:
    result = render_success(tool(schema), reply(b'[1, {"a": "b"}]', "application/json"), 10_000)
    assert only_text(result) == '[1,{"a":"b"}]'
    assert result.structured_content == structured


def test_json_in_its_declared_charset() -> None:
    body = '{"name": "Café Noël"}'.encode("iso-8859-1")
    result = render_success(tool(), reply(body, "application/json; charset=iso-8859-1"), 10_000)
    assert result.structured_content == {"name": "Café Noël"}
    assert only_text(result) == '{"name":"Café Noël"}'  # non-ASCII as itself, not \u escapes


@pytest.mark.parametrize("content_type", ["application/json", "application/problem+json", None])
def test_json_with_a_json_media_type_or_none_that_looks_like_json(content_type: str | None) -> None:
    result = render_success(tool(), reply(b' {"ok": true}', content_type), 10_000)
    assert only_text(result) == '{"ok":true}' and result.structured_content == {"ok": True}


def test_invalid_json_with_a_json_media_type_is_shown_as_text() -> None:
    body = b'{"id": 7, "name": '
    result = render_success(tool(), reply(body, "application/json"), 10_000)
    assert only_text(result) == body.decode() and result.structured_content is None


# -- text, images, audio, other bytes ----------------------------------------------------------------------


@pytest.mark.parametrize(("content_type", "body"), [
    ("text/plain", "hello, world"),
    ("text/plain; charset=utf-8", "naïve café ✓"),
    ("text/html", "<p>hi</p>"),
    ("text/csv", "id,name\n7,Rex\n"),
    ("application/xml", "<pet><id>7</id></pet>"),
    ("application/yaml", "id: 7\nname: Rex\n"),
    (None, "just words"),
])
def test_text_stays_text(content_type: str | None, body: str) -> None:
    result = render_success(tool(), reply(body.encode(), content_type), 10_000)
    assert only_text(result) == body and result.structured_content is None


@pytest.mark.parametrize(("content_type", "kind"), [
    ("image/png", types.ImageContent), ("image/jpeg", types.ImageContent),
    ("audio/mpeg", types.AudioContent), ("audio/wav", types.AudioContent),
])
def test_images_and_audio_become_their_content_types(content_type: str, kind: type) -> None:
    result = render_success(tool(), reply(PNG, content_type), 10_000)
    [block] = result.content
    assert isinstance(block, types.ImageContent | types.AudioContent) and isinstance(block, kind)
    assert base64.b64decode(block.data) == PNG and block.mime_type == content_type


@pytest.mark.parametrize("content_type", ["application/pdf", "application/octet-stream", "application/zip"])
def test_other_bytes_become_an_embedded_blob_at_the_reply_url(content_type: str) -> None:
    result = render_success(tool(), reply(PNG, content_type), 10_000)
    [block] = result.content
    assert isinstance(block, types.EmbeddedResource)
    assert isinstance(block.resource, types.BlobResourceContents)
    assert str(block.resource.uri) == URL and block.resource.mime_type == content_type
    assert base64.b64decode(block.resource.blob) == PNG
    assert result.structured_content is None


@pytest.mark.parametrize(("status", "content_type"), [(204, None), (200, "application/json"), (201, "text/plain")])
def test_empty_body_says_so(status: int, content_type: str | None) -> None:
    result = render_success(tool(), reply(b"", content_type, status=status), 10_000)
    text = only_text(result)
    assert text.startswith(f"GET /pets/{{id}} succeeded with HTTP {status} ") and text.endswith("no content.")
    assert result.structured_content is None and not result.is_error


# -- size cap --------------------------------------------------------------------------------------------


def test_text_over_the_cap_is_cut_with_a_note() -> None:
    body = b"".join(b"line %04d\n" % i for i in range(500))  # 5,000 bytes
    result = render_success(tool(), reply(body, "text/plain"), 100)
    text = only_text(result)
    shown, note = text.split("\n\n[truncated: ", 1)
    assert body.decode().startswith(shown) and len(shown) == 100
    assert "5,000 bytes" in note and "first 100" in note
    assert result.structured_content is None


def test_text_over_the_cap_shows_no_more_bytes_than_the_cap() -> None:
    body = "é".encode() * 100  # 200 bytes, 100 characters
    result = render_success(tool(), reply(body, "text/plain; charset=utf-8"), 50)
    shown = only_text(result).split("\n\n[truncated: ", 1)[0]
    assert len(shown.encode()) <= 50


def test_body_cut_upstream_is_noted_even_under_the_cap() -> None:
    result = render_success(tool(), reply(b'{"id": 7, "na', "application/json", total=90_000), 1_000)
    text = only_text(result)
    assert text.startswith('{"id": 7, "na\n\n[truncated: ')
    assert "90,000 bytes" in text and result.structured_content is None


@pytest.mark.parametrize("content_type", ["application/pdf", "image/png", "audio/ogg"])
def test_bytes_over_the_cap_become_a_note_and_no_blob(content_type: str) -> None:
    result = render_success(tool(), reply(b"\0" * 5000, content_type), 1_000)
    text = only_text(result)
    assert "5,000 bytes" in text and content_type in text and "not returned" in text


def test_bytes_cut_at_an_unknown_size_are_more_than_the_cut() -> None:
    cut = Reply(status=200, reason="OK", headers=httpx.Headers({"content-type": "application/pdf"}), body=b"\0" * 1_001,
                total_bytes=1_001, url=URL, size_known=False)
    text = only_text(render_success(tool(), cut, 1_000))
    assert "more than 1,000 bytes" in text and "1,001" not in text and "not returned" in text


def test_json_over_the_cap_is_cut_text_without_structured_content() -> None:
    body = json.dumps([{"id": i, "name": f"pet {i}"} for i in range(200)]).encode()
    result = render_success(tool(), reply(body, "application/json"), 500)
    text = only_text(result)
    assert text.startswith(body[:500].decode()) and "[truncated: " in text
    assert result.structured_content is None


def test_json_whose_compact_form_is_over_the_cap_is_cut() -> None:
    body = b"[" + b",".join([b"1e9"] * 10) + b"]"  # 41 bytes; compact form spells each 1000000000.0
    result = render_success(tool(), reply(body, "application/json"), 60)
    text = only_text(result)
    assert text.startswith("[1000000000.0,1000000000.0,") and "[truncated: " in text
    assert result.structured_content is None


# -- outputSchema: every success carries structuredContent -------------------------------------------------


@pytest.mark.parametrize(("body", "content_type", "total"), [
    (b"plain words", "text/plain", None),
    (b"", None, None),
    (b"{not json", "application/json", None),
    (PNG, "image/png", None),
    (PNG, "application/pdf", None),
    (b"x" * 5000, "text/plain", None),
    (b"\0" * 5000, "application/pdf", None),
    (b'{"id": 1', "application/json", 9_999),
])
def test_output_schema_makes_every_success_structured(body: bytes, content_type: str | None,
                                                     total: int | None) -> None:
    result = render_success(tool(SCHEMA), reply(body, content_type, total=total), 1_000)
    assert result.structured_content == {} and not result.is_error


def test_output_schema_with_a_json_object_keeps_the_object() -> None:
    result = render_success(tool(SCHEMA), reply(b'{"id": 7}', "application/json"), 1_000)
    assert result.structured_content == {"id": 7}


# -- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "expected"), [
    ({"error": {"message": "No pet 7", "type": "invalid_request_error", "code": "not_found"}},
     "No pet 7 (type: invalid_request_error, code: not_found)"),
    ({"error": {"message": "No pet 7", "type": "invalid_request_error", "code": None}},
     "No pet 7 (type: invalid_request_error)"),
    ({"error": {"message": "Too many", "code": 429}}, "Too many (code: 429)"),
    ({"message": "Pet not found"}, "Pet not found"),
    ({"error": "not_found"}, "not_found"),
    ({"type": "about:blank", "title": "Not Found", "status": 404, "detail": "No pet 7"}, "No pet 7"),  # RFC 9457
])
def test_error_message_shapes(data: Any, expected: str) -> None:
    assert error_message(data, json.dumps(data)) == expected


@pytest.mark.parametrize("data", [
    {"detail": [{"loc": ["path", "id"], "msg": "value is not a valid integer", "type": "type_error.integer"}]},
    {"errors": [{"message": "name is required", "field": "name"}]},
])
def test_error_lists_are_shown_as_json(data: dict[str, Any]) -> None:
    [items] = data.values()
    assert json.loads(error_message(data, json.dumps(data))) == items


def test_error_message_falls_back_to_the_raw_body() -> None:
    assert error_message(None, "  <h1>Bad Gateway</h1>\n") == "<h1>Bad Gateway</h1>"
    assert error_message({"unexpected": 1}, '{"unexpected": 1}') == '{"unexpected": 1}'


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (b'{"error": {"message": "No pet 7", "type": "invalid_request_error", "code": "not_found"}}',
     "application/json", "Upstream message: No pet 7 (type: invalid_request_error, code: not_found)"),
    (b'{"detail": [{"loc": ["path", "id"], "msg": "value is not a valid integer"}]}', "application/json",
     "value is not a valid integer"),
    (b'{"errors": [{"message": "name is required"}]}', "application/json", "name is required"),
    (b"<html><body><h1>404 Not Found</h1></body></html>", "text/html", "<h1>404 Not Found</h1>"),
    (b"", None, "Upstream message: (no message in the body)"),
])
def test_error_names_status_operation_and_message(body: bytes, content_type: str | None, expected: str) -> None:
    result = render_error(tool(), reply(body, content_type, status=404), [])
    text = only_text(result)
    assert result.is_error
    assert text.startswith("get_pet failed: the upstream answered HTTP 404 Not Found to GET /pets/{id}.")
    assert expected in text


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("env", [["PETS_API_KEY"], ["PETS_USER", "PETS_PASSWORD"]])
def test_auth_failures_name_the_environment_variables(status: int, env: list[str]) -> None:
    text = only_text(render_error(tool(), reply(b'{"message": "nope"}', "application/json", status=status), env))
    assert f"HTTP {status}" in text and "nope" in text
    assert all(name in text for name in env)


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limits_report_retry_after_and_limit_headers(status: int) -> None:
    headers = {"Retry-After": "7", "x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "0"}
    text = only_text(render_error(tool(), reply(b"slow down", "text/plain", status=status, headers=headers), []))
    assert "retry-after: 7" in text
    assert "x-ratelimit-limit-requests: 60" in text and "x-ratelimit-remaining-requests: 0" in text
    assert "Wait 7s before trying again." in text


def test_rate_limit_without_headers_still_says_to_wait() -> None:
    text = only_text(render_error(tool(), reply(b"", None, status=429), []))
    assert "Rate limit" not in text and "Wait a little before trying again." in text


def test_retry_after_as_an_http_date() -> None:
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    text = only_text(render_error(tool(), reply(b"", None, status=503, headers={"Retry-After": date}), []))
    assert date in text and f"{date}s" not in text


@pytest.mark.parametrize("status", [200, 500])
def test_json_nested_too_deep_is_shown_as_text(status: int) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    if status == 200:
        text = only_text(render_success(tool(), reply(body, "application/json"), 1_000_000))
        assert text == body.decode()
    else:
        text = only_text(render_error(tool(), reply(body, "application/json", status=500), []))
        assert "HTTP 500" in text and "Upstream message: [[[[" in text


def test_error_result() -> None:
    result = error_result("pets failed: try again")
    assert result.is_error and only_text(result) == "pets failed: try again"


def streamed(total: int, cap: int) -> Reply:
    """An event stream of `total` bytes read up to a limit of `cap` (+ 1), as Upstream reports it."""
    return Reply(status=200, reason="OK", headers=httpx.Headers({"content-type": "text/event-stream"}), body=b"",
                 total_bytes=total, url=URL, streamed=True, size_known=total <= cap)


def completion(content: str) -> dict[str, Any]:
    return {"object": "chat.completion", "choices": [{"message": {"role": "assistant", "content": content}}]}


def test_render_stream_is_compact_text_and_structure() -> None:
    result = render_stream(tool(), streamed(500, 1_000), completion("Hé"), 1_000)
    assert only_text(result) == ('{"object":"chat.completion",'
                                 '"choices":[{"message":{"role":"assistant","content":"Hé"}}]}')
    assert result.structured_content == completion("Hé") and not result.is_error


@pytest.mark.parametrize("schema", [None, SCHEMA])
def test_stream_cut_at_its_limit_says_so_and_keeps_no_partial_structure(schema: dict[str, Any] | None) -> None:
    result = render_stream(tool(schema), streamed(1_001, 1_000), completion("Hel"), 1_000)
    text = only_text(result)
    shown, note = text.split("\n\n[truncated: ", 1)
    assert shown == json.dumps(completion("Hel"), separators=(",", ":"))
    assert note.startswith("the event stream went on past 1,000 bytes") and "first 1,000" in note
    assert result.structured_content == ({} if schema else None) and not result.is_error


@pytest.mark.parametrize(("total", "said"), [(160, "the assembled result was 915 bytes"),
                                            (501, "the event stream went on past 500 bytes")])
def test_assembled_stream_over_the_cap_is_cut_to_it(total: int, said: str) -> None:
    events = {"events": ["\u0001" * 150]}  # 150 bytes on the wire, 900 and more as JSON text
    result = render_stream(tool(), streamed(total, 500), events, 500)
    shown, note = only_text(result).split("\n\n[truncated: ", 1)
    assert len(shown.encode()) <= 500 and shown.startswith('{"events":["\\u0001')
    assert said in note and result.structured_content is None


# -- redaction of results -----------------------------------------------------------------------------------

SECRET = "sk-live/abc123"


@pytest.mark.parametrize("raw", [
    '{"echo": "sk-live/abc123"}',
    '{"echo": "sk-live\\/abc123"}',  # JSON-escaped slash
    '{"echo": "\\u0073k-live/abc123"}',  # \u-escaped: invisible to a byte mask, plain once parsed
    '{"echo": "\\u0073k-live\\/abc123", "sk-live/abc123": 1}',
])
def test_secret_is_masked_in_text_and_structured_content(raw: str) -> None:
    result = render_success(tool(), reply(raw.encode(), "application/json"), 10_000)
    result = redact_result(result, Redactor([SECRET]))
    assert SECRET not in only_text(result) and "***" in only_text(result)
    assert SECRET not in json.dumps(result.structured_content)
    assert result.structured_content is not None and result.structured_content["echo"] == "***"


def test_secret_is_masked_in_error_text() -> None:
    result = render_error(tool(), reply(b'{"error": {"message": "key sk-live/abc123 revoked"}}', "application/json",
                                        status=401), ["PETS_API_KEY"])
    assert "key *** revoked" in only_text(redact_result(result, Redactor([SECRET])))


def test_structured_content_is_untouched_when_the_text_held_no_secret() -> None:
    result = render_success(tool(), reply(b'{"echo": "harmless"}', "application/json"), 10_000)
    structured = result.structured_content
    redacted = redact_result(result, Redactor([SECRET]))
    assert redacted.structured_content is structured and only_text(redacted) == '{"echo":"harmless"}'


def test_non_text_blocks_pass_through() -> None:
    result = redact_result(render_success(tool(), reply(PNG, "image/png"), 10_000), Redactor([SECRET]))
    assert isinstance(result.content[0], types.ImageContent)


def test_a_selection_is_applied_before_the_size_cap():
    pets = [{"id": i, "name": f"pet {i}", "notes": "n" * 50} for i in range(100)]
    body = json.dumps(pets).encode()  # read whole, past the cap, as it is for a selected call
    result = render_success(tool(), reply(body, "application/json"), 1024, compile_selection("_select", "[:3].id"))
    assert only_text(result) == "[0,1,2]" and result.structured_content is None


def test_a_selected_answer_leaves_the_declared_shape_for_the_text():
    body = json.dumps({"id": 7, "name": "Rex", "owner": {"name": "Ann"}}).encode()
    result = render_success(tool(SCHEMA), reply(body, "application/json"), 1024,
                            compile_selection("_select", "owner.name"))
    assert only_text(result) == '"Ann"' and result.structured_content == {}  # `{}` fits the shape-only schema


def test_a_selected_answer_over_the_cap_is_cut_and_says_so():
    body = json.dumps([{"name": "x" * 100}] * 50).encode()
    result = render_success(tool(), reply(body, "application/json"), 1024, compile_selection("_select", "[].name"))
    text = only_text(result)
    assert text.startswith('["xxx') and "[truncated: the selected answer was 5,151 bytes" in text


@pytest.mark.parametrize(("body", "total", "why"), [(b"plain words", None, "not JSON"),
                                                    (b'{"a": 1', 5000, "not read whole")])
def test_a_selection_that_cannot_apply_says_so(body, total, why):
    result = render_success(tool(), reply(body, "text/plain" if total is None else "application/json", total=total),
                            1024, compile_selection("_select", "a"))
    assert only_text(result).endswith(f"[`_select` was not applied: the answer was {why}]")


def test_a_selection_applies_to_an_assembled_event_stream_read_whole() -> None:
    select = compile_selection("_select", "choices[0].message.content")
    assert only_text(render_stream(tool(), streamed(500, 1_000), completion("Hé"), 1_000, select)) == '"Hé"'
    cut = render_stream(tool(), streamed(1_001, 1_000), completion("Hel"), 1_000, select)
    assert "[truncated: the event stream went on past 1,000 bytes" in only_text(cut)  # partial: not selected
    assert only_text(cut).endswith("[`_select` was not applied: the answer was not read whole]")
