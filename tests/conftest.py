"""Shared fixtures: a recording upstream on 127.0.0.1 and a real server subprocess behind the official client."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.upstream import RecordingUpstream

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SPECS = ROOT.parent / "shared" / "specs"
TEST_KEY = "sk-test-secret-value-1234"


@pytest.fixture
def upstream() -> Iterator[RecordingUpstream]:
    server = RecordingUpstream().start()
    yield server
    server.stop()


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The subprocess environment: this interpreter's, plus test credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "MCP_GW_"))}
    env["TEST_KEY"] = TEST_KEY
    env.update(extra or {})
    return env


@asynccontextmanager
async def stdio_client(args: list[str], mode: str = "legacy", env: dict[str, str] | None = None) -> AsyncIterator[Client]:
    """The real server as a subprocess, driven by the official MCP client (`legacy` = 2025-11-25 handshake)."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_gateway", *args],
                                   env=env or server_env(), cwd=str(ROOT))
    async with Client(params, mode=mode, read_timeout_seconds=30) as client:
        yield client


@pytest.fixture(params=["legacy", "2026-07-28"])
def era(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: the 2025-11-25 initialize handshake and 2026-07-28 stateless requests."""
    return request.param


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
