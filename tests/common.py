"""What the tests share: where things are, the test credential, the server environment, document mutation."""

from __future__ import annotations

import copy
import json
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_gateway.clients import CLIENTS

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SPECS = ROOT.parent / "shared" / "specs"  # 50 real documents kept beside the checkout, where there is one
TEST_KEY = "sk-test-secret-value-1234"

needs_shared_specs = pytest.mark.skipif(
    not SPECS.is_dir(), reason="../shared/specs is not beside this checkout: coverage over its real documents "
                               "runs only where it is")


def fixture_document(name: str) -> dict[str, Any]:
    """A document from tests/fixtures/, parsed."""
    return yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The subprocess environment: this interpreter's, plus test credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "MCP_GW_"))}
    env["TEST_KEY"] = TEST_KEY
    env.update(extra or {})
    return env


def positions(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every node below the root, in document order."""
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield (*path, key)
        yield from positions(child, (*path, key))


def replaced(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of `document` with the node at `path` replaced by `value`, for mutation tests."""
    out = copy.deepcopy(document)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = copy.deepcopy(value)
    return out


def client_entry(client: str, text: str, name: str = "demo") -> dict[str, Any]:
    """The server entry `name` in a client's file, or in what `mcp-gateway config` printed for it (Claude Code's
    snippet: the JSON form after its command line)."""
    if CLIENTS[client].toml:
        return dict(tomllib.loads(text)[CLIENTS[client].servers_key][name])
    if client == "claude-code" and text.startswith("claude "):
        text = text.split("\n\n", 1)[1]
    return dict(json.loads(text)[CLIENTS[client].servers_key][name])
