"""build_request: each argument lands where its plan says, spelt as OpenAPI styles and the RFCs require.

Expected values for parameters come from the OpenAPI 3.1.1 style examples table (`color` as
`"blue"`, `["blue", "black", "brown"]` and `{"R": 100, "G": 200, "B": 150}`) and RFC 6570; query and
form pairs are compared before percent-encoding, which the HTTP client applies when it sends them.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import uuid
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
import pytest

from mcp_gateway.errors import UpstreamError
from mcp_gateway.plan import BodyPlan, CallPlan, FieldEncoding, ParamBinding
from mcp_gateway.request import (
    FileContent,
    build_request,
    decode_bytes,
    deep_object,
    file_content,
    styled_pairs,
    text,
    url_for,
)

BLUE = "blue"
COLORS = ["blue", "black", "brown"]
RGB = {"R": 100, "G": 200, "B": 150}

_DEFAULT_STYLE = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}


def param(name: str, location: str, style: str | None = None, explode: bool | None = None,
          as_json: bool = False, argument: str | None = None) -> ParamBinding:
    """A binding with OpenAPI's defaults: style by location, explode only for form."""
    style = style or _DEFAULT_STYLE[location]
    explode = style == "form" if explode is None else explode
    return ParamBinding(argument or name, name, location, style, explode, as_json)  # type: ignore[arg-type]


def build(path: str, *params: ParamBinding, plan_body: BodyPlan | None = None, method: str = "GET",
          idempotency_header: str | None = None, **arguments: Any) -> Any:
    """build_request for a one-off plan."""
    plan = CallPlan(method=method, path=path, params=params, body=plan_body, idempotency_header=idempotency_header)
    return build_request(plan, arguments)


def one_param(location: str, value: Any, style: str | None = None, explode: bool | None = None,
              as_json: bool = False, name: str = "color") -> Any:
    """The request for one parameter named `color` (in the path as `/c/{color}`)."""
    path = "/c/{" + name + "}" if location == "path" else "/c"
    return build(path, param(name, location, style, explode, as_json), **{name: value})


# -- path -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("style", "explode", "value", "expected"), [
    ("simple", False, BLUE, "blue"),
    ("simple", False, COLORS, "blue,black,brown"),
    ("simple", False, RGB, "R,100,G,200,B,150"),
    ("simple", True, BLUE, "blue"),
    ("simple", True, COLORS, "blue,black,brown"),
    ("simple", True, RGB, "R=100,G=200,B=150"),
    ("label", False, BLUE, ".blue"),
    ("label", False, COLORS, ".blue,black,brown"),
    ("label", False, RGB, ".R,100,G,200,B,150"),
    ("label", True, BLUE, ".blue"),
    ("label", True, COLORS, ".blue.black.brown"),
    ("label", True, RGB, ".R=100.G=200.B=150"),
    ("matrix", False, BLUE, ";color=blue"),
    ("matrix", False, COLORS, ";color=blue,black,brown"),
    ("matrix", False, RGB, ";color=R,100,G,200,B,150"),
    ("matrix", True, BLUE, ";color=blue"),
    ("matrix", True, COLORS, ";color=blue;color=black;color=brown"),
    ("matrix", True, RGB, ";R=100;G=200;B=150"),
])
def test_path_styles_follow_the_openapi_table(style: str, explode: bool, value: Any, expected: str) -> None:
    """Every path style and explode setting, for a string, an array and an object."""
    parts = one_param("path", value, style, explode)
    assert parts.path == "/c/" + expected
    assert parts.query == [] and parts.headers == {} and parts.cookies == [] and parts.content is None


@pytest.mark.parametrize(("style", "value", "expected"), [
    ("simple", "a/../b?c#d", "a%2F..%2Fb%3Fc%23d"),
    ("simple", "100% é", "100%25%20%C3%A9"),
    ("simple", ["a,b", "c/d"], "a%2Cb,c%2Fd"),  # RFC 6570: a comma inside an item is not a separator
    ("simple", {"k/1": "v?"}, "k%2F1,v%3F"),
    ("label", "x/y", ".x%2Fy"),
    ("matrix", "x;y=z", ";color=x%3By%3Dz"),
    ("simple", "{other}", "%7Bother%7D"),  # a value is never read as another template variable
])
def test_path_values_stay_inside_their_segment(style: str, value: Any, expected: str) -> None:
    """`/`, `?`, `#`, `%`, `;`, `,` and braces in a value are percent-encoded: it cannot change the URL's shape."""
    parts = build("/c/{color}/{other}", param("color", "path", style), param("other", "path"),
                  color=value, other="o")
    assert parts.path == f"/c/{expected}/o"
    assert parts.query == []


