"""No document breaks the compiler: every node of two small documents, replaced by junk, still compiles or
fails with one DocumentError, and every tool that comes out is valid."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from mcp_gateway.compile import compile_document
from tests.strict_client import ToolChecker
from mcp_gateway.errors import DocumentError
from mcp_gateway.profile import Profile
from mcp_gateway.spec import normalise
from tests.conftest import FIXTURES
from tests.test_spec_swagger2 import SWAGGER

JUNK: tuple[Any, ...] = (None, 7, "x", [], {}, [None], {"$ref": "#/nowhere"}, {"$ref": "#"})


def positions(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every node below the root, in document order."""
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield (*path, key)
        yield from positions(child, (*path, key))


def replaced(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(document)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = copy.deepcopy(value)
    return out


@pytest.mark.parametrize("name", ["openapi3", "swagger2"])
def test_junk_anywhere_never_crashes(name):
    if name == "openapi3":
        document = yaml.safe_load((FIXTURES / "echo.yaml").read_text())
    else:
        document = SWAGGER
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
