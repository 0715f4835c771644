"""A live document that changes: the server re-fetches it, rebuilds its tools and tells the client."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.subscriptions import ToolsListChanged

from tests.common import ROOT, server_env
from tests.servers import serve_http

pytestmark = pytest.mark.anyio


def _document(*operation_ids: str) -> dict[str, Any]:
    paths = {f"/{op}": {"get": {"operationId": op, "responses": {"200": {"description": "ok"}}}}
             for op in operation_ids}
    return {"openapi": "3.1.0", "info": {"title": "Live", "version": "1"}, "paths": paths}


class _SpecServer(ThreadingHTTPServer):
    daemon_threads = True
    document: dict[str, Any]


class _SpecHandler(BaseHTTPRequestHandler):
    server: _SpecServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps(self.server.document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class Live:
    """A live document on its own server, a profile that refreshes it every second, and how to serve it."""

    spec_server: _SpecServer
    env: dict[str, str]
    target: Any  # stdio parameters, or the HTTP URL once served


@pytest.fixture(params=["stdio", "http"])
async def live(request: pytest.FixtureRequest, tmp_path, upstream) -> AsyncIterator[Live]:
    spec_server = _SpecServer(("127.0.0.1", 0), _SpecHandler)
    spec_server.document = _document("first_tool")
    threading.Thread(target=spec_server.serve_forever, daemon=True).start()
    profile = tmp_path / "live.yaml"
    profile.write_text(f"name: live\nspec: http://127.0.0.1:{spec_server.server_address[1]}/openapi.json\n"
                       f"base_url: {upstream.url}\nrefresh: 1\n")
    env = server_env({"MCP_GATEWAY_CACHE_DIR": str(tmp_path / "cache")})
    try:
        if request.param == "stdio":
            yield Live(spec_server, env, StdioServerParameters(
                command=sys.executable, args=["-m", "mcp_gateway", "serve", str(profile)], env=env, cwd=str(ROOT)))
        else:
            async with serve_http([str(profile), "--stateful"], env=env) as url:  # sessions: 2025-11-25 is told
                yield Live(spec_server, env, url)
    finally:
        spec_server.shutdown()
        spec_server.server_close()


async def test_changed_document_rebuilds_tools_and_notifies(live: Live, upstream) -> None:
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with Client(live.target, mode="legacy", message_handler=on_message, read_timeout_seconds=30) as client:
        before = {t.name for t in (await client.list_tools()).tools}
        live.spec_server.document = _document("first_tool", "second_tool")
        with anyio.fail_after(20):
            await changed.wait()
        after = {t.name for t in (await client.list_tools(cache_mode="refresh")).tools}
        result = await client.call_tool("second_tool", {})
    assert before == {"first_tool"}
    assert after == {"first_tool", "second_tool"}
    assert not result.is_error and upstream.last.raw_path == "/second_tool"


async def test_a_2026_client_hears_the_change_on_its_listen_stream(live: Live) -> None:
    async with Client(live.target, mode="2026-07-28", read_timeout_seconds=30) as client:
        async with client.listen(tools_list_changed=True) as subscription:
            live.spec_server.document = _document("first_tool", "second_tool")
            with anyio.fail_after(20):
                event = await subscription.__anext__()
        after = {t.name for t in (await client.list_tools(cache_mode="refresh")).tools}
    assert isinstance(event, ToolsListChanged)
    assert after == {"first_tool", "second_tool"}
