"""Pytest fixtures: a recording upstream on 127.0.0.1, the demo's stand-in upstream, both protocol eras, the anyio
backend, and a cache directory of the run's own (fetched documents and compiled tools never touch the user's)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from mcp_gateway.demo import PetClinic
from tests.common import TEST_KEY
from tests.upstream import RecordingUpstream


@pytest.fixture(scope="session", autouse=True)
def own_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every server the tests start, and the code they run in-process, caches under this run's folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MCP_GATEWAY_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture
def upstream() -> Iterator[RecordingUpstream]:
    server = RecordingUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def clinic() -> Iterator[PetClinic]:
    """The stand-in Pet Clinic upstream of `mcp-gateway demo` (tool_specs/demo.yaml), wanting TEST_KEY."""
    server = PetClinic(TEST_KEY)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["legacy", "2026-07-28"])
def era(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: the 2025-11-25 initialize handshake and 2026-07-28 stateless requests."""
    return request.param


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
