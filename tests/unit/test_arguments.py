"""Argument checks: coercion, the inputSchema, and values that no JSON or HTTP request can carry."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_gateway.arguments import ArgumentChecker, unsendable
from mcp_gateway.plan import CallPlan, CompiledTool

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["temperature"],
          "properties": {"temperature": {"type": "number", "maximum": 2}, "q": {"type": "string"},
                         "tags": {"type": "array", "items": {"type": "string"}}, "meta": {"type": "object"}}}
TOOL = CompiledTool("complete", None, "", SCHEMA, None, {}, CallPlan("POST", "/complete"), "POST /complete")


def check(arguments: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    return ArgumentChecker().check(TOOL, arguments)


@pytest.mark.parametrize(("arguments", "argument"), [
    ({"temperature": "NaN"}, "temperature"),  # Python reads "NaN" as a float; JSON has no such number
    ({"temperature": "Infinity"}, "temperature"),
    ({"temperature": float("nan")}, "temperature"),  # NaN passes `maximum` (every comparison is false)
    ({"temperature": float("-inf")}, "temperature"),
    ({"temperature": 1, "q": "\ud800"}, "q"),
    ({"temperature": 1, "tags": ["ok", "\udfff"]}, "tags/1"),
    ({"temperature": 1, "meta": {"deep": {"x": float("inf")}}}, "meta/deep/x"),
    ({"temperature": 1, "meta": {"\ud800": 1}}, "meta"),
    ({"temperature": 3}, "temperature"),
])
def test_bad_values_are_refused_naming_the_argument(arguments: dict[str, Any], argument: str) -> None:
    _, problem = check(arguments)
    assert problem is not None and f"argument `{argument}`" in problem and "Nothing was sent upstream" in problem


def test_good_values_pass_coerced() -> None:
    arguments, problem = check({"temperature": "1.5", "q": "é ✓", "tags": ["a"], "meta": {"n": 1e300}})
    assert problem is None and arguments["temperature"] == 1.5


def test_unsendable_lists_every_problem_with_its_path() -> None:
    value = {"a": [1.0, float("nan")], "b": {"c": "\ud83d"}, "d": "fine"}
    assert [path for path, _ in unsendable(value)] == ["a/1", "b/c"]
