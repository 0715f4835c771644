"""Server-sent events from an upstream, assembled into one result (OpenAI chunks, Anthropic events)."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any

from mcp_gateway.jsontext import parse_json


@dataclass
class SSEParser:
    """Incremental text/event-stream parser: feed bytes, get (event, data) pairs."""

    _buffer: str = ""
    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))

    def feed(self, chunk: bytes, final: bool = False) -> list[tuple[str, str]]:
        """Events completed by this chunk (a character or a CRLF split across chunks is kept whole)."""
        text = self._buffer + self._decoder.decode(chunk, final=final)
        held = "" if final or not text.endswith("\r") else "\r"  # its "\n" may come in the next chunk
        text = text[: len(text) - len(held)].replace("\r\n", "\n").replace("\r", "\n")
        events: list[tuple[str, str]] = []
        *lines, rest = text.split("\n")  # the last piece is an unfinished line
        self._buffer = rest + held
        for line in lines:
            if not line:
                if self._data:
                    events.append((self._event or "message", "\n".join(self._data)))
                self._event, self._data = "", []
            elif line.startswith(":"):
                continue
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "event":
                    self._event = value
                elif name == "data":
                    self._data.append(value)
        return events

    def close(self) -> list[tuple[str, str]]:
        """Events left when the stream ends without a final blank line."""
        return self.feed(b"\n\n", final=True) if self._buffer or self._data else []


class _Pieces(list[str]):
    """A text that grows by appending, joined once at the end (`+=` on a str copies all of it each time)."""


def _grow(holder: dict[str, Any], key: str, piece: str) -> None:
    """Append `piece` to the growing text `holder[key]`."""
    current = holder.get(key)
    if not isinstance(current, _Pieces):
        current = _Pieces([current] if isinstance(current, str) and current else [])
        holder[key] = current
    current.append(piece)


def _joined(value: Any) -> Any:
    """`value` with every growing text joined into a str."""
    if isinstance(value, _Pieces):
        return "".join(value)
    if isinstance(value, dict):
        return {key: _joined(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_joined(item) for item in value]
    return value


class StreamAssembler:
    """Folds a stream into the object a non-streaming call would have returned."""

    def __init__(self) -> None:
        self.kind: str | None = None  # "openai", "anthropic" or "events"
        self.completion: dict[str, Any] = {}
        self.choices: dict[int, dict[str, Any]] = {}
        self.message: dict[str, Any] = {}
        self.blocks: dict[int, dict[str, Any]] = {}
        self.partial_json: dict[int, _Pieces] = {}
        self.raw: list[Any] = []
        self.events = 0

    def add(self, event: str, data: str) -> None:
        if data.strip() == "[DONE]":
            return
        self.events += 1
        try:
            payload = parse_json(data)
        except ValueError:
            self.raw.append(data)
            return
        if not isinstance(payload, dict):
            self.raw.append(payload)
        elif payload.get("object") == "chat.completion.chunk" or "choices" in payload:
            self._openai(payload)
        elif isinstance(payload.get("type"), str) and (payload["type"].startswith(("message_", "content_block_"))
                                                       or payload["type"] in ("ping", "error")):
            self._anthropic(payload)
        else:
            self.raw.append(payload)

    def _openai(self, chunk: dict[str, Any]) -> None:
        self.kind = self.kind or "openai"
        for key in ("id", "model", "created", "system_fingerprint"):
            if key in chunk and key not in self.completion:
                self.completion[key] = chunk[key]
        if chunk.get("usage"):
            self.completion["usage"] = chunk["usage"]
        for choice in chunk.get("choices") or []:
            index = choice.get("index", 0)
            slot = self.choices.setdefault(index, {"index": index, "message": {"role": "assistant", "content": ""},
                                                   "finish_reason": None})
            delta = choice.get("delta") or {}
            message = slot["message"]
            if delta.get("role"):
                message["role"] = delta["role"]
            if isinstance(delta.get("content"), str):
                _grow(message, "content", delta["content"])
            for call in delta.get("tool_calls") or []:
                calls = message.setdefault("tool_calls", [])
                position = call.get("index", len(calls))
                while len(calls) <= position:
                    calls.append({"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                target = calls[position]
                if call.get("id"):
                    target["id"] = call["id"]
                function = call.get("function") or {}
                if function.get("name"):
                    _grow(target["function"], "name", function["name"])
                if isinstance(function.get("arguments"), str):
                    _grow(target["function"], "arguments", function["arguments"])
            if choice.get("finish_reason"):
                slot["finish_reason"] = choice["finish_reason"]

    def _anthropic(self, event: dict[str, Any]) -> None:
        self.kind = self.kind or "anthropic"
        kind = event["type"]
        if kind == "message_start":
            self.message = dict(event.get("message") or {})
        elif kind == "content_block_start":
            self.blocks[event.get("index", len(self.blocks))] = dict(event.get("content_block") or {})
        elif kind == "content_block_delta":
            index = event.get("index", 0)
            block = self.blocks.setdefault(index, {"type": "text", "text": ""})
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                _grow(block, "text", delta.get("text", ""))
            elif delta.get("type") == "input_json_delta":
                self.partial_json.setdefault(index, _Pieces()).append(delta.get("partial_json", ""))
            elif delta.get("type") == "thinking_delta":
                _grow(block, "thinking", delta.get("thinking", ""))
        elif kind == "message_delta":
            self.message.update(event.get("delta") or {})
            if event.get("usage"):
                self.message["usage"] = {**(self.message.get("usage") or {}), **event["usage"]}
        elif kind == "error":
            self.message["error"] = event.get("error")

    def result(self) -> dict[str, Any]:
        """The assembled object."""
        if self.kind == "openai":
            choices: list[dict[str, Any]] = _joined([self.choices[i] for i in sorted(self.choices)])
            return {**self.completion, "object": "chat.completion", "choices": choices}
        if self.kind == "anthropic":
            blocks: dict[int, dict[str, Any]] = _joined(self.blocks)
            for index, pieces in self.partial_json.items():
                text = "".join(pieces)
                try:
                    blocks[index]["input"] = parse_json(text) if text else {}
                except ValueError:
                    blocks[index]["input"] = text
            return {**self.message, "content": [blocks[i] for i in sorted(blocks)]}
        return {"events": self.raw}
