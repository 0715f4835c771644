"""The upstream side of a team server, over streamable HTTP in both protocol eras against an upstream that misbehaves
on purpose: each caller's own key, OAuth2 client credentials, retries, the circuit breaker and the concurrency limit,
and no secret in any result, error or log line."""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx2
import pytest
import yaml
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from tests.common import FIXTURES, TEST_KEY, server_env
from tests.servers import serve_http, text_of
from tests.upstream import MisbehavingUpstream

pytestmark = pytest.mark.anyio

ERAS = ("legacy", "2026-07-28")
DOCUMENT = str(FIXTURES / "resilience.yaml")
ALICE = "alice-own-upstream-key-0001"  # a caller's own key
BOB = "bob-own-upstream-key-0002"
INBOUND = "token-for-this-server-only-0003"  # what a client sends to reach the gateway itself: never forwarded


@pytest.fixture
def misbehaving() -> Iterator[MisbehavingUpstream]:
    server = MisbehavingUpstream().start()
    yield server
    server.stop()


def profile(folder: Path, name: str, base_url: str, **keys: Any) -> str:
    """A profile of the resilience document named `name` (its tools prefixed with it), written into `folder`."""
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "spec": DOCUMENT, "base_url": base_url, "tool_prefix": name,
                                    **keys}), encoding="utf-8")
    return str(path)


class Stderr:
    """A server's stderr: `text` holds it all once the server has stopped."""

    def __init__(self) -> None:
        self.text = ""


@asynccontextmanager
async def gateway(profiles: list[str], **env: str) -> AsyncIterator[tuple[str, Stderr]]:
    """The HTTP server on these profiles at its MCP URL, and its stderr."""
    stderr = Stderr()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as file:
        try:
            async with serve_http(profiles, env=server_env(env), errlog=file) as url:
                yield url, stderr
        finally:
            file.seek(0)
            stderr.text = file.read()


@asynccontextmanager
async def client(url: str, mode: str, headers: dict[str, str] | None = None) -> AsyncIterator[Client]:
    """The official client in protocol era `mode`, sending `headers` with every HTTP request."""
    async with httpx2.AsyncClient(headers=headers or {}) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as connected:
            yield connected


def shown(results: list[CallToolResult], stderr: str) -> str:
    """Everything the server let out: each result's text and structured content, and its log."""
    parts = [stderr]
    for result in results:
        parts += [text_of(result), json.dumps(result.structured_content)]
    return "\n".join(parts)


