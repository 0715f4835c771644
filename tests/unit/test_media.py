"""Unit tests of media type classification (RFC 9110 §8.3.1: type/subtype and parameters, case-insensitive)."""

from __future__ import annotations

import pytest

from mcp_gateway.media import body_kind, charset, essence, extension, is_json, is_media_type, is_textual


@pytest.mark.parametrize(("content_type", "expected"), [
    ("application/json", "application/json"),
    ("Application/JSON; charset=utf-8", "application/json"),
    ("  text/plain ;format=flowed", "text/plain"),
    ("multipart/form-data; boundary=abc", "multipart/form-data"),
    ("", ""),
])
def test_essence_is_the_lower_case_type_without_parameters(content_type: str, expected: str) -> None:
    assert essence(content_type) == expected


@pytest.mark.parametrize(("content_type", "expected"), [
    ("text/plain; charset=iso-8859-1", "iso-8859-1"),
    ('text/plain; charset="UTF-8"', "UTF-8"),
    ("text/plain; Charset=utf-8", "utf-8"),
    ("text/html; format=x; charset=windows-1252", "windows-1252"),
    ("text/plain", None),
    ("text/plain; charset=", None),
    ("application/json; version=2", None),
    ("", None),
])
def test_charset_parameter(content_type: str, expected: str | None) -> None:
    assert charset(content_type) == expected


@pytest.mark.parametrize(("content_type", "json", "textual", "kind"), [
    ("application/json", True, True, "json"),
    ("application/json; charset=utf-8", True, True, "json"),
    ("APPLICATION/JSON", True, True, "json"),
    ("application/problem+json", True, True, "json"),
    ("application/vnd.github+json", True, True, "json"),
    ("application/hal+json", True, True, "json"),
    ("application/merge-patch+json", True, True, "json"),
    ("application/json-patch+json", True, True, "json"),
    ("application/x-ndjson", True, True, "json"),
    ("*/*", False, False, "json"),  # a wildcard request body: JSON is what an agent can write
    ("application/*", False, False, "json"),
    ("application/x-www-form-urlencoded", False, True, "form"),
    ("Application/X-WWW-Form-Urlencoded; charset=utf-8", False, True, "form"),
    ("multipart/form-data", False, False, "multipart"),
    ("multipart/mixed; boundary=x", False, False, "multipart"),
    ("text/plain", False, True, "text"),
    ("text/html; charset=utf-8", False, True, "text"),
    ("text/csv", False, True, "text"),
    ("application/xml", False, True, "text"),
    ("application/atom+xml", False, True, "text"),
    ("application/soap+xml", False, True, "text"),
    ("image/svg+xml", False, True, "text"),
    ("application/javascript", False, True, "text"),
    ("application/yaml", False, True, "text"),
    ("application/x-yaml", False, True, "text"),
    ("application/openapi+yaml", False, True, "text"),
    ("application/csv", False, True, "text"),
    ("application/graphql", False, True, "text"),
    ("application/octet-stream", False, False, "binary"),
    ("application/pdf", False, False, "binary"),
    ("application/zip", False, False, "binary"),
    ("image/png", False, False, "binary"),
    ("audio/mpeg", False, False, "binary"),
])
def test_media_kinds(content_type: str, json: bool, textual: bool, kind: str) -> None:
    """One table for the three questions: is it JSON, is it text to a reader, how is a body of it sent."""
    assert is_json(content_type) is json
    assert is_textual(content_type) is textual
    assert body_kind(content_type) == kind


def test_no_content_type_is_neither_json_nor_text() -> None:
    assert not is_json("") and not is_textual("")


@pytest.mark.parametrize(("value", "expected"), [
    ("multipart/form-data", True), ("application/vnd.api+json", True), ("text/csv; charset=utf-8", True),
    ("multipart", False), ("*/*", False), ("audio/", False), ("/json", False), ("a/b c", False), ("", False),
])
def test_is_media_type(value: str, expected: bool) -> None:
    """type/subtype, parameters allowed; a wildcard or a missing half is not one."""
    assert is_media_type(value) is expected


@pytest.mark.parametrize(("content_type", "expected"), [
    ("audio/mpeg", ".mp3"), ("audio/wav", ".wav"), ("Audio/X-WAV; rate=8000", ".wav"), ("audio/ogg", ".ogg"),
    ("audio/flac", ".flac"), ("audio/webm", ".webm"), ("audio/mp4", ".m4a"), ("image/png", ".png"),
    ("application/pdf", ".pdf"), ("application/x-unheard-of", None), ("", None),
])
def test_extension(content_type: str, expected: str | None) -> None:
    """The extension an upload's filename needs, the same on every machine (Python's table, plus common audio)."""
    assert extension(content_type) == expected