@pytest.mark.parametrize(("style", "value", "segment"), [
    ("simple", "..", ".."),
    ("simple", ".", "."),
    ("label", ".", ".."),  # the label `.` then the value `.`
    ("label", "", "."),
    ("simple", "...", "..."),
])
def test_dot_segments_cannot_climb(style: str, value: str, segment: str) -> None:
    """RFC 3986 removes literal `.` and `..` segments; with a dot spelt `%2E` the segment reaches the upstream."""
    parts = build("/files/{name}/raw", param("name", "path", style), name=value)
    sent = parts.path.removeprefix("/files/").removesuffix("/raw")
    assert unquote(sent) == segment
    assert sent not in (".", "..")
    assert httpx.URL("https://api.example" + parts.path).raw_path == parts.path.encode()


def test_dots_inside_a_segment_need_no_escaping() -> None:
    """Only a segment made of dots alone is special."""
    assert one_param("path", "a..b.").path == "/c/a..b."


def test_path_values_by_json_type() -> None:
    """Booleans and numbers are spelt as JSON; several path parameters are each replaced."""
    parts = build("/a/{flag}/{n}/{x}", param("flag", "path"), param("n", "path"), param("x", "path"),
                  flag=True, n=1.5, x=False)
    assert parts.path == "/a/true/1.5/false"


def test_matrix_empty_string_has_no_equals_sign() -> None:
    """RFC 6570's `{;x,y,empty}` example expands to `;x=1024;y=768;empty`."""
    assert one_param("path", "", "matrix", False).path == "/c/;color"


# -- query ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("style", "explode", "value", "expected"), [
    ("form", False, BLUE, [("color", "blue")]),
    ("form", False, "", [("color", "")]),
    ("form", False, COLORS, [("color", "blue,black,brown")]),
    ("form", False, RGB, [("color", "R,100,G,200,B,150")]),
    ("form", True, BLUE, [("color", "blue")]),
    ("form", True, "", [("color", "")]),
    ("form", True, COLORS, [("color", "blue"), ("color", "black"), ("color", "brown")]),
    ("form", True, RGB, [("R", "100"), ("G", "200"), ("B", "150")]),
    ("spaceDelimited", False, COLORS, [("color", "blue black brown")]),
    ("pipeDelimited", False, COLORS, [("color", "blue|black|brown")]),
    ("deepObject", True, RGB, [("color[R]", "100"), ("color[G]", "200"), ("color[B]", "150")]),
])
def test_query_styles_follow_the_openapi_table(style: str, explode: bool, value: Any,
                                               expected: list[tuple[str, str]]) -> None:
    """Query pairs for each style the table defines (before the client percent-encodes them)."""
    parts = one_param("query", value, style, explode)
    assert parts.query == expected
    assert parts.path == "/c"


@pytest.mark.parametrize("style", ["spaceDelimited", "pipeDelimited"])
def test_delimited_styles_with_explode_repeat_the_name(style: str) -> None:
    """With explode the table gives no delimiter: each item is its own pair, as in form style."""
    assert one_param("query", COLORS, style, True).query == [("color", c) for c in COLORS]


@pytest.mark.parametrize(("style", "delimiter"), [("spaceDelimited", " "), ("pipeDelimited", "|")])
def test_delimited_styles_for_objects(style: str, delimiter: str) -> None:
    """OpenAPI 3.1.1 table: `color=R%20100%20G%20200%20B%20150` and `color=R%7C100%7CG%7C200%7CB%7C150`."""
    expected = delimiter.join(["R", "100", "G", "200", "B", "150"])
    assert one_param("query", RGB, style, False).query == [("color", expected)]


@pytest.mark.xfail(strict=True, reason="RFC 6570 3.2.8: a comma inside a form-style array item must be "
                                       "%2C while the separators stay commas; both are sent alike")
def test_form_array_items_with_commas_stay_distinct() -> None:
    """`["a,b", "c"]` and `["a", "b", "c"]` must not produce the same request."""
    assert one_param("query", ["a,b", "c"], "form", False).query != one_param(
        "query", ["a", "b", "c"], "form", False).query


def test_deep_object_nests_objects_and_indexes_arrays() -> None:
    """Nested objects extend the bracket path; arrays take indices (`f[a][c][0]`), the form qs-style servers parse."""
    value = {"a": {"b": 1, "c": [True, "x"]}, "d": None, "e": "z"}
    parts = one_param("query", value, "deepObject", True, name="f")
    assert parts.query == [("f[a][b]", "1"), ("f[a][c][0]", "true"), ("f[a][c][1]", "x"), ("f[e]", "z")]