def assert_nothing_secret(output: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in output, f"{secret[:6]}... leaked"


async def test_each_callers_own_key_replaces_the_servers_only_where_the_profile_says(misbehaving, tmp_path):
    own = profile(tmp_path, "own", misbehaving.url, auth={
        "type": "bearer", "env": "TEST_KEY", "user_key": {"header": "X-Upstream-Authorization"}})
    must = profile(tmp_path, "must", misbehaving.url, auth={
        "type": "api_key", "in": "query", "name": "key", "env": "TEST_KEY",
        "user_key": {"header": "X-Must-Key", "required": True}})
    plain = profile(tmp_path, "plain", misbehaving.url, auth={"type": "bearer", "env": "TEST_KEY"})
    results: list[CallToolResult] = []
    async with gateway([own, must, plain]) as (url, stderr):
        for mode in ERAS:
            misbehaving.requests.clear()
            headers = {"X-Upstream-Authorization": f"Bearer {ALICE}", "X-Must-Key": BOB,
                       "Authorization": f"Bearer {INBOUND}"}
            async with client(url, mode, headers) as keyed:
                echoed = await keyed.call_tool("own_getEcho", {"note": ALICE})
                queried = await keyed.call_tool("must_getEcho", {})
                ignored = await keyed.call_tool("plain_getEcho", {})
            async with client(url, mode) as anonymous:
                fallback = await anonymous.call_tool("own_getEcho", {})
                refused = await anonymous.call_tool("must_getEcho", {})
            results += [echoed, queried, ignored, fallback, refused]
            assert not any(r.is_error for r in (echoed, queried, ignored, fallback)), [text_of(r) for r in results]
            sent_own, sent_must, sent_plain, sent_fallback = misbehaving.requests  # the refused call sent nothing
            assert sent_own.headers["authorization"] == f"Bearer {ALICE}"
            assert sent_must.query == [("key", BOB)]
            assert sent_plain.headers["authorization"] == sent_fallback.headers["authorization"] == f"Bearer {TEST_KEY}"
            assert all(INBOUND not in json.dumps(sent.headers) for sent in misbehaving.requests)
            assert "x-upstream-authorization" not in sent_plain.headers and "x-must-key" not in sent_must.headers
            assert echoed.structured_content["query"] == "note=***"  # the caller's key, echoed back, is masked
            assert queried.structured_content["query"] == "key=***"
            assert refused.is_error and "X-Must-Key header" in text_of(refused)
    assert_nothing_secret(shown(results, stderr.text), ALICE, BOB, TEST_KEY, INBOUND)


async def test_oauth2_client_credentials_fetch_once_share_and_refresh_on_401(misbehaving, tmp_path):
    oauth = {"type": "oauth2_client_credentials", "token_url": f"{misbehaving.url}/oauth/token",
             "client_id_env": "TEST_CLIENT_ID", "client_secret_env": "TEST_CLIENT_SECRET", "scopes": ["read", "write"]}
    good = profile(tmp_path, "good", misbehaving.url, auth=oauth)
    wrong = profile(tmp_path, "wrong", misbehaving.url, auth={**oauth, "client_secret_env": "TEST_WRONG_SECRET"})
    wrong_secret = "not-the-client-secret-4567"
    env = {"TEST_CLIENT_ID": misbehaving.CLIENT_ID, "TEST_CLIENT_SECRET": misbehaving.CLIENT_SECRET,
           "TEST_WRONG_SECRET": wrong_secret}
    results: list[CallToolResult] = []
    async with gateway([good, wrong], **env) as (url, stderr):
        async with client(url, "legacy") as first:
            together: list[CallToolResult] = []
            async with anyio.create_task_group() as tasks:
                for _ in range(4):
                    tasks.start_soon(lambda: _collect(first, "good_getProtected", together))
            cached = await first.call_tool("good_getProtected", {})
            fetched_once = len(misbehaving.token_requests)
            misbehaving.revoke()
            refreshed = await first.call_tool("good_getProtected", {})
            refused = await first.call_tool("wrong_getProtected", {})
        async with client(url, "2026-07-28") as modern:
            later = await modern.call_tool("good_getProtected", {})
        results += [*together, cached, refreshed, refused, later]
    for result in [*together, cached, refreshed, later]:
        assert not result.is_error, text_of(result)
        assert result.structured_content == {"token": "***"}  # the upstream's echo of the token, masked
    assert fetched_once == 1  # four callers at once, then a fifth: one token request
    assert len(misbehaving.token_requests) == 3  # the first, the refresh after the 401, the wrong client's
    assert dict(parse_qsl(misbehaving.token_requests[0].body.decode())) == {"grant_type": "client_credentials",
                                                                          "scope": "read write"}
    used = [r.headers["authorization"] for r in misbehaving.requests]
    assert used[:5] == [f"Bearer {misbehaving.tokens[0]}"] * 5
    assert used[5:] == [f"Bearer {misbehaving.tokens[0]}", f"Bearer {misbehaving.tokens[1]}",
                        f"Bearer {misbehaving.tokens[1]}"]  # refused, sent again with the new one; then kept
    message = text_of(refused)
    assert refused.is_error and "could not get an OAuth2 access token" in message and "HTTP 401" in message
    assert "TEST_CLIENT_ID" in message and "TEST_WRONG_SECRET" in message
    assert_nothing_secret(shown(results, stderr.text), misbehaving.CLIENT_SECRET, wrong_secret,
                          *misbehaving.tokens)


async def _collect(connected: Client, tool: str, into: list[CallToolResult]) -> None:
    into.append(await connected.call_tool(tool, {}))


async def test_retries_respect_the_upstream_and_repeat_only_what_is_safe(misbehaving, tmp_path):
    retrying = profile(tmp_path, "retry", misbehaving.url, retries={"attempts": 3, "max_delay": 5},
                       idempotent_operations=["createJob"], breaker={"failures": 50, "min_calls": 1000},
                       auth={"type": "bearer", "env": "TEST_KEY"})
    busy = {"Content-Type": "application/json", "Retry-After": "1"}
    async with gateway([retrying]) as (url, stderr):
        for mode in ERAS:
            async with client(url, mode) as connected:
                misbehaving.requests.clear()
                misbehaving.reply(503, {"error": {"message": "busy"}}, busy)
                after_503 = await connected.call_tool("retry_getEcho", {})
                misbehaving.reply(429, {"error": {"message": "slow down"}}, busy)
                after_429 = await connected.call_tool("retry_getEcho", {})
                misbehaving.reply(429, {"error": {"message": "come back later"}},
                                  {"Content-Type": "application/json", "Retry-After": "60"})
                too_long = await connected.call_tool("retry_getEcho", {})
                misbehaving.reply(503, {"error": {"message": "busy"}}, busy)
                post = await connected.call_tool("retry_createItem", {"name": "once"})
                misbehaving.reply(503, {"error": {"message": "busy"}}, busy)
                keyed_post = await connected.call_tool("retry_createJob", {"name": "twice"})
                misbehaving.drop()
                after_drop = await connected.call_tool("retry_getEcho", {})
                down = await connected.call_tool("retry_getStatus", {"code": 503})
            paths = [r.raw_path for r in misbehaving.requests]
            assert paths == ["/echo"] * 5 + ["/items", "/jobs", "/jobs", "/echo", "/echo"] + ["/status/503"] * 3
            first, second, throttled, retried = misbehaving.requests[:4]
            assert not after_503.is_error and not after_429.is_error, text_of(after_503) + text_of(after_429)
            assert second.at - first.at >= 1 and retried.at - throttled.at >= 1  # Retry-After: 1 was waited for
            assert too_long.is_error and "Wait 60s" in text_of(too_long) and "attempts" not in text_of(too_long)
            assert post.is_error and "HTTP 503" in text_of(post) and "attempts" not in text_of(post)
            assert not keyed_post.is_error, text_of(keyed_post)
            job, job_again = misbehaving.requests[6:8]
            assert job.headers["idempotency-key"] == job_again.headers["idempotency-key"]
            assert not after_drop.is_error, text_of(after_drop)
            assert down.is_error and "HTTP 503" in text_of(down) and "3 attempts" in text_of(down)
    assert "HTTP 503, attempt 1 of 3; sending it again in 1.0 s (Retry-After: 1)" in stderr.text
    assert "failed (RemoteProtocolError), attempt 1 of 3" in stderr.text
    assert_nothing_secret(stderr.text, TEST_KEY)


async def test_the_breaker_opens_fails_fast_and_closes_and_the_limit_holds(misbehaving, tmp_path):
    limited = profile(tmp_path, "limited", misbehaving.url, retries={"attempts": 1}, max_concurrency=2,
                      breaker={"failures": 2, "cooldown": 1}, auth={"type": "bearer", "env": "TEST_KEY"})
    async with gateway([limited]) as (url, stderr):
        for mode in ERAS:
            async with client(url, mode) as connected:
                misbehaving.max_in_flight = 0
                held: list[CallToolResult] = []
                async with anyio.create_task_group() as tasks:
                    for _ in range(6):
                        tasks.start_soon(_collect, connected, "limited_getHold", held)
                assert len(held) == 6 and not any(r.is_error for r in held), [text_of(r) for r in held]
                assert misbehaving.max_in_flight == 2  # two at once, never more

                failures = [await connected.call_tool("limited_getStatus", {"code": 503}) for _ in range(2)]
                sent = len(misbehaving.requests)
                fast = await connected.call_tool("limited_getEcho", {})
                assert len(misbehaving.requests) == sent  # nothing went upstream
                await anyio.sleep(1.2)  # the cooldown
                probe = await connected.call_tool("limited_getEcho", {})
                closed = await connected.call_tool("limited_getEcho", {})
            assert all(f.is_error and "HTTP 503" in text_of(f) for f in failures)
            assert fast.is_error and "limited upstream unavailable, retry after 1 s" in text_of(fast)
            assert "2 failed attempts in a row" in text_of(fast)
            assert not probe.is_error and not closed.is_error, text_of(probe) + text_of(closed)
    assert_nothing_secret(stderr.text, TEST_KEY)
