"""Two worker processes on one port, stateless: one client's calls are answered by both, with no session affinity,
and /metrics (answered by either) counts every worker's calls."""

from __future__ import annotations

import json
import tempfile

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from prometheus_client.parser import text_string_to_metric_families

from tests.common import FIXTURES
from tests.servers import run_cli, serve_http, text_of

pytestmark = pytest.mark.anyio

ECHO = str(FIXTURES / "echo.yaml")
CALLS = 24  # each on a new connection: the chance that one worker takes them all is 2 in 2**24


async def test_one_clients_calls_are_answered_by_both_workers(upstream, era) -> None:
    args = [ECHO, "--base-url", upstream.url, "--workers", "2", "--metrics"]
    fresh_connections = httpx2.Limits(max_keepalive_connections=0)  # the kernel picks a worker per connection
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        async with serve_http(args, errlog=errlog, global_args=["--log-format", "json"]) as url:
            async with httpx2.AsyncClient(limits=fresh_connections) as http:
                async with Client(streamable_http_client(url, http_client=http), mode=era) as client:
                    for number in range(CALLS):
                        result = await client.call_tool("getItem", {"id": str(number)})
                        assert not result.is_error, text_of(result)
            exposed = httpx.get(url.replace("/mcp", "/metrics"), timeout=10).text
        errlog.seek(0)
        records = [json.loads(line) for line in errlog.read().splitlines()]
    pids = {r["pid"] for r in records if r.get("event") == "tool_call"}
    assert len(pids) == 2, records
    counted = [s.value for family in text_string_to_metric_families(exposed) for s in family.samples
               if s.name == "mcp_gateway_tool_calls_total" and s.labels["tool"] == "getItem"]
    assert counted == [CALLS]
    assert len(upstream.requests) == CALLS


def test_stateful_sessions_need_one_worker() -> None:
    done = run_cli("serve", ECHO, "--transport", "http", "--port", "9", "--workers", "2", "--stateful")
    assert done.returncode == 2 and "--stateful" in done.stderr and "--workers 1" in done.stderr
