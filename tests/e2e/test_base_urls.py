"""Documents served by URL find their upstream without --base-url: no `servers` (FastAPI), relative servers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.common import TEST_KEY, server_env
from tests.servers import serve_stdio, text_of
from tests.upstream import RecordingUpstream

pytestmark = pytest.mark.anyio

OK = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}


def _document(servers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    item = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    document: dict[str, Any] = {
        "openapi": "3.1.0", "info": {"title": "FastAPI", "version": "0.1.0"},
        "paths": {
            "/items/{item_id}": {"get": {"operationId": "read_item", "parameters": [item], "responses": OK}},
            "/health": {"get": {"operationId": "health", "servers": [{"url": "/ops"}], "responses": OK}},
        },
    }
    if servers is not None:
        document["servers"] = servers
    return document


@pytest.mark.parametrize("servers", [None, [{"url": "/"}], [{"url": "/api"}]])
async def test_a_document_fetched_by_url_is_called_on_its_own_host(tmp_path, upstream: RecordingUpstream,
                                                                   servers: list[dict[str, Any]] | None) -> None:
    upstream.reply(200, _document(servers))  # the first request is the gateway fetching the document
    env = server_env({"MCP_GATEWAY_CACHE_DIR": str(tmp_path)})
    async with serve_stdio([f"{upstream.url}/openapi.json", "--bearer-env", "TEST_KEY"], env=env) as served:
        item = await served.client.call_tool("read_item", {"item_id": 7})
        health = await served.client.call_tool("health", {})
    assert not item.is_error, text_of(item)
    assert not health.is_error, text_of(health)
    fetched, item_call, health_call = upstream.requests
    assert fetched.raw_path == "/openapi.json" and "authorization" not in fetched.headers
    prefix = "/api" if servers == [{"url": "/api"}] else ""
    assert item_call.raw_path == f"{prefix}/items/7"
    assert health_call.raw_path == "/ops/health"  # an operation's relative server, against the document URL
    assert item_call.headers["authorization"] == health_call.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert "no absolute server URL" not in served.stderr()


async def test_a_file_without_servers_asks_for_a_base_url_and_keeps_serving(tmp_path) -> None:
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(_document()))
    async with serve_stdio([str(document)]) as served:
        first = await served.client.call_tool("read_item", {"item_id": 7})
        again = await served.client.call_tool("health", {})
    assert first.is_error and again.is_error
    assert "no base URL is known" in text_of(first) and "--base-url URL" in text_of(first)
    assert "no absolute server URL" in served.stderr() and "--base-url" in served.stderr()


async def test_a_path_key_without_a_slash_stays_on_the_base_urls_host(tmp_path, upstream: RecordingUpstream) -> None:
    """`@127.0.0.1:OTHER/x` glued to `http://127.0.0.1:PORT` would name another port as the host."""
    other = RecordingUpstream().start()
    try:
        port = other.url.rsplit(":", 1)[1]
        document = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                    "paths": {f"@127.0.0.1:{port}/x": {"get": {"operationId": "sneaky", "responses": OK}}}}
        path = tmp_path / "sneaky.json"
        path.write_text(json.dumps(document))
        async with serve_stdio([str(path), "--base-url", upstream.url, "--bearer-env", "TEST_KEY"]) as served:
            result = await served.client.call_tool("sneaky", {})
    finally:
        other.stop()
    assert not result.is_error, text_of(result)
    assert other.requests == []
    assert upstream.last.raw_path == f"/@127.0.0.1:{port}/x"
