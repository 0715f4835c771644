"""Each client's entry: its format, its syntax for reading the environment, its file; never a key's value."""

from __future__ import annotations

import json
import os
import shlex
import sys
import tomllib

import pytest

from mcp_gateway.build import TargetOptions
from mcp_gateway.bundled import folder
from mcp_gateway.clients import (
    CLIENTS,
    Server,
    claude_mcp_add,
    example_config,
    gateway_command,
    server_for,
    server_name,
    snippet,
    toml_text,
)
from mcp_gateway.errors import ClientConfigError
from mcp_gateway.variables import Variable
from tests.common import FIXTURES, ROOT

KEY = Variable("LUNOS_API_KEY", "key", required=True)
APP = Variable("LUNOS_APP_ID", "setting", required=False, default="")
SERVER = Server("lunos", "/opt/gw/bin/mcp-gateway", ("serve", "lunos"), (KEY, APP))
HTTP = Server("lunos", url="http://127.0.0.1:8000/mcp")

# What each client's documentation says its entry holds for a required and an optional variable
REFERENCES = {
    "claude-desktop": ("<your LUNOS_API_KEY>", ""),  # it reads no environment: a placeholder to replace
    "claude-code": ("${LUNOS_API_KEY}", "${LUNOS_APP_ID:-}"),
    "cursor": ("${env:LUNOS_API_KEY}", "${env:LUNOS_APP_ID}"),
    "vscode": ("${env:LUNOS_API_KEY}", "${env:LUNOS_APP_ID}"),
    "gemini": ("${LUNOS_API_KEY}", "${LUNOS_APP_ID}"),
}


def parsed(client: str, server: Server) -> dict:
    """The client's table of servers from its snippet (Claude Code's: the JSON after its command line)."""
    text = snippet(CLIENTS[client], server)
    if client == "codex":
        return tomllib.loads(text)["mcp_servers"]
    if client == "claude-code":
        text = text.split("\n\n", 1)[1]
    return json.loads(text)[CLIENTS[client].servers_key]


@pytest.mark.parametrize("client", sorted(REFERENCES))
def test_json_clients_reference_each_variable_in_their_own_syntax(client):
    entry = parsed(client, SERVER)["lunos"]
    assert (entry["command"], entry["args"]) == ("/opt/gw/bin/mcp-gateway", ["serve", "lunos"])
    assert entry["env"] == dict(zip(["LUNOS_API_KEY", "LUNOS_APP_ID"], REFERENCES[client], strict=True))
    assert entry.get("type") == ("stdio" if client in ("claude-code", "vscode") else None)


def test_codex_forwards_the_variables_by_name():
    assert parsed("codex", SERVER) == {"lunos": {"command": "/opt/gw/bin/mcp-gateway", "args": ["serve", "lunos"],
                                                 "env_vars": ["LUNOS_API_KEY", "LUNOS_APP_ID"]}}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_no_value_is_ever_written(client, monkeypatch):
    monkeypatch.setenv("LUNOS_API_KEY", "sk-live-secret-value-123")
    monkeypatch.setenv("LUNOS_APP_ID", "my-app-id-value")
    server = server_for("lunos", TargetOptions())
    text = snippet(CLIENTS[client], server)
    assert "sk-live-secret-value-123" not in text and "my-app-id-value" not in text
    assert "LUNOS_API_KEY" in text


@pytest.mark.parametrize(("client", "entry"), [
    ("claude-code", {"type": "http", "url": HTTP.url}),
    ("cursor", {"url": HTTP.url}),
    ("vscode", {"type": "http", "url": HTTP.url}),
    ("codex", {"url": HTTP.url}),
    ("gemini", {"httpUrl": HTTP.url}),
])
def test_streamable_http_entries(client, entry):
    assert parsed(client, HTTP) == {"lunos": entry}


def test_claude_desktop_has_no_url_entry():
    with pytest.raises(ClientConfigError, match="Settings > Connectors"):
        snippet(CLIENTS["claude-desktop"], HTTP)


def test_the_claude_code_line_adds_the_same_entry():
    line = claude_mcp_add(SERVER)
    words = shlex.split(line)
    assert words[:8] == ["claude", "mcp", "add", "--scope", "user", "--transport", "stdio", "lunos"]
    assert words[8:12] == ["-e", "LUNOS_API_KEY=${LUNOS_API_KEY}", "-e", "LUNOS_APP_ID=${LUNOS_APP_ID:-}"]
    assert words[12:] == ["--", "/opt/gw/bin/mcp-gateway", "serve", "lunos"]
    assert "'LUNOS_API_KEY=${LUNOS_API_KEY}'" in line  # quoted: the shell leaves the reference to Claude Code
    assert shlex.split(claude_mcp_add(HTTP))[-2:] == ["lunos", HTTP.url]
    assert snippet(CLIENTS["claude-code"], SERVER).startswith(line + "\n\n{")


