"""Unit tests of spec/load.py against a local server: bounded downloads, the cache of parsed copies only,
ETag revalidation, text that is not UTF-8, and the same limits for local files and profiles."""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_gateway.errors import DocumentError, ProfileError
from mcp_gateway.profile import load_profile, looks_like_profile
from mcp_gateway.spec import read_document
from mcp_gateway.spec.load import load_document, parse_document
from tests.upstream import RecordingUpstream

DOCUMENT = {"openapi": "3.1.0", "info": {"title": "Small", "version": "1"},
            "paths": {"/ping": {"get": {"operationId": "ping", "responses": {"200": {"description": "ok"}}}}}}
RAW = json.dumps(DOCUMENT).encode()
HTML = b"<!DOCTYPE html>\n<html><body>Sign in to continue</body></html>\n"
HTML_TYPE = {"Content-Type": "text/html; charset=utf-8"}
UNREAD = b""  # the body of an answer refused unread: empty, or closing resets the connection and the server logs it


@pytest.fixture(scope="module")
def shared_upstream() -> Iterator[RecordingUpstream]:
    """One server for the module: stopping one takes half a second."""
    server = RecordingUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def upstream(shared_upstream: RecordingUpstream) -> RecordingUpstream:
    shared_upstream.requests.clear()
    shared_upstream.canned.clear()
    return shared_upstream


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MCP_GATEWAY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MCP_GATEWAY_MAX_DOCUMENT_BYTES", raising=False)
    return tmp_path / "cache"


def _cached(cache: Path) -> list[str]:
    """What the cache holds, by kind: `.doc` copies and `.etag` validators; no temporary files."""
    return sorted(path.suffix for path in cache.iterdir()) if cache.exists() else []


def _copy(cache: Path) -> Any:
    (doc,) = cache.glob("*.doc")
    return json.loads(doc.read_text(encoding="utf-8"))


def _load(url: str) -> dict[str, Any]:
    return load_document(url, timeout=5)[0]


# -- bounded downloads -------------------------------------------------------------------------------

def _zlib(data: bytes) -> bytes:
    return zlib.compress(data)


@pytest.mark.parametrize(("encoding", "encode"), [
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("deflate", _zlib),
    ("identity", lambda data: data),
    ("gzip, gzip", lambda data: gzip.compress(gzip.compress(data))),
    ("deflate, gzip", lambda data: gzip.compress(_zlib(data))),  # deflate applied first, so undone last
    ("GZIP , identity", gzip.compress),
])
def test_content_encodings_are_undone_layer_by_layer(upstream: RecordingUpstream, encoding: str, encode: Any) -> None:
    upstream.reply(200, encode(RAW), {"Content-Type": "application/json", "Content-Encoding": encoding})
    assert _load(f"{upstream.url}/openapi.json") == DOCUMENT
    assert upstream.last.headers["accept-encoding"] == "gzip, deflate"


def test_a_document_larger_than_one_decompression_step_is_read_whole(upstream: RecordingUpstream) -> None:
    """Many 64 KiB steps, some ending with output still inside zlib, give back every byte."""
    big = dict(DOCUMENT, info={"title": "Big", "version": "1", "description": "abc " * 400_000})
    upstream.reply(200, gzip.compress(gzip.compress(json.dumps(big).encode())),
                   {"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"})
    assert _load(f"{upstream.url}/openapi.json") == big


@pytest.mark.parametrize("encoding", ["gzip", "gzip, gzip", "identity"])
def test_a_document_over_the_limit_is_refused_by_its_decompressed_size(
        upstream: RecordingUpstream, cache: Path, monkeypatch: pytest.MonkeyPatch, encoding: str) -> None:
    monkeypatch.setenv("MCP_GATEWAY_MAX_DOCUMENT_BYTES", "100000")
    body = b'{"openapi": "3.1.0", "padding": "' + b"0" * (100_001 - 35) + b'"}'  # one byte too many
    for _ in encoding.split(",") if encoding != "identity" else ():
        body = gzip.compress(body)
    upstream.reply(200, body, {"Content-Type": "application/json", "Content-Encoding": encoding})
    url = f"{upstream.url}/openapi.json"
    with pytest.raises(DocumentError) as caught:
        _load(url)
    assert str(caught.value) == (f"{url}: is larger than the 100000 bytes a document may have (counted after "
                                 "decompression); if it is genuine, set MCP_GATEWAY_MAX_DOCUMENT_BYTES to a larger "
                                 "number of bytes")
    assert _cached(cache) == []


