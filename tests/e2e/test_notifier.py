"""The MCP server in-process over real HTTP: clients to notify are kept for handshake sessions only, bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest
import uvicorn
from mcp import Client

from mcp_gateway.build import TargetOptions, build_gateway
from mcp_gateway.server import HttpOptions, ToolListNotifier, http_app
from tests.common import FIXTURES
from tests.servers import free_port

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def serving(notifier: ToolListNotifier) -> AsyncIterator[str]:
    """The gateway's HTTP app under uvicorn in this process, on a free port; yields the MCP URL."""
    gateway = build_gateway([str(FIXTURES / "echo.yaml")], TargetOptions(base_url="http://127.0.0.1:9"))
    port = free_port()
    app = http_app(gateway, HttpOptions(stateful=True), notifier)  # sessions: what a 2025-11-25 client is told on
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(server.serve)
        async with httpx.AsyncClient() as http:
            with anyio.fail_after(20):
                while not server.started:
                    await anyio.sleep(0.05)
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).json()["status"] == "ok"
        try:
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            server.should_exit = True
    await gateway.aclose()


async def test_a_thousand_requests_do_not_grow_the_registry() -> None:
    notifier = ToolListNotifier()
    async with serving(notifier) as url:
        async with Client(url, mode="2026-07-28") as modern:
            for _ in range(500):
                await modern.list_tools(cache_mode="refresh")
        assert len(notifier) == 0  # no standing session to notify: such clients use subscriptions/listen
        async with Client(url, mode="legacy") as legacy:
            for _ in range(500):
                await legacy.list_tools(cache_mode="refresh")
            assert len(notifier) == 1  # one session, however many requests


async def test_sessions_past_the_limit_or_idle_are_dropped() -> None:
    notifier = ToolListNotifier(limit=2)
    async with serving(notifier) as url:
        for _ in range(4):
            async with Client(url, mode="legacy") as client:
                await client.list_tools()
        assert len(notifier) == 2
        notifier.idle = 0.0  # every session is now older than the idle limit
        async with Client(url, mode="legacy") as client:
            await client.list_tools()
            assert len(notifier) == 1
            await notifier.tools_changed()  # a live session is notified without error and kept
            assert len(notifier) == 1