def test_toml_keys_and_strings_are_quoted_where_they_must_be():
    text = toml_text({"mcp_servers": {"my server.v2": {"command": 'C:\\gw "x"\x7f\u00e9', "args": ["a\nb"]}}})
    assert text.startswith('[mcp_servers."my server.v2"]\n')
    assert tomllib.loads(text) == {"mcp_servers": {"my server.v2": {"command": 'C:\\gw "x"\x7f\u00e9',
                                                                     "args": ["a\nb"]}}}


@pytest.mark.parametrize(("client", "platform", "expected"), [
    ("claude-desktop", "darwin", "Library/Application Support/Claude/claude_desktop_config.json"),
    ("claude-desktop", "linux", ".config/Claude/claude_desktop_config.json"),
    ("claude-code", "linux", ".claude.json"),
    ("cursor", "darwin", ".cursor/mcp.json"),
    ("vscode", "darwin", "Library/Application Support/Code/User/mcp.json"),
    ("vscode", "linux", ".config/Code/User/mcp.json"),
    ("codex", "linux", ".codex/config.toml"),
    ("gemini", "darwin", ".gemini/settings.json"),
])
def test_each_client_file_is_under_home(client, platform, expected, tmp_path):
    assert CLIENTS[client].config_file({"HOME": str(tmp_path)}, platform) == tmp_path / expected


def test_xdg_config_home_and_codex_home_are_honoured(tmp_path):
    environ = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "CODEX_HOME": str(tmp_path / "cx")}
    assert CLIENTS["vscode"].config_file(environ, "linux") == tmp_path / "xdg" / "Code" / "User" / "mcp.json"
    assert CLIENTS["vscode"].config_file(environ, "darwin").parts[-5:-3] == ("Library", "Application Support")
    assert CLIENTS["codex"].config_file(environ, "linux") == tmp_path / "cx" / "config.toml"
    with pytest.raises(ClientConfigError, match="Linux and macOS"):
        CLIENTS["cursor"].config_file(environ, "win32")


def test_the_command_is_this_installation_s_absolute_path():
    assert gateway_command() == (os.path.join(os.path.dirname(sys.executable), "mcp-gateway"),)
    assert gateway_command("uvx --from '/a b/gw.whl' mcp-gateway")[1:] == ("--from", "/a b/gw.whl", "mcp-gateway")
    assert gateway_command("/opt/x/mcp-gateway") == ("/opt/x/mcp-gateway",)
    with pytest.raises(ClientConfigError, match="--command"):
        gateway_command("  ")


def test_a_bundled_profile_is_named_by_its_name_anything_else_by_its_absolute_path(monkeypatch):
    monkeypatch.chdir(ROOT)
    bundled = server_for("lium", TargetOptions(), command="/gw")
    assert (bundled.name, bundled.command, bundled.args) == ("lium", "/gw", ("serve", "lium"))
    assert [v.name for v in bundled.variables] == ["LIUM_API_KEY"]
    by_path = server_for("tool_specs/demo.yaml", TargetOptions(), command="/gw")
    assert (by_path.name, by_path.args) == ("petclinic", ("serve", str(folder() / "demo.yaml")))
    document = server_for("tests/fixtures/echo.yaml", TargetOptions(base_url="https://api.example.com",
                                                                    bearer_env="EXAMPLE_TOKEN", spec_timeout=3),
                          name="My API!", command="/gw")
    assert document.name == "My-API"
    assert document.args == ("serve", str(FIXTURES / "echo.yaml"), "--base-url", "https://api.example.com",
                             "--bearer-env", "EXAMPLE_TOKEN", "--spec-timeout", "3")
    by_url = server_for("https://api.example.com/v1/openapi.json", TargetOptions(), command="/gw")
    assert (by_url.name, by_url.args, by_url.variables) == ("openapi", ("serve", by_url.args[1]), ())
    assert by_url.args[1] == "https://api.example.com/v1/openapi.json"
    assert [v.name for v in document.variables] == ["EXAMPLE_TOKEN"]


def test_targets_that_cannot_be_served_are_refused(tmp_path):
    with pytest.raises(ClientConfigError, match="no such file"):
        server_for(str(tmp_path / "missing.json"), TargetOptions())
    with pytest.raises(ClientConfigError, match="MCP endpoint"):
        server_for("lium", TargetOptions(), http_url="127.0.0.1:8000/mcp")
    assert server_for("lium", TargetOptions(), http_url=HTTP.url) == Server("lium", url=HTTP.url)


def test_server_names_every_client_accepts():
    assert [server_name(n) for n in ["lium", "github.com_api", "My API!", "..."]] == ["lium", "github-com_api",
                                                                                    "My-API", "api"]


def test_the_example_file_is_generated():
    assert (ROOT / "claude_desktop_config.example.json").read_text(encoding="utf-8") == example_config(), (
        "regenerate it: .venv/bin/python -c \"from mcp_gateway.clients import example_config; "
        "print(example_config(), end='')\" > claude_desktop_config.example.json")
