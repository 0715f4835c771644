"""A stand-in OpenAI-compatible gateway (LumyxAI, Lumen, Lunos): models, chat completions, embeddings, messages.

It answers deterministically so that tests can check what came back:
- a chat reply is "You said: <last user text>" (plus "[n image(s)]" for vision parts);
- with `tools` and a user turn last, the model calls the first tool with {"query": <user text>};
- after a `tool` message, the reply is "The tool said: <its content>";
- `stream: true` answers with server-sent events: OpenAI chunks ending in `data: [DONE]`, or the
  Anthropic event sequence on /messages.
Auth is `Authorization: Bearer <key>`; errors are {"error": {"message", "type", "code"}} (Anthropic's
{"type": "error", "error": {...}} on /messages), and every answer carries x-ratelimit-* headers.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from typing import Any

from tests.gateways.standin import (
    Reply,
    StandIn,
    bearer_token,
    json_reply,
    sse_data,
    sse_event,
    sse_reply,
)
from tests.upstream import Recorded

CREATED = 1_767_225_600
RATE_LIMIT = 60


def _pieces(text: str, size: int = 4) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(v.get("text", "") if isinstance(v, dict) else v) for v in value)
    return 0


def user_text(content: Any) -> tuple[str, list[str]]:
    """The text of a user turn and the image URLs in it (OpenAI parts or Anthropic blocks)."""
    if isinstance(content, str):
        return content, []
    texts, images = [], []
    for part in content if isinstance(content, list) else []:
        if part.get("type") == "text":
            texts.append(part.get("text", ""))
        elif part.get("type") == "image_url":
            images.append(part["image_url"]["url"])
        elif part.get("type") == "image":
            source = part.get("source") or {}
            images.append(source.get("url") or f"data:{source.get('media_type')};base64,...")
        elif part.get("type") == "tool_result":
            inner = part.get("content")
            texts.append(inner if isinstance(inner, str) else json.dumps(inner))
    return " ".join(texts), images


def decide(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, tool_choice: Any = None
           ) -> tuple[str | None, dict[str, Any] | None]:
    """(reply text, tool call {name, arguments}) for a conversation, the same for both APIs."""
    last = messages[-1]
    content = last.get("content")
    if last.get("role") == "tool":
        return f"The tool said: {content}", None
    if isinstance(content, list) and any(p.get("type") == "tool_result" for p in content):
        text, _ = user_text(content)
        return f"The tool said: {text}", None
    text, images = user_text(content)
    wants_tool = tools and tool_choice not in ("none", {"type": "none"})
    if wants_tool:
        first = tools[0]
        name = (first.get("function") or {}).get("name") or first.get("name")
        return None, {"name": name, "arguments": {"query": text}}
    reply = f"You said: {text}"
    if images:
        reply += f" [{len(images)} image{'s' if len(images) > 1 else ''}]"
    return reply, None


class OpenAICompatible(StandIn):
    """One gateway's stand-in; `models` are served, `restricted` exist but this key may not use them."""

    def __init__(self, key: str, models: list[dict[str, Any]], *, restricted: tuple[str, ...] = (),
                 anthropic: bool = False, name: str = "gateway") -> None:
        super().__init__()
        self.key = key
        self.name = name
        self.models = models
        self.restricted = set(restricted)
        self.throttled = False  # the next requests answer 429 while set
        self.used = 0
        self.requests_by_app: Counter[str] = Counter()
        self.route("GET", "/models", self.list_models)
        self.route("POST", "/chat/completions", self.chat)
        self.route("POST", "/embeddings", self.embeddings)
        if anthropic:
            self.route("POST", "/messages", self.messages)

    # -- protocol ------------------------------------------------------------------------------
    def limits(self) -> dict[str, str]:
        return {"x-ratelimit-limit-requests": str(RATE_LIMIT),
                "x-ratelimit-remaining-requests": str(max(0, RATE_LIMIT - self.used)),
                "x-ratelimit-reset-requests": "1s"}

    def authenticate(self, request: Recorded) -> Reply | None:
        token = bearer_token(request)
        if token is None:
            return self.error(401, "Missing API key: send Authorization: Bearer <key>", "authentication_error",
                              "missing_api_key")
        if token != self.key:
            return self.error(401, "Invalid API key", "authentication_error", "invalid_api_key")
        app = request.headers.get("x-app-id")
        if app:
            self.requests_by_app[app] += 1
        if self.throttled:
            headers = {**self.limits(), "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "20s",
                       "Retry-After": "20"}
            return self.error(429, "Rate limit reached for requests", "rate_limit_error", "rate_limit_exceeded",
                              headers)
        self.used += 1
        return None

    def error(self, status: int, message: str, kind: str = "invalid_request_error",
              code: str | int | None = None, headers: dict[str, str] | None = None) -> Reply:
        return json_reply({"error": {"message": message, "type": kind, "code": code}}, status, headers)

    def check_model(self, model: Any) -> Reply | None:
        if model in self.restricted:
            return self.error(403, f"Your key does not have access to model `{model}`", "permission_error",
                              "model_not_allowed")
        if model not in {m["id"] for m in self.models}:
            return self.error(404, f"The model `{model}` does not exist", "invalid_request_error", "model_not_found")
        return None

    def body(self, request: Recorded) -> dict[str, Any] | Reply:
        try:
            data = request.json()
        except ValueError:
            return self.error(400, "The body is not valid JSON")
        return data if isinstance(data, dict) else self.error(400, "The body must be a JSON object")

    # -- routes ----------------------------------------------------------------------------------
    def list_models(self, request: Recorded, _: dict[str, str]) -> Reply:
        return json_reply({"object": "list", "data": self.models}, headers=self.limits())

    def chat(self, request: Recorded, _: dict[str, str]) -> Reply:
        body = self.body(request)
        if isinstance(body, Reply):
            return body
        if not body.get("messages"):
            return self.error(400, "messages: field required", code="missing_field")
        refusal = self.check_model(body.get("model"))
        if refusal:
            return refusal
        text, call = decide(body["messages"], body.get("tools"), body.get("tool_choice"))
        model = body["model"]
        usage = {"prompt_tokens": sum(_words(m.get("content")) for m in body["messages"]),
                 "completion_tokens": _words(text or "") or 1}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        completion_id = "chatcmpl-" + hashlib.sha1(request.body, usedforsecurity=False).hexdigest()[:12]
        tool_call = None
        if call:
            tool_call = {"id": "call_" + completion_id[-8:], "type": "function",
                         "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])}}
        finish = "tool_calls" if call else "stop"
        if body.get("stream") is True:
            return sse_reply(self._chunks(completion_id, model, text, tool_call, finish, usage,
                                          bool((body.get("stream_options") or {}).get("include_usage"))),
                             self.limits())
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if tool_call:
            message["tool_calls"] = [tool_call]
        return json_reply({"id": completion_id, "object": "chat.completion", "created": CREATED, "model": model,
                           "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                           "usage": usage}, headers=self.limits())

    def _chunks(self, completion_id: str, model: str, text: str | None, tool_call: dict[str, Any] | None,
                finish: str, usage: dict[str, int], include_usage: bool) -> list[str]:
        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
            return sse_data({"id": completion_id, "object": "chat.completion.chunk", "created": CREATED,
                             "model": model, "choices": [{"index": 0, "delta": delta,
                                                          "finish_reason": finish_reason}]})

        events = [chunk({"role": "assistant", "content": ""})]
        if text is not None:
            events += [chunk({"content": piece}) for piece in _pieces(text)]
        if tool_call:
            function = tool_call["function"]
            events.append(chunk({"tool_calls": [{"index": 0, "id": tool_call["id"], "type": "function",
                                                 "function": {"name": function["name"], "arguments": ""}}]}))
            events += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                       for piece in _pieces(function["arguments"], 7)]
        events.append(chunk({}, finish))
        if include_usage:
            events.append(sse_data({"id": completion_id, "object": "chat.completion.chunk", "created": CREATED,
                                    "model": model, "choices": [], "usage": usage}))
        events.append(sse_data("[DONE]"))
        return events

    def embeddings(self, request: Recorded, _: dict[str, str]) -> Reply:
        body = self.body(request)
        if isinstance(body, Reply):
            return body
        refusal = self.check_model(body.get("model"))
        if refusal:
            return refusal
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not texts or not all(isinstance(t, str) for t in texts):
            return self.error(400, "input must be a string or an array of strings", code="invalid_input")
        size = int(body.get("dimensions") or 8)
        data = [{"object": "embedding", "index": i, "embedding": embed(text, size)} for i, text in enumerate(texts)]
        tokens = sum(_words(t) for t in texts)
        return json_reply({"object": "list", "data": data, "model": body["model"],
                           "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, headers=self.limits())

    def messages(self, request: Recorded, _: dict[str, str]) -> Reply:
        body = self.body(request)
        if isinstance(body, Reply):
            return body
        if not isinstance(body.get("max_tokens"), int):
            return self.anthropic_error(400, "max_tokens: Field required", "invalid_request_error")
        refusal = self.check_model(body.get("model"))
        if refusal:
            return refusal
        text, call = decide(body["messages"], body.get("tools"), body.get("tool_choice"))
        message_id = "msg_" + hashlib.sha1(request.body, usedforsecurity=False).hexdigest()[:16]
        usage = {"input_tokens": sum(_words(m.get("content")) for m in body["messages"]) + _words(body.get("system")),
                 "output_tokens": _words(text or "") or 1}
        blocks: list[dict[str, Any]] = []
        if text is not None:
            blocks.append({"type": "text", "text": text})
        if call:
            blocks.append({"type": "tool_use", "id": "toolu_" + message_id[-10:], "name": call["name"],
                           "input": call["arguments"]})
        stop = "tool_use" if call else "end_turn"
        if body.get("stream") is True:
            return sse_reply(self._anthropic_events(message_id, body["model"], blocks, stop, usage), self.limits())
        return json_reply({"id": message_id, "type": "message", "role": "assistant", "model": body["model"],
                           "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": usage},
                          headers=self.limits())

    def anthropic_error(self, status: int, message: str, kind: str) -> Reply:
        return json_reply({"type": "error", "error": {"type": kind, "message": message}}, status)

    def _anthropic_events(self, message_id: str, model: str, blocks: list[dict[str, Any]], stop: str,
                          usage: dict[str, int]) -> list[str]:
        events = [sse_event("message_start", {"type": "message_start", "message": {
            "id": message_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1}}}),
            sse_event("ping", {"type": "ping"})]
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                events.append(sse_event("content_block_start", {"type": "content_block_start", "index": index,
                                                                "content_block": {"type": "text", "text": ""}}))
                events += [sse_event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                             "delta": {"type": "text_delta", "text": piece}})
                           for piece in _pieces(block["text"])]
            else:
                start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                events.append(sse_event("content_block_start", {"type": "content_block_start", "index": index,
                                                                "content_block": start}))
                events += [sse_event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                             "delta": {"type": "input_json_delta",
                                                                       "partial_json": piece}})
                           for piece in _pieces(json.dumps(block["input"]), 6)]
            events.append(sse_event("content_block_stop", {"type": "content_block_stop", "index": index}))
        events.append(sse_event("message_delta", {"type": "message_delta",
                                                  "delta": {"stop_reason": stop, "stop_sequence": None},
                                                  "usage": {"output_tokens": usage["output_tokens"]}}))
        events.append(sse_event("message_stop", {"type": "message_stop"}))
        return events