def test_scalars_and_nulls_in_query() -> None:
    """Booleans are `true`/`false`; a null argument, an absent one and null object members are not sent."""
    params = (param("yes", "query"), param("no", "query"), param("n", "query"), param("gone", "query"),
              param("obj", "query"), param("absent", "query"))
    parts = build("/q", *params, yes=True, no=False, n=0, gone=None, obj={"k": "v", "z": None})
    assert parts.query == [("yes", "true"), ("no", "false"), ("n", "0"), ("k", "v")]


def test_arguments_the_plan_does_not_name_are_not_sent() -> None:
    """Only bound arguments are placed, whatever else the caller passes."""
    parts = build("/q", param("q", "query"), q="x", extra="y", Authorization="Bearer z")
    assert parts.query == [("q", "x")]
    assert parts.headers == {} and parts.cookies == [] and parts.content is None


def test_argument_name_and_wire_name_differ() -> None:
    """A renamed argument (`query_id`) is sent under the parameter's own name."""
    parts = build("/p/{id}", param("id", "path"), param("id", "query", argument="query_id"), id="p", query_id="q")
    assert parts.path == "/p/p"
    assert parts.query == [("id", "q")]


# -- fixed query and fragment in the path key -------------------------------------------------------

def test_fixed_query_in_the_path_key_comes_first() -> None:
    """`/search?type=x`: the written pair is sent, before the parameters, and the path loses the `?`."""
    parts = build("/search/{scope}?type=x&flag", param("scope", "path"), param("q", "query"), scope="all", q="cats")
    assert parts.path == "/search/all"
    assert parts.query == [("type", "x"), ("flag", ""), ("q", "cats")]


def test_a_parameter_overrides_the_fixed_query_pair_of_the_same_name() -> None:
    """When a parameter sends `type`, the value written in the path key is dropped."""
    parts = build("/search?type=x", param("type", "query"), type="y")
    assert parts.query == [("type", "y")]


def test_fixed_query_survives_when_the_parameter_is_not_given() -> None:
    """An absent optional parameter leaves the written value in place."""
    assert build("/search?type=x", param("type", "query")).query == [("type", "x")]


@pytest.mark.parametrize(("key", "path", "query"), [
    ("/docs#section", "/docs", []),
    ("/search?type=x#frag", "/search", [("type", "x")]),
    ("/a/{id}#x?y=1", "/a/7", []),  # after `#` nothing is a query
])
def test_fragment_is_never_sent(key: str, path: str, query: list[tuple[str, str]]) -> None:
    """RFC 3986: the fragment is not part of the request target."""
    parts = build(key, param("id", "path"), id=7)
    assert (parts.path, parts.query) == (path, query)


# -- headers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("explode", "value", "expected"), [
    (False, BLUE, "blue"),
    (False, COLORS, "blue,black,brown"),
    (False, RGB, "R,100,G,200,B,150"),
    (True, COLORS, "blue,black,brown"),
    (True, RGB, "R=100,G=200,B=150"),
    (False, True, "true"),
    (False, 42, "42"),
])
def test_header_simple_style(explode: bool, value: Any, expected: str) -> None:
    """Headers use simple style (the table's `simple` rows)."""
    parts = one_param("header", value, "simple", explode, name="X-Color")
    assert parts.headers == {"X-Color": expected}
    assert parts.query == [] and parts.cookies == []


def test_null_header_is_not_sent() -> None:
    """A null header argument sends no header at all (not an empty one)."""
    assert one_param("header", None, name="X-Color").headers == {}


# -- cookies ----------------------------------------------------------------------------------------

def cookie_header(parts: Any) -> str:
    """The Cookie header as the upstream writes it from the cookie pairs."""
    return "; ".join(f"{name}={value}" for name, value in parts.cookies)


def parse_cookie_header(header: str) -> list[tuple[str, str]]:
    """A server's reading of a Cookie header (RFC 6265 5.4): `; ` separates, the first `=` splits."""
    pairs = []
    for piece in header.split(";"):
        name, _, value = piece.strip().partition("=")
        pairs.append((name, value))
    return pairs


_COOKIE_OCTETS = {chr(c) for c in [0x21, *range(0x23, 0x2C), *range(0x2D, 0x3B), *range(0x3C, 0x5C),
                                   *range(0x5D, 0x7F)]}


@pytest.mark.parametrize(("explode", "value", "expected"), [
    (True, BLUE, [("color", "blue")]),
    (False, BLUE, [("color", "blue")]),
    (False, COLORS, [("color", "blue,black,brown")]),
    (False, RGB, [("color", "R,100,G,200,B,150")]),
    (True, COLORS, [("color", "blue"), ("color", "black"), ("color", "brown")]),
    (True, RGB, [("R", "100"), ("G", "200"), ("B", "150")]),
    (True, False, [("color", "false")]),
])
def test_cookie_form_style(explode: bool, value: Any, expected: list[tuple[str, str]]) -> None:
    """Cookies use form style; exploded arrays and objects become separate cookies."""
    assert one_param("cookie", value, "form", explode).cookies == expected


