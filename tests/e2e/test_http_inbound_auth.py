"""Inbound auth on the HTTP transport: fixed tokens and OAuth access tokens (JWTs against a local JWKS), with the
official client in both eras; refusals are 401 with WWW-Authenticate, /healthz stays open, no token goes upstream
or into the log."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.common import FIXTURES, server_env
from tests.servers import run_cli, serve_http, text_of
from tests.upstream import JsonDocuments

pytestmark = pytest.mark.anyio

ECHO = str(FIXTURES / "echo.yaml")
TOKENS = ("first-team-token-4f1d", "second-team-token-9a7c")
AUDIENCE = "https://gateway.test/mcp"


async def call_with(url: str, mode: str, headers: dict[str, str]) -> str:
    """One tools/call through the official client sending `headers`; the result's text."""
    async with httpx2.AsyncClient(headers=headers) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            result = await client.call_tool("getText", {})
    assert not result.is_error, text_of(result)
    return text_of(result)


async def refused(url: str, mode: str, headers: dict[str, str]) -> None:
    """The official client cannot even start a session with these headers."""
    with pytest.raises(BaseException) as failure:  # the client wraps its MCPError in task groups
        await call_with(url, mode, headers)
    inner: BaseException = failure.value
    while isinstance(inner, BaseExceptionGroup):
        inner = inner.exceptions[0]
    assert isinstance(inner, MCPError), repr(inner)


def post_status(url: str, headers: dict[str, str]) -> httpx.Response:
    """A tools/list POST as any HTTP client would send it."""
    return httpx.post(url, headers={"Accept": "application/json, text/event-stream", **headers},
                      json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=10)


async def test_fixed_tokens_let_in_their_holders_only(upstream, era) -> None:
    env = server_env({"TEAM_TOKENS": f" {TOKENS[0]} , {TOKENS[1]} "})
    with open_log() as errlog:
        async with serve_http([ECHO, "--base-url", upstream.url, "--auth-token-env", "TEAM_TOKENS"], env=env,
                              errlog=errlog) as url:
            await refused(url, era, {})
            await refused(url, era, {"Authorization": "Bearer not-a-team-token"})
            await refused(url, era, {"Authorization": f"Bearer {TOKENS[1]}x"})
            await call_with(url, era, {"Authorization": f"Bearer {TOKENS[1]}"})
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKENS[0]}):
                answer = post_status(url, headers)
                assert answer.status_code == 401
                assert answer.headers["www-authenticate"].startswith("Bearer ")
            health = httpx.get(url.replace("/mcp", "/healthz"), timeout=10)
        log = read(errlog)
    assert health.status_code == 200 and health.json() == {"status": "ok"}  # open, and silent about the tools
    assert "caller=token#2" in log
    assert len(upstream.requests) == 1 and "authorization" not in upstream.requests[0].headers
    for token in TOKENS:
        assert token not in log
        assert all(token.encode() not in r.body and token not in str(r.headers) for r in upstream.requests)


def test_a_missing_or_empty_token_variable_stops_start_up() -> None:
    for env in (server_env(), server_env({"TEAM_TOKENS": " , "})):
        done = run_cli("serve", ECHO, "--transport", "http", "--port", "9", "--auth-token-env", "TEAM_TOKENS", env=env)
        assert done.returncode == 2 and "TEAM_TOKENS" in done.stderr


class Issuer:
    """An OAuth issuer on 127.0.0.1: its signing key, its JWKS and metadata served, tokens made to order."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.server = JsonDocuments({"/jwks.json": {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}})
        self.server.start()
        self.url = self.server.url
        self.server.documents["/.well-known/oauth-authorization-server"] = {
            "issuer": self.url, "jwks_uri": f"{self.url}/jwks.json"}

    def token(self, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "sub": "alice@example.com", "iat": now, "exp": now + 300,
                "scope": "tools"}
        return jwt.encode({**body, **claims}, key or self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    made = Issuer()
    yield made
    made.server.stop()


async def test_oauth_access_tokens_are_checked_against_the_issuers_keys(upstream, issuer, era) -> None:
    args = [ECHO, "--base-url", upstream.url, "--oauth-issuer", issuer.url, "--oauth-audience", AUDIENCE,
            "--oauth-scope", "tools"]  # the key set's URL found in the issuer's metadata
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {"expired": issuer.token(exp=int(time.time()) - 120),
           "wrong audience": issuer.token(aud="https://elsewhere.test/mcp"),
           "wrong issuer": issuer.token(iss="https://issuer.invalid"),
           "wrong key": issuer.token(key=stranger),
           "no scope": issuer.token(scope="other"),
           "not a JWT": "abc.def.ghi"}
    valid = issuer.token()
    with open_log() as errlog:
        async with serve_http(args, errlog=errlog) as url:
            await call_with(url, era, {"Authorization": f"Bearer {valid}"})
            await refused(url, era, {"Authorization": f"Bearer {bad['expired']}"})
            answers = {case: post_status(url, {"Authorization": f"Bearer {token}"}) for case, token in bad.items()}
            missing = post_status(url, {})
            metadata = httpx.get(url.replace("/mcp", "/.well-known/oauth-protected-resource"), timeout=10)
            inserted = httpx.get(url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp"), timeout=10)
        log = read(errlog)
    assert {case: answer.status_code for case, answer in answers.items()} == {
        case: 403 if case == "no scope" else 401 for case in bad}
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer ")
    assert 'resource_metadata="https://gateway.test/.well-known/oauth-protected-resource/mcp"' in \
        missing.headers["www-authenticate"]
    assert metadata.status_code == inserted.status_code == 200 and metadata.json() == inserted.json()
    assert metadata.json()["resource"] == AUDIENCE
    assert metadata.json()["authorization_servers"] == [issuer.url]
    assert metadata.json()["scopes_supported"] == ["tools"]
    assert "caller=alice@example.com" in log
    assert [r.raw_path for r in issuer.server.requests] == ["/.well-known/oauth-authorization-server", "/jwks.json"]
    assert "authorization" not in upstream.requests[0].headers
    for token in (valid, *bad.values()):
        assert token not in log


def test_oauth_flags_are_checked_before_start() -> None:
    for flags, words in ((["--oauth-issuer", "https://issuer.test"], "--oauth-audience"),
                         (["--oauth-issuer", "http://issuer.test", "--oauth-audience", AUDIENCE], "https://"),
                         (["--oauth-scope", "tools"], "--auth-token-env")):
        done = run_cli("serve", ECHO, "--transport", "http", "--port", "9", *flags)
        assert done.returncode == 2 and words in done.stderr, done.stderr


def open_log() -> Any:
    return tempfile.TemporaryFile("w+", encoding="utf-8")


def read(errlog: Any) -> str:
    errlog.flush()
    errlog.seek(0)
    return str(errlog.read())
