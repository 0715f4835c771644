"""`profiles`, `config` and `install` through the command line (in-process): what they print, what they write into a
temporary HOME for every client, and how they refuse."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mcp_gateway.cli import main
from mcp_gateway.clients import CLIENTS
from tests.common import client_entry

NAMES = ["aigateway", "demo", "lium", "lumen", "lumyx", "lunos", "openai-compatible"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HOME, and nothing else that moves a client's file elsewhere."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("CODEX_HOME", raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_profiles(capsys):
    code, out, err = run(capsys, "profiles")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == NAMES
    assert "mcp-gateway serve NAME" in err
    code, out, _ = run(capsys, "profiles", "--json")
    assert code == 0 and [entry["name"] for entry in json.loads(out)] == NAMES


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_config_then_install_for_each_client(client, home, capsys):
    code, snippet, notes = run(capsys, "config", client, "demo")
    assert code == 0, notes
    path = CLIENTS[client].config_file()
    assert str(path).startswith(str(home)) and str(path) in notes and "restart" in notes
    entry = client_entry(client, snippet)

    code, diff, _ = run(capsys, "install", client, "demo", "--dry-run")
    assert code == 0 and diff.startswith(f"--- /dev/null\n+++ {path}\n") and not path.exists()
    code, out, _ = run(capsys, "install", client, "demo")
    assert (code, out) == (0, f"added demo in {path}\n")
    assert client_entry(client, path.read_text(encoding="utf-8")) == entry
    code, out, _ = run(capsys, "install", client, "demo")
    assert code == 0 and "nothing to change" in out


def test_install_replaces_only_with_force_and_keeps_the_old_file(home, capsys):
    assert run(capsys, "install", "gemini", "demo")[0] == 0
    path = home / ".gemini" / "settings.json"
    installed = path.read_text(encoding="utf-8")
    code, _, err = run(capsys, "install", "gemini", "lium", "--name", "demo")
    assert code == 2 and "already has a different server named demo; pass --force" in err
    assert path.read_text(encoding="utf-8") == installed
    code, out, _ = run(capsys, "install", "gemini", "lium", "--name", "demo", "--force")
    assert code == 0 and out.startswith(f"replaced demo in {path}")
    backup = Path(re.search(r"the file as it was: (\S+)\)", out).group(1))
    assert backup.parent == path.parent and backup.read_text(encoding="utf-8") == installed
    assert client_entry("gemini", path.read_text(encoding="utf-8"))["args"] == ["serve", "lium"]


def test_config_over_http_and_its_refusals(capsys):
    code, out, err = run(capsys, "config", "vscode", "lium", "--http", "http://127.0.0.1:8000/mcp")
    assert code == 0 and json.loads(out) == {"servers": {"lium": {"type": "http", "url": "http://127.0.0.1:8000/mcp"}}}
    assert "--transport http" in err
    code, _, err = run(capsys, "config", "claude-desktop", "lium", "--http", "http://127.0.0.1:8000/mcp")
    assert code == 2 and err.startswith("error: Claude Desktop's configuration file starts local servers only")
    code, _, err = run(capsys, "config", "cursor", "liumm")
    assert code == 2 and "neither a file nor a bundled profile" in err
    with pytest.raises(SystemExit):
        main(["config", "zed", "lium"])
    assert "invalid choice: 'zed'" in capsys.readouterr().err


def test_config_with_a_command_of_ones_own(capsys):
    code, out, _ = run(capsys, "config", "codex", "lium", "--command", "uvx --from /w/mcp_gateway.whl mcp-gateway")
    entry = client_entry("codex", out, "lium")
    assert code == 0 and entry["command"].endswith("uvx")
    assert entry["args"] == ["--from", "/w/mcp_gateway.whl", "mcp-gateway", "serve", "lium"]


def test_tools_takes_a_bare_name(capsys):
    code, out, _ = run(capsys, "tools", "demo", "--json")
    assert code == 0 and {tool["name"] for tool in json.loads(out)} == {"list_pets", "create_pet", "get_pet",
                                                                        "delete_pet"}