@pytest.mark.parametrize("value", ["a;b", "x, y", "p q", "k=v", 'say "hi"', "back\\slash", "50%", "é",
                                   "tab\there", "a; admin=1"])
def test_cookie_values_cannot_start_another_cookie(value: str) -> None:
    """Any value is sent as RFC 6265 cookie-octets and reads back whole: one cookie, the same text."""
    parts = one_param("cookie", value, name="session")
    (name, sent), = parts.cookies
    assert name == "session"
    assert set(sent) <= _COOKIE_OCTETS
    (read_name, read_value), = parse_cookie_header(cookie_header(parts))
    assert (read_name, unquote(read_value)) == ("session", value)


def test_cookie_array_items_are_escaped_each() -> None:
    """A `,` or `;` inside an item is escaped, so only the separators the style adds remain."""
    parts = one_param("cookie", ["a,b", "c;d"], "form", False)
    (_, sent), = parts.cookies
    assert [unquote(item) for item in sent.split(",")] == ["a,b", "c;d"]
    assert len(parse_cookie_header(cookie_header(parts))) == 1


def test_exploded_cookie_object_keys_keep_their_name() -> None:
    """Key `a=b` must not be read back as cookie `a` with value `b=1`."""
    parts = one_param("cookie", {"a=b": "1"}, "form", True)
    (name, _), = parse_cookie_header(cookie_header(parts))
    assert unquote(name) == "a=b"


# -- content: application/json parameters -----------------------------------------------------------

FILTER = {"tag": "a b", "ids": [1, 2], "on": True}
FILTER_JSON = '{"tag":"a b","ids":[1,2],"on":true}'


@pytest.mark.parametrize("location", ["query", "header", "cookie", "path"])
def test_json_content_parameters_are_one_json_text(location: str) -> None:
    """A parameter described by `content: application/json` is sent as compact JSON text, whatever its style."""
    parts = one_param(location, FILTER, as_json=True, name="filter")
    if location == "query":
        assert parts.query == [("filter", FILTER_JSON)]
    elif location == "header":
        assert parts.headers == {"filter": FILTER_JSON}
    elif location == "cookie":
        (name, sent), = parts.cookies
        assert name == "filter" and set(sent) <= _COOKIE_OCTETS
        assert unquote(sent) == FILTER_JSON
    else:
        segment = parts.path.removeprefix("/c/")
        assert "/" not in segment and "?" not in segment
        assert unquote(segment) == FILTER_JSON
    assert json.loads(FILTER_JSON) == FILTER


@pytest.mark.xfail(strict=True, reason="a string under `content: application/json` is sent without JSON "
                                       "quotes, which is not the JSON text of that string")
@pytest.mark.parametrize("location", ["query", "header"])
def test_json_content_parameter_with_a_string_value(location: str) -> None:
    """The application/json representation of the string `abc` is `"abc"`."""
    parts = one_param(location, "abc", as_json=True, name="filter")
    sent = parts.query[0][1] if location == "query" else parts.headers["filter"]
    assert json.loads(sent) == "abc"


# -- JSON bodies ------------------------------------------------------------------------------------

def json_body(media: str = "application/json", *, argument: str | None = None,
              fields: tuple[tuple[str, str], ...] = (), required: bool = False) -> BodyPlan:
    return BodyPlan(media_type=media, kind="json", argument=argument, fields=fields, required=required)


def test_json_whole_body_argument() -> None:
    """A non-object body is one argument, sent as JSON as it is."""
    parts = build("/b", plan_body=json_body(argument="body"), method="POST", body=[1, "é", None])
    assert json.loads(parts.content) == [1, "é", None]
    assert parts.content == '[1,"é",null]'.encode()  # UTF-8, as RFC 8259 requires
    assert parts.headers == {"Content-Type": "application/json"}
    assert parts.method == "POST"


def test_json_fields_are_collected_under_their_property_names() -> None:
    """A flattened object body: each argument goes back under its property (`body_id` -> `id`)."""
    plan = json_body(fields=(("name", "name"), ("body_id", "id"), ("tags", "tags")))
    parts = build("/p/{id}", param("id", "path"), plan_body=plan, method="PUT",
                  id="path-id", name="Rex", body_id=7, tags=["a"])
    assert parts.path == "/p/path-id"
    assert json.loads(parts.content) == {"name": "Rex", "id": 7, "tags": ["a"]}


