"""Compact, strict JSON: what the gateway writes and how it reads answers (NaN and Infinity are no JSON)."""

from __future__ import annotations

import httpx
import mcp_types as types
import pytest

from mcp_gateway.exchange import Reply
from mcp_gateway.jsontext import json_text, parse_json
from mcp_gateway.plan import CallPlan, CompiledTool
from mcp_gateway.response import render_success
from mcp_gateway.streaming import StreamAssembler


def test_json_text_is_compact_and_keeps_non_ascii() -> None:
    assert json_text({"a": [1, "é ✓"], "b": None}) == '{"a":[1,"é ✓"],"b":null}'


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {"t": [float("-inf")]}])
def test_json_text_refuses_what_json_cannot_spell(value: object) -> None:
    with pytest.raises(ValueError):
        json_text(value)


@pytest.mark.parametrize("text", ['{"t": NaN}', "[Infinity]", "-Infinity"])
def test_parse_json_refuses_non_finite_constants(text: str) -> None:
    with pytest.raises(ValueError):
        parse_json(text)


def test_an_answer_with_nan_is_shown_as_the_text_it_is() -> None:
    """Python's json would read it; rendering it back as JSON would then fail. It stays text."""
    tool = CompiledTool("t", None, "", {"type": "object"}, None, {}, CallPlan("GET", "/t"), "GET /t")
    body = b'{"score": NaN}'
    reply = Reply(200, "OK", httpx.Headers({"Content-Type": "application/json"}), body, len(body), "http://h/t")
    result = render_success(tool, reply, 1_000)
    assert isinstance(result.content[0], types.TextContent)
    assert result.content[0].text == '{"score": NaN}' and result.structured_content is None


def test_a_streamed_chunk_with_nan_is_kept_raw() -> None:
    assembler = StreamAssembler()
    assembler.add("message", '{"choices": [{"index": 0, "delta": {"content": "x"}}], "logprob": NaN}')
    assert assembler.result() == {"events": ['{"choices": [{"index": 0, "delta": {"content": "x"}}], "logprob": NaN}']}
    json_text(assembler.result())  # the rendered result is valid JSON
