"""Host and Origin checks on every HTTP bind (DNS-rebinding protection), against the real server process: raw
tool calls with foreign headers are refused before anything goes upstream, allowed ones go through, and a bind
other computers can reach does not start without an allow-list."""

from __future__ import annotations

import tempfile

import httpx
import pytest

from tests.common import FIXTURES
from tests.servers import free_port, run_cli, serve_http

pytestmark = pytest.mark.anyio

ECHO = str(FIXTURES / "echo.yaml")
EVERYWHERE = ["--host", "0.0.0.0"]  # noqa: S104 - the tests only ever send to 127.0.0.1
CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "getText", "arguments": {},
                   "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                             "io.modelcontextprotocol/clientCapabilities": {}}}}
HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28",
           "Mcp-Method": "tools/call", "Mcp-Name": "getText"}


async def status_of(url: str, host: str | None = None, origin: str | None = None) -> int:
    """The HTTP status of one raw 2026-07-28 tools/call POSTed to 127.0.0.1 with these Host and Origin headers."""
    headers = dict(HEADERS)
    if host is not None:
        headers["Host"] = host
    if origin is not None:
        headers["Origin"] = origin
    async with httpx.AsyncClient(timeout=20) as http:
        return (await http.post(url, json=CALL, headers=headers)).status_code


async def test_a_loopback_bind_refuses_foreign_hosts_and_origins(upstream):
    async with serve_http([ECHO, "--base-url", upstream.url]) as url:
        port = httpx.URL(url).port
        assert await status_of(url, host=f"evil.example:{port}") == 421
        assert await status_of(url, origin="http://evil.example") == 403
        assert upstream.requests == []
        assert await status_of(url) == 200
        assert await status_of(url, host=f"localhost:{port}", origin="http://localhost:5173") == 200
    assert len(upstream.requests) == 2


async def test_a_bind_for_other_computers_accepts_only_its_allow_list(upstream):
    allow = ["--allow-host", "gateway.internal:*", "--allow-host", "mcp.example.com",
             "--allow-origin", "https://app.example.com"]
    async with serve_http([ECHO, "--base-url", upstream.url, *EVERYWHERE, *allow]) as url:
        port = httpx.URL(url).port
        assert await status_of(url, host=f"evil.example:{port}") == 421
        assert await status_of(url, host=f"mcp.example.com:{port}") == 421  # listed without a port: exactly that
        assert await status_of(url, host=f"gateway.internal:{port}", origin="https://evil.example") == 403
        assert await status_of(url, host="mcp.example.com", origin="http://app.example.com") == 403
        assert upstream.requests == []
        assert await status_of(url, host=f"gateway.internal:{port}") == 200
        assert await status_of(url, host="mcp.example.com", origin="https://app.example.com") == 200
    assert len(upstream.requests) == 2


async def test_allow_any_host_checks_nothing_and_says_so(upstream):
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        async with serve_http([ECHO, "--base-url", upstream.url, *EVERYWHERE, "--allow-any-host"],
                              errlog=errlog) as url:
            assert await status_of(url, host="evil.example", origin="https://evil.example") == 200
        errlog.seek(0)
        warnings = [line for line in errlog if "WARNING" in line]
    assert len(warnings) == 1 and "--allow-any-host" in warnings[0] and "DNS rebinding" in warnings[0]
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(("flags", "words"), [
    (EVERYWHERE, ["--host 0.0.0.0", "--allow-host HOST[:PORT]", "--allow-any-host"]),
    ([*EVERYWHERE, "--allow-origin", "https://app.example.com"], ["--allow-host HOST[:PORT]"]),
    (["--host", "gateway.internal"], ["--host gateway.internal", "--allow-host"]),
    ([*EVERYWHERE, "--allow-any-host", "--allow-host", "a.example"], ["give one or the other"]),
    (["--allow-origin", "https://app.example.com/mcp"], ["not an origin", "without a path"]),
    (["--allow-host", "https://gateway.internal"], ["not a Host header value"]),
])
def test_a_bind_without_its_checks_does_not_start(flags, words):
    done = run_cli("serve", ECHO, "--transport", "http", "--port", str(free_port()), *flags)
    assert done.returncode == 2, done.stderr
    assert all(word in done.stderr for word in words), done.stderr
    assert "serving MCP" not in done.stderr


def test_the_refusal_comes_before_any_document_is_read(tmp_path):
    done = run_cli("serve", str(tmp_path / "missing.yaml"), "--transport", "http", *EVERYWHERE)
    assert done.returncode == 2 and "--allow-host" in done.stderr and "missing.yaml" not in done.stderr