def test_json_null_field_is_kept() -> None:
    """JSON can spell null, so an explicit null field is sent (it may mean "clear this")."""
    parts = build("/b", plan_body=json_body(fields=(("note", "note"), ("name", "name"))), method="PATCH", note=None)
    assert json.loads(parts.content) == {"note": None}


@pytest.mark.parametrize(("media", "content_type"), [
    ("*/*", "application/json"),
    ("application/*", "application/json"),
    ("application/json; charset=utf-8", "application/json; charset=utf-8"),
    ("application/vnd.api+json", "application/vnd.api+json"),
])
def test_json_content_type(media: str, content_type: str) -> None:
    """A wildcard cannot be sent as a Content-Type: JSON is named; a concrete JSON type is kept."""
    parts = build("/b", plan_body=json_body(media, argument="body"), method="POST", body={"a": 1})
    assert parts.headers["Content-Type"] == content_type
    assert json.loads(parts.content) == {"a": 1}


@pytest.mark.parametrize(("required", "content"), [(False, None), (True, b"{}")])
def test_body_with_no_field_given(required: bool, content: bytes | None) -> None:
    """An optional body with no field given is not sent; a required one is sent empty (`{}`)."""
    parts = build("/b", plan_body=json_body(fields=(("a", "a"),), required=required), method="POST")
    assert parts.content == content
    assert ("Content-Type" in parts.headers) is required


def test_absent_whole_body_argument_sends_no_body() -> None:
    """No argument, no body and no Content-Type."""
    parts = build("/b", plan_body=json_body(argument="body"), method="POST")
    assert parts.content is None and parts.headers == {}


# -- form bodies ------------------------------------------------------------------------------------

def form_body(*names: str, encoding: tuple[tuple[str, FieldEncoding], ...] = (), required: bool = False,
              media: str = "application/x-www-form-urlencoded") -> BodyPlan:
    return BodyPlan(media_type=media, kind="form", fields=tuple((n, n) for n in names), encoding=encoding,
                    required=required)


def form_pairs(parts: Any) -> list[tuple[str, str]]:
    assert parts.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return parse_qsl(parts.content.decode("ascii"), keep_blank_values=True, strict_parsing=True)


def test_form_body_default_encoding() -> None:
    """Without `encoding`: scalars as text, arrays as repeated keys, objects as `a[b]=c`, nulls left out."""
    plan = form_body("name", "tags", "address", "ok", "note", media="application/x-www-form-urlencoded; charset=utf-8")
    parts = build("/f", plan_body=plan, method="POST", name="a&b=c d", tags=["x", "y"],
                  address={"city": "Paris", "geo": {"lat": 1.5}}, ok=False, note=None)
    assert form_pairs(parts) == [("name", "a&b=c d"), ("tags", "x"), ("tags", "y"), ("address[city]", "Paris"),
                                 ("address[geo][lat]", "1.5"), ("ok", "false")]


@pytest.mark.parametrize(("enc", "value", "expected"), [
    (FieldEncoding(style="form", explode=False), COLORS, [("color", "blue,black,brown")]),
    (FieldEncoding(style="form", explode=True), COLORS, [("color", c) for c in COLORS]),
    (FieldEncoding(style="form", explode=True), RGB, [("R", "100"), ("G", "200"), ("B", "150")]),
    (FieldEncoding(style="spaceDelimited", explode=False), COLORS, [("color", "blue black brown")]),
    (FieldEncoding(style="pipeDelimited", explode=False), COLORS, [("color", "blue|black|brown")]),
    (FieldEncoding(style="deepObject"), RGB, [("color[R]", "100"), ("color[G]", "200"), ("color[B]", "150")]),
    (FieldEncoding(content_type="application/json"), RGB, [("color", '{"R":100,"G":200,"B":150}')]),
    (FieldEncoding(content_type="application/json"), COLORS, [("color", '["blue","black","brown"]')]),
])
def test_form_body_encoding_entries(enc: FieldEncoding, value: Any, expected: list[tuple[str, str]]) -> None:
    """An `encoding` entry's style/explode (as for query parameters) or JSON contentType decides the field."""
    parts = build("/f", plan_body=form_body("color", encoding=(("color", enc),)), method="POST", color=value)
    assert form_pairs(parts) == expected


def test_form_null_fields_only_sends_no_body() -> None:
    """A form cannot spell null: null fields are dropped, and an optional body left empty is not sent."""
    assert build("/f", plan_body=form_body("a"), method="POST", a=None).content is None


