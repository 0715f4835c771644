"""Serve a real profile from tool_specs/ against a stand-in, offline, behind the official MCP client.

The server runs as `python -m mcp_gateway serve tool_specs/<profile> --base-url <stand-in> --spec-timeout 2`
with only the variables a user would set. Every https fetch goes through a proxy on a closed port of
127.0.0.1, so the live document can never be reached and the bundled copy is served, on any machine.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import CallToolResult, TextContent

from tests.common import ROOT, server_env
from tests.gateways.standin import StandIn
from tests.servers import free_port

TOOL_SPECS = ROOT / "tool_specs"
GATEWAY_VARIABLES = ("LIUM_API_KEY", "AIGATEWAY_API_KEY", "LUMYX_API_KEY", "LUMEN_API_KEY", "LUMEN_BASE_URL",
                     "LUNOS_API_KEY", "LUNOS_APP_ID", "OPENAI_COMPAT_API_KEY", "OPENAI_COMPAT_BASE_URL")
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
S = TypeVar("S", bound=StandIn)


def standin_fixture(make: Callable[[], S]) -> Callable[[], Iterator[S]]:
    """A pytest fixture that runs the stand-in `make()` builds for one test."""

    @pytest.fixture
    def fixture() -> Iterator[S]:
        server = make().start()
        yield server
        server.stop()

    return fixture


def offline_env(cache: Path, **variables: str) -> dict[str, str]:
    """This interpreter's environment without any gateway variable or proxy, plus `variables`."""
    env = {k: v for k, v in server_env().items()
           if k not in GATEWAY_VARIABLES and k.upper() not in PROXY_VARIABLES}
    env["HTTPS_PROXY"] = f"http://127.0.0.1:{free_port()}"
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["MCP_GATEWAY_CACHE_DIR"] = str(cache)
    env.update(variables)
    return env


class Served:
    """The connected client and what the server wrote to stderr (its log)."""

    def __init__(self, client: Client, errlog: IO[str]) -> None:
        self.client = client
        self._errlog = errlog

    def log(self) -> str:
        self._errlog.flush()
        self._errlog.seek(0)
        return self._errlog.read()

    async def call(self, name: str, arguments: dict[str, Any] | None = None, **options: Any) -> CallToolResult:
        return await self.client.call_tool(name, arguments or {}, **options)


@asynccontextmanager
async def serve_profile(profile: str, standin: StandIn | None, cache: Path, mode: str = "legacy",
                        **variables: str) -> AsyncIterator[Served]:
    """The profile's server, offline, against `standin` (None: the profile's own base URL) with `variables` set.

    `mode` is the client's protocol era: "legacy" (2025-11-25 handshake) or "2026-07-28".
    """
    args = ["-m", "mcp_gateway", "serve", str(TOOL_SPECS / profile), "--spec-timeout", "2"]
    if standin is not None:
        args += ["--base-url", standin.url]
    params = StdioServerParameters(command=sys.executable, args=args, env=offline_env(cache, **variables),
                                   cwd=str(ROOT))
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode, read_timeout_seconds=30) as client:
            yield Served(client, errlog)


def text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def data(result: CallToolResult) -> Any:
    """The JSON a successful result carries (its first text block, parsed; notes may follow it)."""
    assert not result.is_error, text(result)
    first = result.content[0]
    assert isinstance(first, TextContent), result
    return json.loads(first.text)


def assert_secret_absent(secret: str, result: CallToolResult, served: Served) -> None:
    assert secret not in text(result)
    assert secret not in json.dumps(result.structured_content or {})
    assert secret not in served.log()


async def assert_key_refused(profile: str, standin: StandIn, cache: Path, variable: str, key: str | None, tool: str,
                             arguments: dict[str, Any] | None = None, **variables: str) -> None:
    """Without a key the error names `variable` and nothing is sent; a wrong one is refused with 401, unechoed."""
    async with serve_profile(profile, standin, cache, **variables, **({variable: key} if key else {})) as served:
        result = await served.call(tool, arguments)
        assert result.is_error
        assert variable in text(result)
        if key is None:
            assert standin.requests == []
        else:
            assert "HTTP 401" in text(result) and "Invalid API key" in text(result)
            assert_secret_absent(key, result, served)
