"""Unit tests of media type classification (RFC 9110 §8.3.1: type/subtype and parameters, case-insensitive)."""

from __future__ import annotations

import pytest

from mcp_gateway.media import body_kind, charset, essence, is_json, is_textual


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


@pytest.mark.parametrize(("content_type", "expected"), [
    ("application/json", True),
    ("application/json; charset=utf-8", True),
    ("APPLICATION/JSON", True),
    ("application/problem+json", True),
    ("application/vnd.github+json", True),
    ("application/x-ndjson", True),
    ("application/json-patch+json", True),
    ("text/plain", False),
    ("application/xml", False),
    ("application/octet-stream", False),
    ("", False),
])
def test_is_json(content_type: str, expected: bool) -> None:
    assert is_json(content_type) is expected


@pytest.mark.parametrize(("content_type", "expected"), [
    ("application/json", True),
    ("application/hal+json", True),
    ("text/plain", True),
    ("text/html; charset=utf-8", True),
    ("text/csv", True),
    ("application/xml", True),
    ("application/atom+xml", True),
    ("image/svg+xml", True),
    ("application/javascript", True),
    ("application/yaml", True),
    ("application/x-yaml", True),
    ("application/openapi+yaml", True),
    ("application/csv", True),
    ("application/graphql", True),
    ("application/x-www-form-urlencoded", True),
    ("application/octet-stream", False),
    ("application/pdf", False),
    ("application/zip", False),
    ("image/png", False),
    ("audio/mpeg", False),
    ("multipart/form-data", False),
])
def test_is_textual(content_type: str, expected: bool) -> None:
    assert is_textual(content_type) is expected


@pytest.mark.parametrize(("content_type", "expected"), [
    ("application/json", "json"),
    ("application/json; charset=utf-8", "json"),
    ("application/merge-patch+json", "json"),
    ("*/*", "json"),
    ("application/*", "json"),
    ("application/x-www-form-urlencoded", "form"),
    ("Application/X-WWW-Form-Urlencoded; charset=utf-8", "form"),
    ("multipart/form-data", "multipart"),
    ("multipart/mixed; boundary=x", "multipart"),
    ("text/plain", "text"),
    ("text/csv", "text"),
    ("application/xml", "text"),
    ("application/soap+xml", "text"),
    ("application/octet-stream", "binary"),
    ("image/png", "binary"),
    ("application/pdf", "binary"),
])
def test_body_kind(content_type: str, expected: str) -> None:
    assert body_kind(content_type) == expected