def test_form_required_empty_body() -> None:
    """A required form body with no field given is sent empty, with its Content-Type."""
    parts = build("/f", plan_body=form_body("a", required=True), method="POST")
    assert parts.content == b""
    assert parts.headers["Content-Type"] == "application/x-www-form-urlencoded"


# -- multipart bodies -------------------------------------------------------------------------------

def multipart_body(*names: str, files: tuple[str, ...] = (), encoding: tuple[tuple[str, FieldEncoding], ...] = (),
                   argument: str | None = None) -> BodyPlan:
    return BodyPlan(media_type="multipart/form-data", kind="multipart", argument=argument,
                    fields=tuple((n, n) for n in names), encoding=encoding, binary_fields=frozenset(files))


def multipart_parts(parts: Any) -> list[EmailMessage]:
    """The parts as a MIME parser reads them (RFC 7578 is RFC 2046 multipart)."""
    content_type = parts.headers["Content-Type"]
    message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + parts.content,
                                       policy=email.policy.HTTP)
    assert message.get_content_type() == "multipart/form-data"
    boundary = message.get_boundary()
    assert boundary and 1 <= len(boundary) <= 70
    assert parts.content.endswith(f"\r\n--{boundary}--\r\n".encode())
    assert not message.defects
    return list(message.iter_parts())  # type: ignore[arg-type]


def summary(part: EmailMessage) -> tuple[str | None, str | None, str | None, bytes]:
    """(name, filename, declared Content-Type or None, payload bytes) of one part."""
    name = part.get_param("name", header="content-disposition")
    declared = part["Content-Type"]
    payload = part.get_payload(decode=True)
    assert isinstance(name, str) and isinstance(payload, bytes)
    return name, part.get_filename(), str(declared) if declared else None, payload


def test_multipart_fields_and_files() -> None:
    """Files are decoded from base64 (or kept as text) with a filename; other fields are text or JSON parts."""
    png = bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0xFF])
    plan = multipart_body("file", "notes", "purpose", "n", "ok", "meta", "tags", "gone",
                          files=("file", "notes"))
    parts = build("/up", plan_body=plan, method="POST", file=base64.b64encode(png).decode(), notes="plain text, kept",
                  purpose="fine-tune", n=3, ok=True, meta={"a": [1]}, tags=["x", {"y": 1}], gone=None)
    assert [summary(p) for p in multipart_parts(parts)] == [
        ("file", "file", "application/octet-stream", png),
        ("notes", "notes", "application/octet-stream", b"plain text, kept"),
        ("purpose", None, None, b"fine-tune"),
        ("n", None, None, b"3"),
        ("ok", None, None, b"true"),
        ("meta", None, "application/json", b'{"a":[1]}'),
        ("tags", None, None, b"x"),
        ("tags", None, "application/json", b'{"y":1}'),
    ]


def test_multipart_arrays_of_files_are_one_part_each() -> None:
    """An array field becomes one part per item, files included (RFC 7578 4.3)."""
    plan = multipart_body("images", files=("images",))
    parts = build("/up", plan_body=plan, method="POST", images=[base64.b64encode(b"one").decode(), "two"])
    assert [summary(p) for p in multipart_parts(parts)] == [
        ("images", "images", "application/octet-stream", b"one"),
        ("images", "images", "application/octet-stream", b"two"),
    ]


def test_multipart_encoding_content_types() -> None:
    """A declared contentType names a file's type (the first of a list) and makes a structure one JSON part."""
    plan = multipart_body("image", "meta", "ids", files=("image",), encoding=(
        ("image", FieldEncoding(content_type="image/png, image/jpeg")),
        ("meta", FieldEncoding(content_type="application/json")),
        ("ids", FieldEncoding(content_type="application/json")),
    ))
    parts = build("/up", plan_body=plan, method="POST", image="aGk=", meta={"k": "v"}, ids=[1, 2])
    assert [summary(p) for p in multipart_parts(parts)] == [
        ("image", "image", "image/png", b"hi"),
        ("meta", None, "application/json", b'{"k":"v"}'),
        ("ids", None, "application/json", b"[1,2]"),
    ]


def test_multipart_names_escape_quote_cr_lf() -> None:
    """RFC 7578 / HTML: `"`, CR and LF in a name are %22, %0D, %0A, so no header can be injected."""
    name = 'a"b\r\nContent-Type: text/evil'
    plan = BodyPlan(media_type="multipart/form-data", kind="multipart", fields=(("x", name),))
    parts = build("/up", plan_body=plan, method="POST", x="v")
    (part,) = multipart_parts(parts)
    assert summary(part) == ("a%22b%0D%0AContent-Type: text/evil", None, None, b"v")
    assert part.keys() == ["Content-Disposition"]


