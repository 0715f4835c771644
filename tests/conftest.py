"""Pytest fixtures: a recording upstream on 127.0.0.1, both protocol eras, the anyio backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.upstream import RecordingUpstream


@pytest.fixture
def upstream() -> Iterator[RecordingUpstream]:
    server = RecordingUpstream().start()
    yield server
    server.stop()


@pytest.fixture(params=["legacy", "2026-07-28"])
def era(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: the 2025-11-25 initialize handshake and 2026-07-28 stateless requests."""
    return request.param


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
