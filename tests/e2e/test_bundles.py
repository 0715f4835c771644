"""Claude Desktop bundles: every manifest passes `mcpb validate`, and bundles packed by `mcp-gateway bundle` are
unpacked into a temporary folder and their server started as Claude Desktop starts it (the manifest's command, args
and env with ${__dirname} and ${user_config.*} filled in, nothing else of this environment) and used through the
official MCP client.

The bundles are of the `uv` server type, whose command (`uv run --project DIR main.py ...`) installs the dependencies
from PyPI on first start. The suite stays offline, so these tests start the same entry point with this virtualenv's
Python in place of `uv run --project DIR`; the bundle's own copy of the package is the one that runs (its server/
folder comes first on sys.path), as the fallback document's path inside the unpacked folder shows.

@anthropic-ai/mcpb is installed into tests/.cache/ on first use (through a temporary folder, so an interrupted install
is redone, never half-used); the tests skip, saying why, only when npm is missing or its registry cannot be reached.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from mcp_gateway.bundled import bundled_profiles
from mcp_gateway.mcpb import GENERIC, RegistryUnreachable, bundles, mcpb_cli, run_mcpb, stage
from tests.common import ROOT, TEST_KEY
from tests.servers import free_port, run_cli, serve_command
from tests.upstream import RecordingUpstream

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]  # the first run downloads the mcpb CLI (about 17 MB)

CACHE = ROOT / "tests" / ".cache"
PLACEHOLDER = re.compile(r"\$\{user_config\.([A-Za-z0-9_]+)\}")


@pytest.fixture(scope="module")
def mcpb() -> Path:
    """The mcpb CLI (cli.js), installed into tests/.cache/ on first use."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("Node.js and npm are not installed, so @anthropic-ai/mcpb cannot be fetched from the npm registry")
    try:
        return mcpb_cli(CACHE)
    except RegistryUnreachable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def packed(mcpb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding the lium and generic bundles, built by `mcp-gateway bundle`."""
    out = tmp_path_factory.mktemp("bundles")
    built = run_cli("bundle", "lium", GENERIC, "--out", str(out), "--mcpb", str(mcpb))
    assert built.returncode == 0, built.stderr
    assert sorted(path.name for path in out.iterdir()) == ["mcp-gateway-lium.mcpb", "mcp-gateway-openapi.mcpb"]
    return out


def _unpacked(mcpb: Path, bundle: Path, into: Path) -> dict[str, Any]:
    """The bundle unpacked by `mcpb unpack` into `into`; its manifest."""
    run_mcpb(mcpb, "unpack", str(bundle), str(into))
    manifest: dict[str, Any] = json.loads((into / "manifest.json").read_text(encoding="utf-8"))
    return manifest


def _as_claude_desktop_starts(manifest: dict[str, Any], folder: Path, values: dict[str, str],
                              cache: Path) -> tuple[str, list[str], dict[str, str]]:
    """The command, args and env Claude Desktop derives from the manifest: ${__dirname} and ${user_config.KEY}
    replaced (a field left blank: its default, else empty), `uv run --project DIR` replaced by this Python; plus an
    unreachable proxy (offline) and this run's cache."""
    options = manifest["user_config"]

    def filled(text: str) -> str:
        text = text.replace("${__dirname}", str(folder))
        return PLACEHOLDER.sub(lambda m: values.get(m[1], str(options[m[1]].get("default", ""))), text)

    config = manifest["server"]["mcp_config"]
    command, args = config["command"], [filled(arg) for arg in config["args"]]
    if command == "uv":
        assert args[:3] == ["run", "--project", str(folder)], args
        command, args = sys.executable, args[3:]
    env = {name: filled(value) for name, value in config["env"].items()}
    env |= {"HTTPS_PROXY": f"http://127.0.0.1:{free_port()}", "NO_PROXY": "127.0.0.1,localhost",
            "MCP_GATEWAY_CACHE_DIR": str(cache)}
    return command, args, env


async def test_every_manifest_passes_mcpb_validate(mcpb: Path, tmp_path: Path) -> None:
    variables = {p.name: p.variables for p in bundled_profiles()}
    chosen = bundles([])
    assert {b.name for b in chosen} == set(variables) - {"demo"} | {GENERIC}
    checked_types = [*(("uv", bundle) for bundle in chosen), ("python", chosen[0])]  # python: only `server` differs
    for server_type, bundle in checked_types:
        folder = stage(bundle, server_type, tmp_path / server_type)
        checked = run_mcpb(mcpb, "validate", str(folder / "manifest.json"))
        assert "Manifest schema validation passes!" in checked, checked
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["tools_generated"] is True and manifest["server"]["type"] == server_type
        options, env = manifest["user_config"], manifest["server"]["mcp_config"]["env"]
        used = set(PLACEHOLDER.findall(json.dumps(manifest["server"])))
        assert used == set(options), bundle.name  # every setting asked for is passed on, and only those
        for variable in variables.get(bundle.name, ()):
            option = options[variable.name.lower()]
            assert env[variable.name] == f"${{user_config.{variable.name.lower()}}}"
            assert option["required"] is variable.required
            if variable.kind == "key":  # kept in the OS keychain
                assert option["sensitive"] is True, variable.name
        assert any(option.get("sensitive") for option in options.values()), bundle.name


async def test_a_profile_bundle_starts_from_its_unpacked_folder(mcpb: Path, packed: Path, tmp_path: Path) -> None:
    folder = tmp_path / "unpacked"
    manifest = _unpacked(mcpb, packed / "mcp-gateway-lium.mcpb", folder)
    assert manifest["user_config"]["lium_api_key"]["sensitive"] is True
    command, args, env = _as_claude_desktop_starts(manifest, folder, {"lium_api_key": TEST_KEY}, tmp_path / "cache")
    async with serve_command(command, args, env) as served:
        listed = await served.client.list_tools()
    names = {tool.name for tool in listed.tools}
    assert {"lium_list_pods", "lium_rent_pod", "lium_delete_pod"} <= names, names
    log = served.stderr()
    fallback = folder / "server" / "mcp_gateway" / "tool_specs" / "specs" / "lium.io.openapi.yaml"
    assert f"using the bundled copy {fallback}" in log, log  # offline, from the bundle's own files
    assert TEST_KEY not in log


async def test_the_generic_bundle_serves_the_document_it_is_given(mcpb: Path, packed: Path, tmp_path: Path,
                                                                 upstream: RecordingUpstream) -> None:
    """Blank settings (header, bearer token) are left out; the key goes where the document's apiKey scheme says."""
    folder = tmp_path / "unpacked"
    manifest = _unpacked(mcpb, packed / "mcp-gateway-openapi.mcpb", folder)
    values = {"document": str(ROOT / "tool_specs" / "demo.openapi.yaml"), "base_url": upstream.url,
              "api_key": TEST_KEY}
    command, args, env = _as_claude_desktop_starts(manifest, folder, values, tmp_path / "cache")
    async with serve_command(command, args, env) as served:
        listed = await served.client.list_tools()
        result = await served.client.call_tool("get_pet", {"petId": 7})
    assert [tool.name for tool in listed.tools] == ["list_pets", "create_pet", "get_pet", "delete_pet"]
    assert not result.is_error, result.content
    assert upstream.last.raw_path == "/pets/7" and upstream.last.headers["x-api-key"] == TEST_KEY
    assert "authorization" not in upstream.last.headers
    assert TEST_KEY not in served.stderr()