def test_multipart_whole_body_string_is_one_file_part() -> None:
    """A whole-body value with no fields goes as one `file` part."""
    plan = multipart_body(argument="body")
    parts = build("/up", plan_body=plan, method="POST", body=base64.b64encode(b"\x00bytes").decode())
    assert [summary(p) for p in multipart_parts(parts)] == [("file", "file", "application/octet-stream", b"\x00bytes")]


@pytest.mark.parametrize(("value", "expected"), [
    ("data:audio/wav;base64,UklGRg==", FileContent(b"RIFF", "audio/wav")),
    (" DATA:audio/wav;name=talk%201.wav;base64,UklGRg\n==", FileContent(b"RIFF", "audio/wav", "talk 1.wav")),
    ("data:;filename=C:\\rec\\a.mp3;base64,_-8", FileContent(b"\xff\xef", None, "a.mp3")),  # base64url, no type
    ("data:text/csv;charset=utf-8,a%2Cb%0A1", FileContent(b"a,b\n1", "text/csv; charset=utf-8")),  # percent-encoded
    ("data:,hi", FileContent(b"hi")),
    ("aGk=", FileContent(b"hi")),  # no data: URL: base64 or text as before
    ("data: not a URL", FileContent(b"data: not a URL")),
])
def test_file_content_reads_data_urls(value: str, expected: FileContent) -> None:
    """RFC 2397 data: URLs give the bytes, their media type and a `name` (or `filename`) without its folders."""
    assert file_content(value, "file") == expected


def test_a_data_url_that_is_not_base64_is_refused_by_name() -> None:
    with pytest.raises(UpstreamError, match=r"`audio` is a data: URL .* nothing was sent"):
        file_content("data:audio/wav;base64,@@@", "audio")


def test_data_url_files_carry_their_type_and_a_filename() -> None:
    """A file part takes the data: URL's type (over a declared one) and name, else the field name and the type's
    extension; a raw body of a wildcard type takes the URL's type."""
    plan = multipart_body("file", "other", "model", files=("file", "other"),
                          encoding=(("file", FieldEncoding(content_type="audio/*")),))
    wav = "data:audio/wav;base64," + base64.b64encode(b"RIFF").decode()
    parts = build("/up", plan_body=plan, method="POST", file=wav, model="m",
                  other="data:audio/mpeg;name=x.mp3;base64,SUQz")
    assert [summary(p) for p in multipart_parts(parts)] == [
        ("file", "file.wav", "audio/wav", b"RIFF"),
        ("other", "x.mp3", "audio/mpeg", b"ID3"),
        ("model", None, None, b"m"),
    ]
    raw = BodyPlan(media_type="audio/*", kind="binary", argument="body")
    sent = build("/up", plan_body=raw, method="POST", body=wav)
    assert (sent.content, sent.headers["Content-Type"]) == (b"RIFF", "audio/wav")
    exact = BodyPlan(media_type="application/octet-stream", kind="binary", argument="body")
    assert build("/up", plan_body=exact, method="POST", body=wav).headers["Content-Type"] == "application/octet-stream"


def test_multipart_whole_body_object_gives_its_fields() -> None:
    """A whole-body object is sent field by field."""
    parts = build("/up", plan_body=multipart_body(argument="body"), method="POST", body={"a": "x", "b": None, "c": 2})
    assert [summary(p) for p in multipart_parts(parts)] == [("a", None, None, b"x"), ("c", None, None, b"2")]


def test_multipart_boundary_is_fresh() -> None:
    """Each request gets its own boundary, declared in the Content-Type."""
    plan = multipart_body("a")
    first, second = (build("/up", plan_body=plan, method="POST", a="x") for _ in range(2))
    assert first.headers["Content-Type"] != second.headers["Content-Type"]
    assert first.headers["Content-Type"].startswith("multipart/form-data; boundary=")


# -- text and binary bodies -------------------------------------------------------------------------

def test_text_body_is_sent_as_written() -> None:
    """A text/* body is the string itself, in UTF-8, with the document's media type."""
    plan = BodyPlan(media_type="text/plain; charset=utf-8", kind="text", argument="body")
    parts = build("/t", plan_body=plan, method="POST", body="héllo\nworld")
    assert parts.content == "héllo\nworld".encode()
    assert parts.headers == {"Content-Type": "text/plain; charset=utf-8"}


def test_text_body_follows_a_declared_charset() -> None:
    """RFC 9110 8.3.1: the charset parameter says how the body's bytes are to be read."""
    plan = BodyPlan(media_type="text/plain; charset=iso-8859-1", kind="text", argument="body")
    assert build("/t", plan_body=plan, method="POST", body="é").content == "é".encode("iso-8859-1")


