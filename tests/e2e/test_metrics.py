"""Observability: the per-call log line (text over stdio, JSON over HTTP) with no secret in it, and /metrics counting
calls, errors and latency per API and tool, behind the same auth as /mcp."""

from __future__ import annotations

import json
import tempfile

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from prometheus_client.parser import text_string_to_metric_families

from tests.common import FIXTURES, TEST_KEY, server_env
from tests.servers import serve_http, serve_stdio, text_of

pytestmark = pytest.mark.anyio

ECHO = str(FIXTURES / "echo.yaml")
TOKEN = "metrics-test-token-51c2"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition: (name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_metrics_count_calls_and_every_log_line_is_json(upstream) -> None:
    args = [ECHO, "--base-url", upstream.url, "--api-key-env", "TEST_KEY", "--metrics", "--auth-token-env",
            "TEAM_TOKEN"]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        async with serve_http(args, env=server_env({"TEAM_TOKEN": TOKEN}), errlog=errlog,
                              global_args=["--log-format", "json"]) as url:
            for mode in ("legacy", "2026-07-28"):
                async with httpx2.AsyncClient(headers=headers) as http:
                    async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
                        assert not (await client.call_tool("getItem", {"id": "a"})).is_error
            async with httpx2.AsyncClient(headers=headers) as http:
                async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
                    failed = await client.call_tool("getStatus", {"code": 404})
                    with pytest.raises(MCPError):
                        await client.call_tool("no_such_tool", {})
            scrape = url.replace("/mcp", "/metrics")
            refused = httpx.get(scrape, timeout=10)
            exposed = httpx.get(scrape, headers=headers, timeout=10)
        errlog.seek(0)
        lines = errlog.read().splitlines()
    assert failed.is_error, text_of(failed)
    assert refused.status_code == 401
    assert exposed.status_code == 200 and exposed.headers["content-type"].startswith("text/plain")
    found = samples(exposed.text)
    item = (("api", "echo"), ("tool", "getItem"))
    assert found[("mcp_gateway_tool_calls_total", item)] == 2
    assert found[("mcp_gateway_tool_call_duration_seconds_count", item)] == 2
    errors = {labels: value for (name, labels), value in found.items() if name == "mcp_gateway_tool_call_errors_total"}
    assert errors == {(("api", "echo"), ("status", "error"), ("tool", "getStatus")): 1,
                      (("api", "-"), ("status", "unknown_tool"), ("tool", "-")): 1}

    records = [json.loads(line) for line in lines]  # every line, not only the calls', is one JSON object
    calls = [r for r in records if r.get("event") == "tool_call"]
    assert [(c["tool"], c["status"]) for c in calls] == [("getItem", "ok"), ("getItem", "ok"),
                                                         ("getStatus", "error"), ("-", "unknown_tool")]
    first = calls[0]
    assert (first["api"], first["method"], first["path"], first["caller"]) == ("echo", "GET", "/items/{id}", "token#1")
    assert first["bytes"] > 0 and first["duration_ms"] > 0 and isinstance(first["pid"], int)
    text = "\n".join(lines)
    assert TEST_KEY not in text and TOKEN not in text


async def test_stdio_logs_each_call_too(upstream) -> None:
    async with serve_stdio([ECHO, "--base-url", upstream.url, "--api-key-env", "TEST_KEY"]) as served:
        result = await served.client.call_tool("getItem", {"id": "7"})
    assert not result.is_error, text_of(result)
    line = next(line for line in served.stderr().splitlines() if "call tool=getItem" in line)
    assert "api=echo method=GET path=/items/{id} status=ok" in line and "caller=-" in line
    assert TEST_KEY not in served.stderr()
