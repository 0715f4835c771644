"""The same document gives the same tools/list bytes in every process, whatever Python's string hashing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.common import SPECS, needs_shared_specs, server_env
from tests.servers import run_cli


def _linked_document(count: int = 40) -> dict[str, Any]:
    """Schemas that refer to each other in a web, reached from one body: many `$defs` per tool."""
    schemas = {f"S{i}": {"type": "object", "properties": {f"to{j}": {"$ref": f"#/components/schemas/S{j}"}
                                                          for j in range(count) if (i * 7 + j) % 5 == 0}}
               for i in range(count)}
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/S1"}}}}
    operation = {"operationId": "a", "requestBody": body, "responses": {"200": {"description": "ok"}}}
    return {"openapi": "3.0.3", "info": {"title": "web", "version": "1"}, "components": {"schemas": schemas},
            "paths": {"/a": {"post": operation}}}


def _listed(document: str, seed: str, cache: Path) -> str:
    """The tools as listed by a process with this string-hash seed, compiled afresh (an empty compile cache)."""
    env = server_env({"PYTHONHASHSEED": seed, "MCP_GATEWAY_CACHE_DIR": str(cache / seed)})
    done = run_cli("tools", document, "--json", "--discovery", "off", env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_defs_come_in_one_order(tmp_path: Path) -> None:
    document = tmp_path / "web.json"
    document.write_text(json.dumps(_linked_document()))
    first, second = _listed(str(document), "1", tmp_path), _listed(str(document), "2", tmp_path)
    assert len(json.loads(first)[0]["inputSchema"]["$defs"]) >= 30
    assert first == second


@needs_shared_specs
@pytest.mark.parametrize("name", ["github.com_api.github.com.json", "stripe.com.json"])
def test_large_documents_list_the_same_bytes(tmp_path: Path, name: str) -> None:
    document = str(SPECS / "realworld" / name)
    assert _listed(document, "1", tmp_path) == _listed(document, "2", tmp_path)