@pytest.mark.parametrize(("value", "content"), [
    (base64.b64encode(b"\x00\x01\xfe\xff").decode(), b"\x00\x01\xfe\xff"),
    ("plain text", b"plain text"),
])
def test_binary_body(value: str, content: bytes) -> None:
    """An octet-stream body takes base64, or plain text when the value is not base64."""
    plan = BodyPlan(media_type="application/octet-stream", kind="binary", argument="body")
    parts = build("/bin", plan_body=plan, method="PUT", body=value)
    assert parts.content == content
    assert parts.headers == {"Content-Type": "application/octet-stream"}


_BLOB = bytes(range(256)) * 2


@pytest.mark.parametrize(("value", "expected"), [
    ("aGVsbG8gd29ybGQ=", b"hello world"),
    ("  aGVsbG8gd29ybGQ=\n", b"hello world"),  # surrounding whitespace
    (base64.encodebytes(_BLOB).decode(), _BLOB),  # MIME base64: 76-character lines
    (base64.encodebytes(_BLOB).decode().replace("\n", "\r\n"), _BLOB),
    ("hello world", b"hello world"),  # a space: text
    ("héllo", "héllo".encode()),
    ("YQ", b"YQ"),  # not a multiple of 4: text
    ("abcd\nefghijkl\nmnop", b"abcd\nefghijkl\nmnop"),  # lines of different lengths are text, not wrapped base64
    ("", b""),
    ({"a": 1}, b'{"a":1}'),
    (7, b"7"),
])
def test_decode_bytes(value: Any, expected: bytes) -> None:
    """base64 (plain or wrapped in equal lines) is decoded; anything else is its own UTF-8 text."""
    assert decode_bytes(value) == expected


# -- idempotency ------------------------------------------------------------------------------------

def test_idempotency_key_generated_when_none_given() -> None:
    """A fresh UUID per request, under the plan's header name."""
    plan = CallPlan(method="POST", path="/jobs", idempotency_header="Idempotency-Key")
    first, second = build_request(plan, {}), build_request(plan, {})
    assert list(first.headers) == ["Idempotency-Key"]
    assert uuid.UUID(first.headers["Idempotency-Key"]) != uuid.UUID(second.headers["Idempotency-Key"])


@pytest.mark.parametrize("header_name", ["Idempotency-Key", "idempotency-key", "IDEMPOTENCY-KEY"])
def test_caller_idempotency_key_wins(header_name: str) -> None:
    """A key the caller gives (any header-name case: RFC 9110 names are case-insensitive) is the only one sent."""
    plan = CallPlan(method="POST", path="/jobs", params=(param(header_name, "header", argument="key"),),
                    idempotency_header="Idempotency-Key")
    parts = build_request(plan, {"key": "mine"})
    assert parts.headers == {header_name: "mine"}


def test_no_idempotency_key_without_the_plan_asking() -> None:
    """Plans that do not name an idempotency header get none."""
    assert build("/jobs", method="POST").headers == {}


# -- helpers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("x y", "x y"), (True, "true"), (False, "false"), (None, ""), (0, "0"), (1.5, "1.5"), ([1, "a"], '[1,"a"]'),
])
def test_text(value: Any, expected: str) -> None:
    """Scalars as JSON spells them; strings as they are."""
    assert text(value) == expected


def test_styled_pairs_and_deep_object_directly() -> None:
    """The helpers give the same pairs the table does for query parameters."""
    assert styled_pairs("color", COLORS, "form", False) == [("color", "blue,black,brown")]
    assert styled_pairs("color", RGB, "form", True) == [("R", "100"), ("G", "200"), ("B", "150")]
    assert styled_pairs("color", COLORS, "pipeDelimited", False) == [("color", "blue|black|brown")]
    assert deep_object("color", RGB) == [("color[R]", "100"), ("color[G]", "200"), ("color[B]", "150")]
    assert deep_object("x", "scalar") == [("x", "scalar")]


# -- the URL ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("base", "path", "url"), [
    ("http://127.0.0.1:8000", "/items", "http://127.0.0.1:8000/items"),
    ("http://h:1/api/", "/v1/x", "http://h:1/api/v1/x"),
    ("http://127.0.0.1:8000", "@127.0.0.1:9/x", "http://127.0.0.1:8000/@127.0.0.1:9/x"),  # no `/`: still a path
    ("http://h:1", "//evil.example/x", "http://h:1//evil.example/x"),
])
def test_the_url_stays_on_the_base_urls_origin(base: str, path: str, url: str) -> None:
    assert str(url_for(base, path)) == url
    assert url_for(base, path).netloc == httpx.URL(base).netloc
