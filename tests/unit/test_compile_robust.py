"""No document breaks the compiler: every node of two small documents, replaced by junk, still compiles or
fails with one DocumentError, and every tool that comes out is valid."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_gateway.compile import compile_document
from mcp_gateway.errors import DocumentError
from mcp_gateway.profile import Profile
from mcp_gateway.spec import normalise
from tests.common import fixture_document, positions, replaced
from tests.strict_client import ToolChecker

JUNK: tuple[Any, ...] = (None, 7, "x", [], {}, [None], {"$ref": "#/nowhere"}, {"$ref": "#"})


@pytest.mark.parametrize("name", ["echo.yaml", "swagger2_pets.yaml"])
def test_junk_anywhere_never_crashes(name):
    document = fixture_document(name)
    checker = ToolChecker()
    runs = 0
    for path in positions(document):
        for junk in JUNK:
            mutated = replaced(document, path, junk)
            try:
                compilation = compile_document(normalise(mutated, "fuzz.yaml"), Profile(spec="fuzz.yaml"))
            except DocumentError:
                continue
            runs += 1
            for tool in compilation.tools:
                assert checker.tool_problems(tool.to_mcp()) == [], (path, junk, tool.name)
            assert len(compilation.tools) + len(compilation.skipped) <= compilation.operations + len(
                [s for s in compilation.skipped if s.operation.startswith("*")])
    assert runs > 500
