"""Unit tests of the pure SSE parser and stream assembler."""

from __future__ import annotations

import json

from mcp_gateway.streaming import SSEParser, StreamAssembler


def _feed(raw: str, pieces: int = 7) -> list[tuple[str, str]]:
    parser = SSEParser()
    data = raw.encode()
    size = max(1, len(data) // pieces)
    events = []
    for start in range(0, len(data), size):
        events.extend(parser.feed(data[start:start + size]))
    return events + parser.close()


def test_openai_chunks_assemble_content_tool_calls_and_usage():
    chunks = [
        {"id": "c1", "object": "chat.completion.chunk", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
        {"id": "c1", "object": "chat.completion.chunk", "model": "m", "choices": [{"index": 0, "delta": {"content": "lo"}}]},
        {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "t1", "function": {"name": "get_weather", "arguments": "{\"ci"}}]}}]},
        {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "ty\":\"Paris\"}"}}]}, "finish_reason": "tool_calls"}]},
        {"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": {"total_tokens": 9}},
    ]
    raw = "".join(f"data: {json.dumps(c)}\r\n\r\n" for c in chunks) + "data: [DONE]\n\n"
    assembler = StreamAssembler()
    for event, data in _feed(raw):
        assembler.add(event, data)
    result = assembler.result()
    message = result["choices"][0]["message"]
    assert message["content"] == "Hello"
    assert message["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}
    assert result["choices"][0]["finish_reason"] == "tool_calls"
    assert result["usage"] == {"total_tokens": 9}
    assert result["object"] == "chat.completion" and result["model"] == "m"


def test_anthropic_events_assemble_text_and_tool_use():
    events = [
        ("message_start", {"type": "message_start", "message": {"id": "msg", "type": "message", "role": "assistant", "model": "claude", "content": [], "usage": {"input_tokens": 3}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi "}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "there"}}),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "tu", "name": "lookup", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"q\": "}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"x\"}"}}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    raw = "".join(f"event: {name}\ndata: {json.dumps(body)}\n\n" for name, body in events)
    assembler = StreamAssembler()
    for event, data in _feed(raw, pieces=11):
        assembler.add(event, data)
    result = assembler.result()
    assert result["content"][0] == {"type": "text", "text": "Hi there"}
    assert result["content"][1]["input"] == {"q": "x"}
    assert result["stop_reason"] == "tool_use"
    assert result["usage"] == {"input_tokens": 3, "output_tokens": 5}


def test_comments_and_unknown_payloads_are_kept_apart():
    assembler = StreamAssembler()
    for event, data in _feed(": keep-alive\n\ndata: plain text\n\ndata: {\"a\": 1}\n\n"):
        assembler.add(event, data)
    assert assembler.result() == {"events": ["plain text", {"a": 1}]}


def test_characters_and_crlf_split_across_chunks_stay_whole():
    raw = "data: café ✓\r\n\r\ndata: two\r\n\r\n".encode()
    parser = SSEParser()
    events = []
    for i in range(len(raw)):  # one byte at a time splits every multi-byte character and every CRLF
        events.extend(parser.feed(raw[i:i + 1]))
    assert events + parser.close() == [("message", "café ✓"), ("message", "two")]