def embed(text: str, size: int) -> list[float]:
    """A deterministic unit vector for a text."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(size)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [round(v / norm, 6) for v in raw]


# -- the three gateways -------------------------------------------------------------------------------

def lumyx(key: str) -> OpenAICompatible:
    """LumyxAI: `_meta` on every model, and the Anthropic Messages API."""
    models = [
        {"id": "lumyx/gpt-4o-mini", "object": "model", "created": CREATED, "owned_by": "openai",
         "_meta": {"contextWindow": 128000, "pricing": {"input": 0.15, "output": 0.6}, "tags": ["vision", "tools"]}},
        {"id": "lumyx/claude-haiku", "object": "model", "created": CREATED, "owned_by": "anthropic",
         "_meta": {"contextWindow": 200000, "pricing": {"input": 0.8, "output": 4.0}, "tags": ["tools"]}},
        {"id": "lumyx/text-embed-small", "object": "model", "created": CREATED, "owned_by": "openai",
         "_meta": {"contextWindow": 8191, "pricing": {"input": 0.02, "output": 0.0}, "tags": ["embedding"]}},
    ]
    return OpenAICompatible(key, models, anthropic=True, name="lumyx")


def lumen(key: str) -> OpenAICompatible:
    """Lumen: an institution's instance where this key may use some models and not others."""
    models = [
        {"id": "llama-3.3-70b", "object": "model", "created": CREATED, "owned_by": "institution"},
        {"id": "bge-m3", "object": "model", "created": CREATED, "owned_by": "institution"},
    ]
    return OpenAICompatible(key, models, restricted=("gpt-4.1",), name="lumen")


def lunos(key: str) -> OpenAICompatible:
    """Lunos: counts requests per X-App-ID, and speaks the Anthropic Messages API."""
    models = [
        {"id": "openai/gpt-4.1-mini", "object": "model", "created": CREATED, "owned_by": "openai"},
        {"id": "anthropic/claude-sonnet-4", "object": "model", "created": CREATED, "owned_by": "anthropic"},
    ]
    return OpenAICompatible(key, models, anthropic=True, name="lunos")
