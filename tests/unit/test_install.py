"""Writing an entry into each client's file: a diff first, a backup, the rest of the file kept, --force to replace."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest

from mcp_gateway.clients import CLIENTS, Client, Server, entry_document
from mcp_gateway.errors import ClientConfigError
from mcp_gateway.install import apply, plan
from mcp_gateway.variables import Variable

DEMO = Server("demo", "/opt/gw/bin/mcp-gateway", ("serve", "demo"), (Variable("DEMO_API_KEY", "key", True),))
LIUM = Server("demo", "/opt/gw/bin/mcp-gateway", ("serve", "lium"), (Variable("LIUM_API_KEY", "key", True),))


def load(client: Client, path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return tomllib.loads(text) if client.toml else json.loads(text)


def others(client: Client) -> str:
    """A file the user already has: another server, another setting."""
    if client.toml:
        return ('model = "o4"  # kept\n\n[mcp_servers.other]\ncommand = "other-server"\n\n'
                '[mcp_servers.other.env]\nTOKEN = "x"\n')
    return json.dumps({"theme": "dark", client.servers_key: {"other": {"command": "other-server"}}}, indent=4)


def config_file(client: Client, home: Path) -> Path:
    return client.config_file({"HOME": str(home)}, "linux")


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_a_dry_run_writes_nothing_and_a_real_install_a_new_file(name, tmp_path):
    client = CLIENTS[name]
    path = config_file(client, tmp_path)
    change = plan(client, DEMO, path, force=False)
    diff = change.diff()
    assert diff.startswith(f"--- /dev/null\n+++ {path}\n") and "+" in diff and "DEMO_API_KEY" in diff
    assert not path.exists()
    assert apply(change) is None  # nothing to back up
    assert load(client, path) == entry_document(client, [DEMO])
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_the_rest_of_the_file_is_kept_and_backed_up(name, tmp_path):
    client = CLIENTS[name]
    path = config_file(client, tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(others(client), encoding="utf-8")
    path.chmod(0o600)
    before = load(client, path)
    backup = apply(plan(client, DEMO, path, force=False))
    assert backup is not None and backup.read_text(encoding="utf-8") == others(client)
    after = load(client, path)
    assert after[client.servers_key] == {**before[client.servers_key], "demo": entry_document(client, [DEMO])[
        client.servers_key]["demo"]}
    assert {k: v for k, v in after.items() if k != client.servers_key} == {
        k: v for k, v in before.items() if k != client.servers_key}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    if client.toml:
        assert path.read_text(encoding="utf-8").startswith(others(client))  # the text itself, comments and all
    else:
        assert '\n    "theme": "dark"' in path.read_text(encoding="utf-8")  # its own indentation


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_an_entry_of_the_same_name_is_replaced_only_with_force(name, tmp_path):
    client = CLIENTS[name]
    path = config_file(client, tmp_path)
    apply(plan(client, DEMO, path, force=False))
    installed = path.read_text(encoding="utf-8")
    again = plan(client, DEMO, path, force=False)
    assert not again.needed and again.diff() == ""  # the same entry: nothing to do
    with pytest.raises(ClientConfigError, match=r"already has a different server named demo; pass --force"):
        plan(client, LIUM, path, force=False)
    assert path.read_text(encoding="utf-8") == installed
    change = plan(client, LIUM, path, force=True)
    assert change.replaces and "-" in change.diff() and "LIUM_API_KEY" in change.diff()
    backup = apply(change)
    assert backup is not None and backup.read_text(encoding="utf-8") == installed
    assert load(client, path)[client.servers_key] == entry_document(client, [LIUM])[client.servers_key]


def test_codex_replaces_the_whole_table_and_its_subtables(tmp_path):
    client = CLIENTS["codex"]
    path = tmp_path / "config.toml"
    path.write_text('[mcp_servers.demo]\ncommand = "old"\n\n[mcp_servers.demo.env]\nA = "1"\n\n'
                    '[mcp_servers.other]\ncommand = "other"\n', encoding="utf-8")
    apply(plan(client, DEMO, path, force=True))
    assert tomllib.loads(path.read_text(encoding="utf-8"))["mcp_servers"] == {
        "other": {"command": "other"}, "demo": entry_document(client, [DEMO])["mcp_servers"]["demo"]}


@pytest.mark.parametrize("text", [
    'mcp_servers = { demo = { command = "old" } }\n',  # inline
    '[mcp_servers]\ndemo.command = "old"\n',  # dotted keys
])
def test_codex_refuses_an_entry_it_cannot_replace_safely(text, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ClientConfigError, match="add it by hand"):
        plan(CLIENTS["codex"], DEMO, path, force=True)


@pytest.mark.parametrize(("name", "text", "reason"), [
    ("vscode", '{\n  // my servers\n  "servers": {},\n}\n', "is not plain JSON"),
    ("cursor", "[]", "is not a JSON object"),
    ("gemini", '{"mcpServers": []}', "is not a table of servers"),
    ("codex", "model = \n", "is not valid TOML"),
])
def test_files_it_cannot_edit_are_left_alone_with_a_way_forward(name, text, reason, tmp_path):
    path = tmp_path / "config"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ClientConfigError, match=reason) as caught:
        plan(CLIENTS[name], DEMO, path, force=True)
    assert "mcp-gateway config" in str(caught.value)
    assert path.read_text(encoding="utf-8") == text


def test_a_symlinked_file_is_written_where_it_lives(tmp_path):
    real = tmp_path / "dotfiles" / "mcp.json"
    real.parent.mkdir()
    real.write_text('{"mcpServers": {}}\n', encoding="utf-8")
    link = tmp_path / ".cursor" / "mcp.json"
    link.parent.mkdir()
    link.symlink_to(real)
    apply(plan(CLIENTS["cursor"], DEMO, link, force=False))
    assert link.is_symlink() and "demo" in json.loads(real.read_text(encoding="utf-8"))["mcpServers"]


def test_tabs_stay_tabs(tmp_path):
    path = tmp_path / "mcp.json"
    path.write_text('{\n\t"servers": {},\n\t"inputs": []\n}\n', encoding="utf-8")
    apply(plan(CLIENTS["vscode"], DEMO, path, force=False))
    text = path.read_text(encoding="utf-8")
    assert '\n\t"inputs": []' in text and '\n\t\t"demo": {' in text and not os.path.exists(f"{path}.tmp")
