"""Credentials reach the upstream where the profile or the flags say, and nowhere else."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from tests.common import FIXTURES, TEST_KEY, server_env
from tests.servers import cookies, run_cli, serve_stdio, text_of
from tests.upstream import RecordingUpstream

pytestmark = pytest.mark.anyio

STYLES = str(FIXTURES / "styles.yaml")
KEYED = str(FIXTURES / "keyed.yaml")
ECHO = str(FIXTURES / "echo.yaml")
TOKEN = "tok-bearer-secret-5678"
PASSWORD = "pw-secret-9012"


def env_for(upstream: RecordingUpstream, **extra: str) -> dict[str, str]:
    return server_env({"ECHO_URL": upstream.url, "TEST_TOKEN": TOKEN, "TEST_USER": "alice",
                       "TEST_PASSWORD": PASSWORD, "TEST_TENANT": "acme", **extra})


@pytest.fixture
def other_upstream() -> Iterator[RecordingUpstream]:
    server = RecordingUpstream().start()
    yield server
    server.stop()


def assert_no_secret(*texts: str) -> None:
    for secret in (TEST_KEY, TOKEN, PASSWORD):
        for text in texts:
            assert secret not in text


async def test_api_key_header_and_static_headers_from_a_profile(upstream, era):
    async with serve_stdio([str(FIXTURES / "auth_header.yaml")], mode=era, env=env_for(upstream)) as served:
        result = await served.client.call_tool("echo", {})
        upstream.reply(401, {"error": {"message": f"key {TEST_KEY} is revoked"}})
        rejected = await served.client.call_tool("echo", {})
    sent = upstream.requests[0]
    assert sent.headers["x-service-key"] == TEST_KEY
    assert sent.headers["x-static"] == "fixed"
    assert sent.headers["x-tenant"] == "tenant-acme"  # ${VAR} expanded when the server starts
    assert "authorization" not in sent.headers and sent.query == []
    assert not result.is_error
    assert rejected.is_error and "HTTP 401" in text_of(rejected) and "TEST_KEY" in text_of(rejected)
    assert "key *** is revoked" in text_of(rejected)
    assert_no_secret(text_of(result), text_of(rejected), served.stderr())


async def test_api_key_in_query_never_comes_back(upstream):
    async with serve_stdio([str(FIXTURES / "auth_query.yaml")], env=env_for(upstream), log_level="DEBUG") as served:
        result = await served.client.call_tool("getThing", {"id": "t", "words": ["a"]})
    assert upstream.last.query == [("words", "a"), ("api_key", TEST_KEY)]
    assert "api_key=***" in text_of(result)  # the echo reflects the query; the key is masked
    assert_no_secret(text_of(result), json.dumps(result.structured_content), served.stderr())


async def test_api_key_in_cookie_joins_cookie_parameters(upstream):
    async with serve_stdio([str(FIXTURES / "auth_cookie.yaml")], env=env_for(upstream)) as served:
        result = await served.client.call_tool("getThing", {"id": "t", "cookie_id": "c"})
    assert not result.is_error
    assert cookies(upstream.last) == [("id", "c"), ("sid", TEST_KEY)]
    assert_no_secret(text_of(result), served.stderr())


async def test_bearer_and_basic_from_profiles(upstream):
    async with serve_stdio([str(FIXTURES / "auth_bearer.yaml")], env=env_for(upstream)) as served:
        bearer = await served.client.call_tool("echo", {})
        bearer_log = served.stderr()
    async with serve_stdio([str(FIXTURES / "auth_basic.yaml")], env=env_for(upstream)) as served:
        basic = await served.client.call_tool("echo", {})
        upstream.reply(200, {"owner": "alice", "note": f"password {PASSWORD}"})
        owned = await served.client.call_tool("echo", {})
        basic_log = served.stderr()
    assert not bearer.is_error and not basic.is_error
    assert owned.structured_content == {"owner": "alice", "note": "password ***"}  # the user name is no secret
    assert upstream.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    credentials = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert upstream.requests[1].headers["authorization"] == f"Basic {credentials}"
    assert_no_secret(bearer_log, basic_log)


async def test_flags_for_a_bare_document(upstream):
    async with serve_stdio([STYLES, "--base-url", upstream.url, "--api-key-env", "TEST_KEY"]) as served:
        await served.client.call_tool("echo", {})
    async with serve_stdio([STYLES, "--base-url", upstream.url, "--api-key-env", "TEST_KEY",
                            "--api-key-header", "X-Custom-Key"]) as served:
        await served.client.call_tool("echo", {})
    async with serve_stdio([KEYED, "--base-url", upstream.url, "--api-key-env", "TEST_KEY"]) as served:
        await served.client.call_tool("whoami", {"verbose": True})  # the document's scheme: `key` in the query
    async with serve_stdio([STYLES, "--base-url", upstream.url, "--bearer-env", "TEST_TOKEN"],
                           env=env_for(upstream)) as served:
        await served.client.call_tool("echo", {})
    default, custom, keyed, bearer = upstream.requests
    assert default.headers["x-api-key"] == TEST_KEY
    assert custom.headers["x-custom-key"] == TEST_KEY and "x-api-key" not in custom.headers
    assert keyed.query == [("verbose", "true"), ("key", TEST_KEY)] and "x-api-key" not in keyed.headers
    assert bearer.headers["authorization"] == f"Bearer {TOKEN}"


async def test_a_missing_credential_names_its_variable_and_sends_nothing(upstream):
    env = {k: v for k, v in env_for(upstream).items() if k != "TEST_TOKEN"}
    async with serve_stdio([str(FIXTURES / "auth_bearer.yaml")], env=env) as served:
        result = await served.client.call_tool("echo", {})
    assert result.is_error and "TEST_TOKEN" in text_of(result)
    async with serve_stdio([STYLES, "--base-url", upstream.url, "--api-key-env", "TEST_UNSET_KEY"]) as served:
        flagged = await served.client.call_tool("echo", {})
    assert flagged.is_error and "TEST_UNSET_KEY" in text_of(flagged)
    assert upstream.requests == []


def test_the_cli_never_prints_the_key(upstream):
    done = run_cli("--log-level", "DEBUG", "call", str(FIXTURES / "auth_query.yaml"), "getThing",
                   "--args", '{"id": "t"}', "--json", env=env_for(upstream))
    assert done.returncode == 0, done.stderr
    assert upstream.last.query == [("api_key", TEST_KEY)]
    assert json.loads(done.stdout)["structuredContent"]["query"] == "api_key=***"
    assert_no_secret(done.stdout, done.stderr)


async def test_credentials_do_not_follow_a_redirect_to_another_origin(upstream, other_upstream):
    async with serve_stdio([str(FIXTURES / "auth_header.yaml")], env=env_for(upstream)) as served:
        upstream.reply(302, b"", {"Location": f"{other_upstream.url}/elsewhere"})
        moved = await served.client.call_tool("echo", {})
    assert not moved.is_error, text_of(moved)
    assert upstream.last.headers["x-service-key"] == TEST_KEY
    assert other_upstream.last.raw_path == "/elsewhere"
    assert "x-service-key" not in other_upstream.last.headers
    assert "x-tenant" not in other_upstream.last.headers


async def test_a_cookie_key_survives_a_same_origin_redirect(upstream):
    async with serve_stdio([str(FIXTURES / "auth_cookie.yaml")], env=env_for(upstream)) as served:
        upstream.reply(307, b"", {"Location": "/echo-again"})
        moved = await served.client.call_tool("echo", {})
    assert not moved.is_error, text_of(moved)
    first, second = upstream.requests
    assert second.raw_path == "/echo-again"
    assert cookies(first) == cookies(second) == [("sid", TEST_KEY)]


async def test_a_profile_api_key_placement_wins_over_the_document(upstream):
    async with serve_stdio([str(FIXTURES / "auth_query_over_document.yaml")], env=env_for(upstream)) as served:
        await served.client.call_tool("getText", {})
    assert upstream.last.query == [("api_key", TEST_KEY)]
    assert "x-api-key" not in upstream.last.headers


async def test_a_header_value_from_the_environment_is_never_shown(upstream):
    async with serve_stdio([str(FIXTURES / "auth_header.yaml")], env=env_for(upstream)) as served:
        upstream.reply(200, {"tenant": "tenant-acme", "static": "fixed"})
        result = await served.client.call_tool("echo", {})
    assert upstream.last.headers["x-tenant"] == "tenant-acme"
    assert "tenant-acme" not in text_of(result) and "***" in text_of(result)
    assert "fixed" in text_of(result)  # a value written in the profile itself is no secret
