"""A server started again on the same document takes its tools from the compile cache and lists exactly the same
bytes as the start that compiled them."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.common import ROOT, SPECS, needs_shared_specs, server_env
from tests.servers import GATEWAY

HIT = "tools from the compile cache"
INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "raw", "version": "1"}}}


def _listed(document: str, cache: Path) -> tuple[bytes, str]:
    """`serve DOCUMENT` on stdio: the tools/list answer exactly as sent, and what the server logged."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        process = subprocess.Popen(
            [*GATEWAY, "--log-level", "DEBUG", "serve", document, "--base-url", "http://127.0.0.1:9",
             "--discovery", "off"], env=server_env({"MCP_GATEWAY_CACHE_DIR": str(cache)}), cwd=str(ROOT),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog)
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
            process.stdin.flush()
            assert json.loads(process.stdout.readline())["id"] == 0
            process.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
                                b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}\n')
            process.stdin.flush()
            listed = process.stdout.readline()
        finally:
            process.stdin.close()
            process.wait(timeout=30)
        errlog.seek(0)
        return listed, errlog.read()


def _document(tmp_path: Path) -> str:
    """A small document with characters beyond ASCII (an emoji), a path parameter and a multipart body."""
    path = tmp_path / "pets.json"
    path.write_text(json.dumps({
        "openapi": "3.0.3", "info": {"title": "Pets 🐈", "version": "1"},
        "paths": {"/pets/{id}": {"get": {"operationId": "getPet", "summary": "One pet 🐾, by id",
                                         "parameters": [{"name": "id", "in": "path", "required": True,
                                                         "schema": {"type": "integer"}}],
                                         "responses": {"200": {"description": "ok"}}}},
                  "/pets": {"post": {"operationId": "addPet", "requestBody": {"content": {"multipart/form-data": {
                      "schema": {"type": "object", "properties": {"photo": {"type": "string", "format": "binary"},
                                                                  "name": {"type": "string"}}}}}},
                                     "responses": {"201": {"description": "made"}}}}}}, ensure_ascii=False),
                    encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("document", [
    pytest.param(None, id="small"),
    pytest.param(str(SPECS / "realworld" / "github.com_api.github.com.json"), id="github", marks=needs_shared_specs),
])
def test_a_second_start_lists_the_same_bytes_from_the_cache(tmp_path: Path, document: str | None) -> None:
    target = document or _document(tmp_path)
    first, first_log = _listed(target, tmp_path / "cache")
    second, second_log = _listed(target, tmp_path / "cache")
    assert HIT not in first_log and HIT in second_log, second_log
    assert second == first
    assert json.loads(first)["result"]["tools"]
