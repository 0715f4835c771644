"""Tool calls end to end: every argument lands where the document says, in the encoding it says."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl

import pytest

from tests.common import FIXTURES
from tests.servers import cookies, multipart_parts, serve_stdio, text_of, tool_named
from tests.upstream import PNG_1PX

pytestmark = pytest.mark.anyio

ECHO = str(FIXTURES / "echo.yaml")
STYLES = str(FIXTURES / "styles.yaml")


async def call_ok(client, name: str, arguments: dict) -> None:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, text_of(result)


async def test_query_header_and_cookie_parameters(upstream, era):
    arguments = {
        "id": "x",
        "verbose": False,
        "tags": ["a", "b c"],
        "ids": [1, 2],
        "pipes": ["p", "q"],
        "filter": {"a": "1", "b": "x&y"},
        "X-Trace": "trace-1",
        "session": "s1",
    }
    async with serve_stdio([ECHO, "--base-url", upstream.url], mode=era) as served:
        result = await served.client.call_tool("getItem", arguments)
    assert not result.is_error, text_of(result)
    sent = upstream.last
    assert (sent.method, sent.raw_path) == ("GET", "/items/x")
    assert sent.query == [
        ("verbose", "false"),  # a boolean is spelled as JSON, never as Python's `False`
        ("tags", "a"), ("tags", "b c"),  # form, exploded: one pair per item
        ("ids", "1,2"),  # form, not exploded: one comma-separated value
        ("pipes", "p|q"),  # pipeDelimited
        ("filter[a]", "1"), ("filter[b]", "x&y"),  # deepObject
    ]
    assert sent.headers["x-trace"] == "trace-1"
    assert cookies(sent) == [("session", "s1")]
    assert json.loads(text_of(result))["path"] == "/items/x"


async def test_more_styles_and_a_base_path(upstream):
    arguments = {
        "id": "t1",
        "words": ["x", "y"],
        "point": {"x": 1, "y": 2},
        "where": {"a": [1, True]},
        "X-Flags": [True, False],
        "prefs": ["dark", "wide"],
    }
    async with serve_stdio([STYLES, "--base-url", f"{upstream.url}/v1"]) as served:
        await call_ok(served.client, "getThing", arguments)
        thing = upstream.last
        await call_ok(served.client, "getLabel", {"v": ["a", "b"]})
        label = upstream.last
        await call_ok(served.client, "getLabelExploded", {"v": ["a", "b"]})
        label_exploded = upstream.last
        await call_ok(served.client, "getMatrix", {"v": "m"})
        matrix = upstream.last
        await call_ok(served.client, "getMatrixExploded", {"v": ["a", "b"]})
        matrix_exploded = upstream.last
    assert thing.raw_path == "/v1/things/t1"  # the base URL's own path is kept
    assert thing.query == [("words", "x y"), ("x", "1"), ("y", "2"), ("where", '{"a":[1,true]}')]
    assert thing.headers["x-flags"] == "true,false"
    assert cookies(thing) == [("prefs", "dark,wide")]
    assert label.raw_path == "/v1/label/.a,b"
    assert label_exploded.raw_path == "/v1/label-exploded/.a.b"
    assert matrix.raw_path == "/v1/matrix/;v=m"
    assert matrix_exploded.raw_path == "/v1/matrix-exploded/;v=a;v=b"


async def test_a_path_value_is_one_percent_encoded_segment(upstream):
    values = {
        "a/../b?c#d": "/items/a%2F..%2Fb%3Fc%23d",
        "a b": "/items/a%20b",
        "é": "/items/%C3%A9",
        "..": "/items/%2E%2E",  # never a dot segment that climbs out of the template
        ".": "/items/%2E",
    }
    async with serve_stdio([ECHO, "--base-url", upstream.url]) as served:
        for value in values:
            await call_ok(served.client, "getItem", {"id": value})
    async with serve_stdio([STYLES, "--base-url", upstream.url]) as served:
        await call_ok(served.client, "getLabel", {"v": ["."]})
        await call_ok(served.client, "getLabel", {"v": [".."]})
    assert [r.raw_path for r in upstream.requests[: len(values)]] == list(values.values())
    assert [r.raw_path for r in upstream.requests[len(values):]] == ["/label/.%2E", "/label/.%2E%2E"]


async def test_cookie_values_cannot_add_cookies(upstream):
    async with serve_stdio([STYLES, "--base-url", upstream.url]) as served:
        await call_ok(served.client, "getThing", {"id": "t", "cookie_id": "c1; admin=1", "prefs": ["a b", "x;y"]})
    sent = upstream.last
    names = [name for name, _ in cookies(sent)]
    assert names == ["id", "prefs"]
    assert dict(cookies(sent))["id"] == "c1%3B%20admin=1"
    assert dict(cookies(sent))["prefs"] == "a%20b,x%3By"


async def test_clashing_names_each_reach_their_place(upstream):
    async with serve_stdio([ECHO, "--base-url", upstream.url]) as served:
        echo_tools = (await served.client.list_tools()).tools
        await call_ok(served.client, "putItem", {"id": "path-1", "body_id": "body-1", "name": "n"})
        put = upstream.last
    put_schema = tool_named(echo_tools, "putItem").input_schema
    assert set(put_schema["properties"]) == {"id", "body_id", "name"}
    assert set(put_schema["required"]) == {"id", "body_id", "name"}
    assert (put.method, put.raw_path) == ("PUT", "/items/path-1")
    assert put.json() == {"id": "body-1", "name": "n"}

    async with serve_stdio([STYLES, "--base-url", upstream.url]) as served:
        styles_tools = (await served.client.list_tools()).tools
        await call_ok(served.client, "getThing", {"id": "p", "query_id": 7, "header_id": "h", "cookie_id": "c"})
        get = upstream.last
        await call_ok(served.client, "updateThing", {"id": "p", "query_id": "q", "body_id": 3, "note": "n"})
        update = upstream.last
    get_props = tool_named(styles_tools, "getThing").input_schema["properties"]
    assert {"id", "query_id", "header_id", "cookie_id"} <= set(get_props)
    assert get_props["query_id"]["type"] == "integer"
    assert get.raw_path == "/things/p"
    assert get.query == [("id", "7")]
    assert get.headers["id"] == "h"
    assert cookies(get) == [("id", "c")]
    assert set(tool_named(styles_tools, "updateThing").input_schema["properties"]) == {
        "id", "query_id", "dry_run", "body_id", "note"}
    assert update.raw_path == "/things/p"
    assert update.query == [("id", "q")]
    assert update.json() == {"id": 3, "note": "n"}


async def test_json_bodies(upstream, era):
    node = {"name": "root", "children": [{"name": "a", "children": [{"name": "a1", "children": []}]}]}
    async with serve_stdio([ECHO, "--base-url", upstream.url], mode=era) as served:
        tools = (await served.client.list_tools()).tools
        await call_ok(served.client, "createItem", {"name": "n", "tags": ["t"], "address": {"city": "Paris"}})
        created = upstream.last
        await call_ok(served.client, "postList", {"body": [1, 2, 3]})
        listed = upstream.last
        await call_ok(served.client, "postList", {})
        empty = upstream.last
        await call_ok(served.client, "postTree", node)
        tree = upstream.last
    create = tool_named(tools, "createItem").input_schema
    assert set(create["properties"]) == {"name", "tags", "address"}  # `id` is readOnly: not an input
    assert create["required"] == ["name"]
    assert created.headers["content-type"] == "application/json"
    assert created.json() == {"name": "n", "tags": ["t"], "address": {"city": "Paris"}}
    assert tool_named(tools, "postList").input_schema["properties"]["body"]["type"] == "array"
    assert (listed.body, listed.headers["content-type"]) == (b"[1,2,3]", "application/json")
    assert empty.body == b"" and "content-type" not in empty.headers
    tree_schema = tool_named(tools, "postTree").input_schema
    assert tree_schema["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert tree_schema["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert len(json.dumps(tree_schema)) < 2000  # the recursion is a reference, not an expansion
    assert tree.json() == node


async def test_form_urlencoded_body(upstream):
    arguments = {"name": "a b", "count": 3, "flag": True, "address": {"city": "Paris", "zip": "75001"},
                 "tags": ["x", "y"], "meta": {"k": [1, 2]}, "labels": ["l1", "l 2"]}
    async with serve_stdio([ECHO, "--base-url", upstream.url]) as served:
        await call_ok(served.client, "postForm", arguments)
    sent = upstream.last
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(sent.body.decode(), keep_blank_values=True) == [
        ("name", "a b"), ("count", "3"), ("flag", "true"),
        ("address[city]", "Paris"), ("address[zip]", "75001"),  # no encoding: an object in brackets
        ("tags", "x"), ("tags", "y"),  # encoding: style form, explode
        ("meta", '{"k":[1,2]}'),  # encoding: contentType application/json
        ("labels", "l1"), ("labels", "l 2"),  # no encoding: OpenAPI's style form, explode
    ]


async def test_multipart_bodies(upstream):
    png = base64.b64encode(PNG_1PX).decode()
    async with serve_stdio([ECHO, "--base-url", upstream.url]) as served:
        await call_ok(served.client, "upload", {"file": png, "purpose": "avatar"})
        from_base64 = upstream.last
        await call_ok(served.client, "upload", {"file": "good news"})
        from_text = upstream.last
    file, purpose = multipart_parts(from_base64)
    assert (file.name, file.filename, file.content_type, file.data) == ("file", "file", "image/png", PNG_1PX)
    assert (purpose.name, purpose.filename, purpose.data) == ("purpose", None, b"avatar")
    [text_file] = multipart_parts(from_text)
    assert text_file.data == b"good news"

    arguments = {"doc": "a,b\n1,2\n", "attachments": [base64.b64encode(b"first").decode(), "second file"],
                 "meta": {"owner": "me"}, "note": "hi", "count": 2, "labels": ["x", "y"], "ids": [1, 2],
                 "say_hi": "hello"}
    async with serve_stdio([STYLES, "--base-url", upstream.url]) as served:
        await call_ok(served.client, "sendFiles", arguments)
        files = upstream.last
        await call_ok(served.client, "sendAnything", {"body": base64.b64encode(b"raw").decode()})
        anything = upstream.last
        await call_ok(served.client, "sendAnything", {"body": {}})
        empty = upstream.last
    parts = multipart_parts(files)
    assert [(p.name, p.filename, p.content_type, p.data) for p in parts] == [
        ("doc", "doc", "text/csv", b"a,b\n1,2\n"),
        ("attachments", "attachments", "application/octet-stream", b"first"),
        ("attachments", "attachments", "application/octet-stream", b"second file"),
        ("meta", None, "application/json", b'{"owner":"me"}'),
        ("note", None, None, b"hi"),
        ("count", None, None, b"2"),
        ("labels", None, None, b"x"), ("labels", None, None, b"y"),  # an array: one part per item
        ("ids[]", None, None, b"1"), ("ids[]", None, None, b"2"),  # the name as written, not percent-encoded
        ("say %22hi%22", None, None, b"hello"),  # only `"`, CR and LF are escaped in a name
    ]
    # a body that declares no fields: what the caller gave is one `file` part, never an empty multipart
    assert [(p.name, p.filename, p.content_type, p.data) for p in multipart_parts(anything)] == [
        ("file", "file", "application/octet-stream", b"raw")]
    assert [(p.name, p.content_type, p.data) for p in multipart_parts(empty)] == [("file", "application/json", b"{}")]


async def test_a_query_written_into_the_path_key(upstream):
    async with serve_stdio([STYLES, "--base-url", upstream.url]) as served:
        await call_ok(served.client, "searchFixed", {})
        bare = upstream.last
        await call_ok(served.client, "searchFixed", {"q": "a&b"})
        searched = upstream.last
        await call_ok(served.client, "searchFixed", {"q": "x", "beta": "2"})
        overridden = upstream.last
    assert [r.raw_path for r in (bare, searched, overridden)] == ["/search"] * 3  # the `#v2` fragment is never sent
    assert bare.query == [("mode", "full"), ("beta", "")]
    assert searched.query == [("mode", "full"), ("beta", ""), ("q", "a&b")]  # the key's pairs first
    assert overridden.query == [("mode", "full"), ("q", "x"), ("beta", "2")]  # a parameter of the same name wins


async def test_text_and_binary_bodies(upstream):
    async with serve_stdio([ECHO, "--base-url", upstream.url]) as served:
        await call_ok(served.client, "postNote", {"body": "line one\nline two ✓"})
        note = upstream.last
        await call_ok(served.client, "putBlob", {"body": base64.b64encode(b"\x00\x01\x02\xff").decode()})
        blob = upstream.last
        await call_ok(served.client, "putBlob", {"body": "just text"})
        text_blob = upstream.last
    assert (note.headers["content-type"], note.body) == ("text/plain", "line one\nline two ✓".encode())
    assert (blob.method, blob.headers["content-type"], blob.body) == ("PUT", "application/octet-stream",
                                                                     b"\x00\x01\x02\xff")
    assert text_blob.body == b"just text"
