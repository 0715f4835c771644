"""A live document that changes: the server re-fetches it, rebuilds its tools and tells the client."""

from __future__ import annotations

import json
import sys
import threading
from contextlib import AsyncExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import ROOT, server_env
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

    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps(self.server.document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_changed_document_rebuilds_tools_and_notifies(tmp_path, upstream, transport):
    spec_server = _SpecServer(("127.0.0.1", 0), _SpecHandler)
    spec_server.document = _document("first_tool")
    threading.Thread(target=spec_server.serve_forever, daemon=True).start()
    profile = tmp_path / "live.yaml"
    profile.write_text(f"name: live\nspec: http://127.0.0.1:{spec_server.server_address[1]}/openapi.json\n"
                       f"base_url: {upstream.url}\nrefresh: 1\n")
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    env = server_env({"MCP_GATEWAY_CACHE_DIR": str(tmp_path / "cache")})
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_gateway", "serve", str(profile)],
                                   env=env, cwd=str(ROOT))
    try:
        async with AsyncExitStack() as stack:
            target = params if transport == "stdio" else await stack.enter_async_context(
                serve_http([str(profile)], env=env))
            client = await stack.enter_async_context(
                Client(target, mode="legacy", message_handler=on_message, read_timeout_seconds=30))
            before = {t.name for t in (await client.list_tools()).tools}
            spec_server.document = _document("first_tool", "second_tool")
            with anyio.fail_after(20):
                await changed.wait()
            after = {t.name for t in (await client.list_tools(cache_mode="refresh")).tools}
            result = await client.call_tool("second_tool", {})
    finally:
        spec_server.shutdown()
        spec_server.server_close()
    assert before == {"first_tool"}
    assert after == {"first_tool", "second_tool"}
    assert not result.is_error and upstream.last.raw_path == "/second_tool"