def test_the_limit_is_exact(upstream: RecordingUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_GATEWAY_MAX_DOCUMENT_BYTES", str(len(RAW)))
    upstream.reply(200, gzip.compress(RAW), {"Content-Encoding": "gzip"})
    assert _load(f"{upstream.url}/a.json") == DOCUMENT
    monkeypatch.setenv("MCP_GATEWAY_MAX_DOCUMENT_BYTES", str(len(RAW) - 1))
    upstream.reply(200, gzip.compress(RAW), {"Content-Encoding": "gzip"})
    with pytest.raises(DocumentError, match="larger than the"):
        _load(f"{upstream.url}/b.json")


def test_the_default_limit_is_64_mib_in_the_message(tmp_path: Path) -> None:
    """The default is far above the largest real documents (GitHub's is 13 MB); a sparse file shows it."""
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024 + 1)
    with pytest.raises(DocumentError, match=r"huge\.json: is larger than the 64 MiB a document may have"):
        load_document(str(huge))


@pytest.mark.parametrize("value", ["lots", "-5", "0", "1.5e6"])
def test_a_bad_limit_setting_is_named_and_spares_the_cache(upstream: RecordingUpstream, cache: Path,
                                                           monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    upstream.reply(200, RAW)
    url = f"{upstream.url}/openapi.json"
    _load(url)
    monkeypatch.setenv("MCP_GATEWAY_MAX_DOCUMENT_BYTES", value)
    with pytest.raises(DocumentError, match=r"^MCP_GATEWAY_MAX_DOCUMENT_BYTES: must be a whole number of bytes"):
        _load(url)
    assert _cached(cache) == [".doc"] and len(upstream.requests) == 1


@pytest.mark.parametrize(("headers", "body", "problem"), [
    ({"Content-Encoding": "br"}, UNREAD, "Content-Encoding br, which cannot be decoded here"),
    ({"Content-Encoding": "gzip"}, b"not gzip at all", "is sent as gzip but cannot be decompressed"),
])
def test_encodings_that_cannot_be_undone_are_named(upstream: RecordingUpstream, headers: dict[str, str],
                                                   body: bytes, problem: str) -> None:
    upstream.reply(200, body, headers)
    with pytest.raises(DocumentError, match=problem):
        _load(f"{upstream.url}/openapi.json")


def test_redirects_are_followed_and_bounded(upstream: RecordingUpstream) -> None:
    upstream.reply(302, b"", {"Location": "/moved.json"})
    upstream.reply(200, RAW)
    assert _load(f"{upstream.url}/openapi.json") == DOCUMENT
    assert [r.raw_path for r in upstream.requests] == ["/openapi.json", "/moved.json"]
    for _ in range(11):
        upstream.reply(302, b"", {"Location": "/again.json"})
    with pytest.raises(DocumentError, match="redirects more than 10 times"):
        _load(f"{upstream.url}/loop.json")


# -- the cache holds only copies that parsed ---------------------------------------------------------

def test_a_web_page_is_an_error_naming_the_url_and_is_not_cached(upstream: RecordingUpstream, cache: Path) -> None:
    upstream.reply(200, HTML, HTML_TYPE)
    url = f"{upstream.url}/openapi.json"
    with pytest.raises(DocumentError) as caught:
        _load(url)
    assert str(caught.value).startswith(f"{url}: ") and str(caught.value).endswith("not a web page")
    assert _cached(cache) == []
    upstream.reply(503, UNREAD)
    with pytest.raises(DocumentError, match=r"fetch returned HTTP 503"):
        _load(url)


def test_a_web_page_never_replaces_the_last_good_copy(upstream: RecordingUpstream, cache: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    url = f"{upstream.url}/openapi.json"
    upstream.reply(200, RAW)
    assert _load(url) == DOCUMENT
    upstream.reply(200, HTML, HTML_TYPE)
    with caplog.at_level(logging.WARNING, logger="mcp_gateway"):
        assert _load(url) == DOCUMENT  # the page is a failed fetch: the good copy stands in, with a warning
    assert "not a web page; using the copy cached on disk" in caplog.text
    assert _copy(cache) == DOCUMENT
    upstream.reply(503, UNREAD)
    assert _load(url) == DOCUMENT


def test_an_unusable_cached_copy_is_removed_and_the_fetch_error_stands(upstream: RecordingUpstream,
                                                                       cache: Path) -> None:
    """A copy cached by an older version (a web page) is not used, and goes."""
    url = f"{upstream.url}/openapi.json"
    upstream.reply(200, RAW)
    _load(url)
    (doc,) = cache.glob("*.doc")
    doc.write_bytes(HTML)
    upstream.reply(503, UNREAD)
    with pytest.raises(DocumentError, match="HTTP 503"):
        _load(url)
    assert _cached(cache) == []


def test_etag_revalidation_uses_the_cached_copy(upstream: RecordingUpstream, cache: Path) -> None:
    url = f"{upstream.url}/openapi.json"
    upstream.reply(200, RAW, {"Content-Type": "application/json", "ETag": '"v1"'})
    assert _load(url) == DOCUMENT
    assert _cached(cache) == [".doc", ".etag"]
    upstream.reply(304, b"", {"ETag": '"v1"'})
    assert _load(url) == DOCUMENT
    assert upstream.last.headers["if-none-match"] == '"v1"'
    upstream.reply(200, HTML, HTML_TYPE)  # changed, and broken: the good copy and its ETag stay
    assert _load(url) == DOCUMENT
    assert _cached(cache) == [".doc", ".etag"]


def test_a_new_copy_without_an_etag_drops_the_old_etag(upstream: RecordingUpstream, cache: Path) -> None:
    url = f"{upstream.url}/openapi.json"
    upstream.reply(200, RAW, {"ETag": '"v1"'})
    _load(url)
    changed = dict(DOCUMENT, info={"title": "Changed", "version": "2"})
    upstream.reply(200, changed)
    assert _load(url) == changed
    assert _cached(cache) == [".doc"] and _copy(cache) == changed


def test_a_304_for_an_unusable_copy_fetches_the_whole_document(upstream: RecordingUpstream, cache: Path) -> None:
    url = f"{upstream.url}/openapi.json"
    upstream.reply(200, RAW, {"ETag": '"v1"'})
    _load(url)
    (doc,) = cache.glob("*.doc")
    doc.write_bytes(HTML)
    upstream.reply(304, b"", {"ETag": '"v1"'})
    upstream.reply(200, RAW, {"ETag": '"v1"'})
    assert _load(url) == DOCUMENT
    assert [r.headers.get("if-none-match") for r in upstream.requests[1:]] == ['"v1"', None]
    assert _copy(cache) == DOCUMENT


def test_a_referenced_web_page_is_not_cached_and_its_ref_is_left(upstream: RecordingUpstream, cache: Path) -> None:
    """An other-file ref that answers with a page leaves the ref unresolved; only the root is cached."""
    upstream.reply(200, dict(DOCUMENT, components={"schemas": {"Pet": {"$ref": "pet.yaml"}}}))
    upstream.reply(200, HTML, HTML_TYPE)
    document = read_document(f"{upstream.url}/openapi.json", timeout=5)
    assert document["components"]["schemas"]["Pet"] == {"$ref": "pet.yaml"}
    assert [r.raw_path for r in upstream.requests] == ["/openapi.json", "/pet.yaml"]
    assert _cached(cache) == [".doc"]


# -- text that is not UTF-8 --------------------------------------------------------------------------

BAD = b"openapi: 3.1.0\ninfo: {title: \xff\xfe}\npaths: {}\n"


def test_a_fetched_document_that_is_not_utf8_names_the_url_and_the_byte(upstream: RecordingUpstream,
                                                                        cache: Path) -> None:
    upstream.reply(200, BAD, {"Content-Type": "application/yaml"})
    url = f"{upstream.url}/openapi.yaml"
    with pytest.raises(DocumentError) as caught:
        _load(url)
    assert str(caught.value) == f"{url}: cannot be read as UTF-8 (byte 0xff at offset 29); save it as UTF-8"
    assert _cached(cache) == []


@pytest.mark.parametrize(("content_type", "body", "title"), [
    ("application/yaml; charset=iso-8859-1", BAD.replace(b"\xff\xfe", b"caf\xe9"), "café"),
    ("application/json", b"\xef\xbb\xbf" + json.dumps(dict(DOCUMENT, info={"title": "bom"})).encode(), "bom"),
    ("application/json; charset=no-such-charset", json.dumps(dict(DOCUMENT, info={"title": "é"})).encode(), "é"),
    ("application/json; charset=rot13", json.dumps(dict(DOCUMENT, info={"title": "plain"})).encode(), "plain"),
])
def test_a_declared_charset_is_used_and_a_bom_dropped(upstream: RecordingUpstream, content_type: str,
                                                      body: bytes, title: str) -> None:
    upstream.reply(200, body, {"Content-Type": content_type})
    assert _load(f"{upstream.url}/openapi")["info"]["title"] == title


def test_a_declared_charset_that_does_not_fit_is_named(upstream: RecordingUpstream) -> None:
    upstream.reply(200, BAD, {"Content-Type": "application/yaml; charset=ascii"})
    with pytest.raises(DocumentError, match=r"cannot be read as ascii \(byte 0xff at offset 29\)"):
        _load(f"{upstream.url}/openapi.yaml")


def test_a_file_that_is_not_utf8_names_the_file_and_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "openapi.yaml"
    path.write_bytes(BAD)
    with pytest.raises(DocumentError) as caught:
        load_document(str(path))
    assert str(caught.value) == f"{path}: cannot be read as UTF-8 (byte 0xff at offset 29); save it as UTF-8"


def test_a_profile_that_is_not_utf8_is_a_profile_error(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    content = b"name: x\nspec: openapi.yaml\n# caf\xe9\n"
    path.write_bytes(content)
    assert looks_like_profile(str(path)) is True
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    assert str(caught.value) == f"{path}: cannot be read as UTF-8 (byte 0xe9 at offset {content.index(0xe9)}); " \
                                "save it as UTF-8"


def test_a_profile_cut_inside_a_character_is_still_recognised(tmp_path: Path) -> None:
    """looks_like_profile reads the first 64 KiB as bytes, which may end inside a character."""
    path = tmp_path / "profile.yaml"
    path.write_bytes(b"spec: openapi.yaml\n# " + b"a" * (65536 - 22) + "é".encode() + b"\n")
    assert looks_like_profile(str(path)) is True
    assert load_profile(str(path)).spec.endswith("openapi.yaml")


def test_profiles_share_the_size_limit_and_a_deep_profile_is_an_error(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("spec: x\nheaders: " + "[" * 1500 + "]" * 1500 + "\n")
    with pytest.raises(ProfileError, match=r"deep\.yaml: nests too deeply to read"):
        load_profile(str(deep))
    monkeypatch.setenv("MCP_GATEWAY_MAX_DOCUMENT_BYTES", "1000")
    with pytest.raises(ProfileError, match=r"deep\.yaml: is larger than the 1000 bytes"):
        load_profile(str(deep))


# -- JSON read as ASCII text ---------------------------------------------------------------------------

PAD = "a" * 100_000  # beside this much ASCII, other characters are rare enough to be read as escapes


@pytest.mark.parametrize("text", [
    f'{{"title": "Pets 🐈 café \u2013 日本", "path": "/pets/{{id}}", "pad": "{PAD}"}}',
    f'\ufeff{{"bom": "🐈", "pad": "{PAD}"}}',
    f'{{"after a backslash": "\\\\é", "escaped already": "\\u00e9 \\ud83d\\udc08", "pad": "{PAD}"}}',
    f'[1, 2.5, true, null, "\U0001f600", "{PAD}"]',
    '{"title": "mostly other characters: 日本語のタイトル 🐈"}',
])
def test_json_with_other_characters_parses_as_its_plain_decoding_does(text: str) -> None:
    data = text.encode()
    assert parse_document(data, "doc.json") == json.loads(data.decode().removeprefix("\ufeff"))


def test_json_that_is_invalid_falls_back_to_yaml_with_its_own_characters() -> None:
    """Flow-style YAML looks like JSON: its plain scalars keep their characters (an escape would be literal)."""
    assert parse_document("{title: café 🐈, version: '1'}".encode(), "doc.yaml") == {"title": "café 🐈",
                                                                                     "version": "1"}


@pytest.mark.parametrize("pad", [PAD, ""], ids=["escaped", "decoded"])
@pytest.mark.parametrize("bad", [b"\xff", b"caf\xc3", b"\xc3(", b"\xf0\x9f\x90"])
def test_json_that_is_not_utf8_names_the_first_bad_byte(pad: str, bad: bytes) -> None:
    data = b'{"pad": "' + pad.encode() + b'", "title": "' + "é".encode() + b'", "x": "' + bad + b'"}'
    with pytest.raises(DocumentError) as caught:
        parse_document(data, "doc.json")
    offset = data.index(bad) + (3 if bad == b"caf\xc3" else 0)
    assert str(caught.value) == f"doc.json: cannot be read as UTF-8 (byte {data[offset]:#04x} at offset {offset}); " \
                                "save it as UTF-8"
