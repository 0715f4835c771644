"""Build time: every tool's absolute base URL, secrets from static headers, the document's own apiKey scheme."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mcp_gateway.build import (
    TargetOptions,
    absolute_server,
    build_api,
    profile_for,
    refine_auth,
    static_headers,
    with_base_urls,
)
from mcp_gateway.compile import compile_document
from mcp_gateway.errors import ProfileError
from mcp_gateway.openapi import security_schemes
from mcp_gateway.profile import Auth, Profile

OK = {"200": {"description": "ok"}}


def _document(servers: list[dict[str, Any]] | None = None, **paths: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                                "paths": {f"/{name}": item for name, item in paths.items()}}
    if servers is not None:
        document["servers"] = servers
    return document


def _bases(document: dict[str, Any], spec: str, base_url: str | None = None) -> dict[str, str | None]:
    profile = Profile(spec=spec, base_url=base_url)
    compilation = with_base_urls(profile, compile_document(document, profile), strict=True)
    return {tool.operation: tool.plan.base_url for tool in compilation.tools}


@pytest.mark.parametrize(("url", "document_url", "root", "expected"), [
    ("https://api.example.com/v1", None, None, "https://api.example.com/v1"),
    ("/", "http://127.0.0.1:8000/openapi.json", None, "http://127.0.0.1:8000/"),
    ("/v2", "http://h/docs/openapi.json", "/v1", "http://h/v2"),
    ("v2/", "http://h/docs/openapi.json", None, "http://h/docs/v2/"),
    ("", "http://h/docs/openapi.json", None, "http://h/"),
    ("/v2", None, "https://api.example.com/v1", "https://api.example.com/v2"),
    ("/", None, "/v1", None),  # read from a file, nothing absolute to resolve against
    ("/v2", None, None, None),
])
def test_absolute_server(url: str, document_url: str | None, root: str | None, expected: str | None) -> None:
    assert absolute_server(url, document_url, root) == expected


def test_a_document_without_servers_is_served_from_its_own_host() -> None:
    """OpenAPI 3: no `servers` means the server `/`, relative to where the document was fetched (FastAPI)."""
    document = _document(items={"get": {"responses": OK}})
    assert _bases(document, "http://127.0.0.1:8000/openapi.json") == {"GET /items": "http://127.0.0.1:8000/"}
    assert _bases(document, "docs/openapi.json") == {"GET /items": None}


def test_relative_operation_and_path_item_servers_resolve_like_the_root_one() -> None:
    document = _document(
        [{"url": "/api"}],
        root={"get": {"responses": OK}},
        op={"get": {"servers": [{"url": "/v2"}], "responses": OK}},
        item={"servers": [{"url": "https://{region}.example.com", "variables": {"region": {"default": "eu"}}}],
              "get": {"responses": OK}},
    )
    assert _bases(document, "http://h:1/spec/openapi.json") == {
        "GET /root": "http://h:1/api", "GET /op": "http://h:1/v2", "GET /item": "https://eu.example.com"}
    from_file = _document([{"url": "https://api.example.com/v1"}], op={"get": {"servers": [{"url": "/v2"}],
                                                                                "responses": OK}})
    assert _bases(from_file, "docs/openapi.json") == {"GET /op": "https://api.example.com/v2"}


def test_the_profile_base_url_wins_and_expands_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TEST_HOST", "https://tenant.example.com")
    document = _document([{"url": "https://api.example.com"}], op={"get": {"servers": [{"url": "/v2"}],
                                                                            "responses": OK}})
    assert _bases(document, "docs/x.json", "${GW_TEST_HOST}/v1") == {"GET /op": "https://tenant.example.com/v1"}
    monkeypatch.delenv("GW_TEST_HOST")
    with pytest.raises(ProfileError, match="GW_TEST_HOST"):
        _bases(document, "docs/x.json", "${GW_TEST_HOST}/v1")


def test_static_headers_from_the_environment_are_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TEST_TOKEN", "tok-1234567890")
    monkeypatch.setenv("GW_TEST_REGION", "eu")
    monkeypatch.delenv("GW_TEST_UNSET", raising=False)
    profile = Profile(spec="x.json", headers={
        "Authorization": "Token ${GW_TEST_TOKEN}", "X-Region": "${GW_TEST_REGION}", "X-Fixed": "plain-value-123",
        "X-App": "${GW_TEST_UNSET:-}"})
    headers, secrets = static_headers(profile, strict=True)
    assert headers == {"Authorization": "Token tok-1234567890", "X-Region": "eu", "X-Fixed": "plain-value-123"}
    assert set(secrets) == {"Token tok-1234567890", "tok-1234567890"}  # `eu` is too short to be a secret


def test_a_bare_document_takes_its_own_api_key_scheme() -> None:
    document = _document(x={"get": {"responses": OK}})
    document["components"] = {"securitySchemes": {"k": {"type": "apiKey", "in": "query", "name": "api_key"}}}
    profile, from_file = profile_for("http://h/openapi.json", TargetOptions(api_key_env="GW_KEY"), single=True)
    assert not from_file and profile.name == "openapi"
    refined = refine_auth(profile, TargetOptions(api_key_env="GW_KEY"), security_schemes(document))
    assert refined.auth == Auth(type="api_key", env="GW_KEY", **{"in": "query"}, name="api_key")
    options = TargetOptions(api_key_env="GW_KEY", api_key_header="X-Key")
    named = refine_auth(profile_for("http://h/openapi.json", options, single=True)[0], options,
                        security_schemes(document))
    assert named.auth.name == "X-Key" and named.auth.in_ == "header"  # a header given on the command line wins


def test_a_control_character_in_a_key_stops_start_up_naming_the_variable_not_the_value(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TEST_TOKEN", "tok-secret\r\nX-Injected: 1")
    document = _document(x={"get": {"responses": OK}})
    profile = Profile(spec="docs/x.json", base_url="http://127.0.0.1:9", auth=Auth(type="bearer", env="GW_TEST_TOKEN"))
    client = httpx.AsyncClient()
    with pytest.raises(ProfileError) as refused:
        build_api(profile, compile_document(document, profile), client, strict=True)
    assert "GW_TEST_TOKEN" in str(refused.value) and "tok-secret" not in str(refused.value)
    api = build_api(profile, compile_document(document, profile), client, strict=False)  # `tools`: a warning only
    assert api.upstream.credentials.headers == {}


def test_a_line_break_in_a_static_header_from_the_environment_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TEST_APP", "app-1234567\nX-Injected: 1")
    profile = Profile(spec="x.json", headers={"X-App": "${GW_TEST_APP}"})
    with pytest.raises(ProfileError, match=r"headers\.X-App") as refused:
        static_headers(profile, strict=True)
    assert "app-1234567" not in str(refused.value)
    assert static_headers(profile, strict=False) == ({}, ["app-1234567\nX-Injected: 1"])
