"""Connecting clients as a user would: `config` for every client, each entry parsed and the command it names started
as a client starts it and used with the official client; bare profile names for `call` and `check` in a subprocess.

(`install` into a temporary HOME for every client: tests/unit/test_connect.py, in-process.)"""

from __future__ import annotations

import io
import json
import re
import shlex
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from mcp_gateway.cli import main
from mcp_gateway.clients import CLIENTS
from tests.common import TEST_KEY, client_entry, server_env
from tests.gateways.harness import offline_env
from tests.servers import run_cli, serve_command

pytestmark = pytest.mark.anyio

DEMO_TOOLS = {"list_pets", "create_pet", "get_pet", "delete_pet"}


def _braces(text: str, environ: dict[str, str]) -> str:
    """`${VAR}` and `${VAR:-default}`, as Claude Code and Gemini CLI expand them."""
    return re.sub(r"\$\{([A-Za-z_]\w*)(?::-([^}]*))?\}",
                  lambda m: environ.get(m.group(1)) or (m.group(2) or ""), text)


def _env_prefixed(text: str, environ: dict[str, str]) -> str:
    """`${env:VAR}`, as Cursor and VS Code expand it."""
    return re.sub(r"\$\{env:([A-Za-z_]\w*)\}", lambda m: environ.get(m.group(1), ""), text)


EXPANDERS: dict[str, Callable[[str, dict[str, str]], str]] = {
    "claude-code": _braces, "gemini": _braces, "cursor": _env_prefixed, "vscode": _env_prefixed}


@pytest.fixture(scope="module")
def snippets() -> dict[str, str]:
    """`mcp-gateway config CLIENT demo` for every client, as printed."""
    printed = {}
    for client in CLIENTS:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            assert main(["config", client, "demo"]) == 0, err.getvalue()
        printed[client] = out.getvalue()
    return printed


async def test_every_client_entry_starts_the_same_server(snippets, upstream, tmp_path):
    environ = {"DEMO_API_KEY": TEST_KEY, "DEMO_BASE_URL": upstream.url}
    commands, environments = set(), {}
    for client, text in snippets.items():
        entry = client_entry(client, text)
        commands.add((entry["command"], tuple(entry["args"])))
        if client == "codex":
            environments[client] = {name: environ[name] for name in entry["env_vars"]}
        elif client == "claude-desktop":  # no environment: placeholders the user replaces
            assert entry["env"] == {"DEMO_API_KEY": "<your DEMO_API_KEY>", "DEMO_BASE_URL": ""}
        else:
            environments[client] = {k: EXPANDERS[client](v, environ) for k, v in entry["env"].items()}
    line = shlex.split(snippets["claude-code"].split("\n", 1)[0])
    assert line[:3] == ["claude", "mcp", "add"]
    dash = line.index("--")
    commands.add((line[dash + 1], tuple(line[dash + 2:])))
    from_line = dict(line[i + 1].split("=", 1) for i in range(dash) if line[i] == "-e")
    environments["claude mcp add"] = {k: _braces(v, environ) for k, v in from_line.items()}

    assert len(commands) == 1, commands  # every form names one command and its arguments
    (command, args), = commands
    assert Path(command).is_absolute() and args == ("serve", "demo")
    assert all(env == environ for env in environments.values()), environments  # each carries the key through

    cache = {"MCP_GATEWAY_CACHE_DIR": str(tmp_path / "cache")}
    for env in (environments["cursor"], environments["claude mcp add"]):  # two real starts, as a client starts it
        async with serve_command(command, list(args), env | cache, cwd=str(tmp_path)) as served:
            listed = await served.client.list_tools()
            result = await served.client.call_tool("list_pets", {"limit": 2})
        assert {tool.name for tool in listed.tools} == DEMO_TOOLS
        assert not result.is_error, result.content
        assert upstream.last.headers["x-api-key"] == TEST_KEY and upstream.last.raw_path == "/pets"


def test_bare_names_for_call_and_check(upstream, tmp_path):
    called = run_cli("call", "demo", "get_pet", "--args", '{"petId": 7}',
                     env=server_env({"DEMO_API_KEY": TEST_KEY, "DEMO_BASE_URL": upstream.url}))
    assert called.returncode == 0, called.stderr
    assert upstream.last.raw_path == "/pets/7" and upstream.last.headers["x-api-key"] == TEST_KEY
    checked = run_cli("check", "lium", "--spec-timeout", "2", env=offline_env(tmp_path))
    report = json.loads(checked.stdout)
    assert checked.returncode == 0 and report["ok"] and report["tools"] > 60, checked.stderr
    assert "using the bundled copy" in checked.stderr
