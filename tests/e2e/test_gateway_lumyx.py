"""LumyxAI through tool_specs/lumyx.yaml: models with _meta, chat (plain, vision, tools, streamed), embeddings,
Anthropic messages (plain and streamed), rate limits."""

from __future__ import annotations

import json

import pytest

from tests.gateways.harness import assert_key_refused, assert_secret_absent, data, serve_profile, standin_fixture, text
from tests.gateways.openai_compat import lumyx

pytestmark = pytest.mark.anyio

KEY = "lx-test-key-73c1d09e"
MODEL = "lumyx/gpt-4o-mini"
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}


standin = standin_fixture(lambda: lumyx(KEY))


async def test_models_chat_vision_tools_and_embeddings(standin, tmp_path):
    async with serve_profile("lumyx.yaml", standin, tmp_path, LUMYX_API_KEY=KEY) as served:
        listed = await served.client.list_tools()
        tools = {tool.name: tool for tool in listed.tools}
        assert set(tools) == {"lumyx_list_models", "lumyx_create_chat_completion", "lumyx_create_embedding",
                              "lumyx_create_message"}
        assert tools["lumyx_create_chat_completion"].output_schema is not None

        models = await served.call("lumyx_list_models")
        listed_models = data(models)["data"]
        assert models.structured_content == data(models)
        assert listed_models[0]["_meta"] == {"contextWindow": 128000, "pricing": {"input": 0.15, "output": 0.6},
                                             "tags": ["vision", "tools"]}
        assert standin.last.headers["authorization"] == f"Bearer {KEY}"

        plain = data(await served.call("lumyx_create_chat_completion", {
            "model": MODEL, "messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "hello there"}],
            "temperature": 0.2, "max_tokens": 50}))
        assert plain["choices"][0]["message"]["content"] == "You said: hello there"
        assert plain["usage"]["total_tokens"] > 0
        assert standin.last.json() == {"model": MODEL, "messages": [{"role": "system", "content": "Be brief."},
                                                                    {"role": "user", "content": "hello there"}],
                                       "temperature": 0.2, "max_tokens": 50}
        assert "stream" not in standin.last.json()

        vision = [{"type": "text", "text": "what is in this picture?"},
                  {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}}]
        seen = data(await served.call("lumyx_create_chat_completion", {
            "model": MODEL, "messages": [{"role": "user", "content": vision}]}))
        assert seen["choices"][0]["message"]["content"] == "You said: what is in this picture? [1 image]"
        assert standin.last.json()["messages"][0]["content"] == vision

        asked = data(await served.call("lumyx_create_chat_completion", {
            "model": MODEL, "messages": [{"role": "user", "content": "weather in Oslo"}],
            "tools": [WEATHER_TOOL], "tool_choice": "auto"}))
        choice = asked["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        call = choice["message"]["tool_calls"][0]
        assert call["function"]["name"] == "get_weather"
        assert json.loads(call["function"]["arguments"]) == {"query": "weather in Oslo"}
        assert standin.last.json()["tools"] == [WEATHER_TOOL]

        answered = data(await served.call("lumyx_create_chat_completion", {
            "model": MODEL, "tools": [WEATHER_TOOL], "messages": [
                {"role": "user", "content": "weather in Oslo"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": "-3 C, snow"}]}))
        assert answered["choices"][0]["message"]["content"] == "The tool said: -3 C, snow"

        vectors = data(await served.call("lumyx_create_embedding", {
            "model": "lumyx/text-embed-small", "input": ["first text", "second text"], "dimensions": 4}))
        assert [item["index"] for item in vectors["data"]] == [0, 1]
        assert all(len(item["embedding"]) == 4 for item in vectors["data"])
        assert standin.last.raw_path == "/embeddings"
        assert standin.last.json() == {"model": "lumyx/text-embed-small", "input": ["first text", "second text"],
                                       "dimensions": 4}

        unknown = await served.call("lumyx_create_chat_completion", {
            "model": "nope", "messages": [{"role": "user", "content": "hi"}]})
        assert unknown.is_error
        assert "HTTP 404" in text(unknown) and "The model `nope` does not exist" in text(unknown)
        assert "model_not_found" in text(unknown)
        assert_secret_absent(KEY, unknown, served)


async def test_streamed_chat_arrives_as_one_completion_with_progress(standin, tmp_path, era):
    progress: list[tuple[float, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, message))

    async with serve_profile("lumyx.yaml", standin, tmp_path, mode=era, LUMYX_API_KEY=KEY) as served:
        result = await served.call("lumyx_create_chat_completion", {
            "model": MODEL, "messages": [{"role": "user", "content": "tell me a story about streams"}],
            "stream": True, "stream_options": {"include_usage": True}}, progress_callback=on_progress)
        streamed_tools = await served.call("lumyx_create_chat_completion", {
            "model": MODEL, "messages": [{"role": "user", "content": "weather in Lima"}],
            "tools": [WEATHER_TOOL], "stream": True})

    completion = data(result)
    assert result.structured_content == completion
    assert completion["object"] == "chat.completion" and completion["model"] == MODEL
    assert completion["id"].startswith("chatcmpl-")
    choice = completion["choices"][0]
    assert choice == {"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": "You said: tell me a story about streams"}}
    assert completion["usage"]["completion_tokens"] == 8
    assert progress, "no progress notification arrived while the stream was read"

    merged = data(streamed_tools)["choices"][0]
    assert merged["finish_reason"] == "tool_calls"
    calls = merged["message"]["tool_calls"]
    assert len(calls) == 1 and calls[0]["function"]["name"] == "get_weather"
    assert json.loads(calls[0]["function"]["arguments"]) == {"query": "weather in Lima"}


async def test_anthropic_messages_plain_and_streamed(standin, tmp_path):
    async with serve_profile("lumyx.yaml", standin, tmp_path, LUMYX_API_KEY=KEY) as served:
        plain = data(await served.call("lumyx_create_message", {
            "model": "lumyx/claude-haiku", "max_tokens": 64, "system": "Answer in French.",
            "messages": [{"role": "user", "content": "good morning"}]}))
        assert plain["type"] == "message" and plain["stop_reason"] == "end_turn"
        assert plain["content"] == [{"type": "text", "text": "You said: good morning"}]
        assert standin.last.raw_path == "/messages"
        assert standin.last.json() == {"model": "lumyx/claude-haiku", "max_tokens": 64, "system": "Answer in French.",
                                       "messages": [{"role": "user", "content": "good morning"}]}

        tool = {"name": "lookup", "description": "Look a word up",
                "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}
        streamed = await served.call("lumyx_create_message", {
            "model": "lumyx/claude-haiku", "max_tokens": 64, "stream": True, "tools": [tool],
            "messages": [{"role": "user", "content": "define serendipity"}]})
        message = data(streamed)
        assert streamed.structured_content == message
        assert message["type"] == "message" and message["role"] == "assistant"
        assert message["model"] == "lumyx/claude-haiku"
        assert message["stop_reason"] == "tool_use"
        assert message["content"] == [{"type": "tool_use", "id": message["content"][0]["id"], "name": "lookup",
                                       "input": {"query": "define serendipity"}}]
        assert message["usage"]["output_tokens"] == 1

        text_stream = data(await served.call("lumyx_create_message", {
            "model": "lumyx/claude-haiku", "max_tokens": 64, "stream": True,
            "messages": [{"role": "user", "content": "a streamed hello"}]}))
        assert text_stream["content"] == [{"type": "text", "text": "You said: a streamed hello"}]
        assert text_stream["stop_reason"] == "end_turn"

        no_limit = await served.call("lumyx_create_message", {
            "model": "lumyx/claude-haiku", "messages": [{"role": "user", "content": "hi"}]})
        assert no_limit.is_error and "max_tokens" in text(no_limit)


async def test_rate_limit_reports_the_limits_and_the_wait(standin, tmp_path):
    async with serve_profile("lumyx.yaml", standin, tmp_path, LUMYX_API_KEY=KEY) as served:
        standin.throttled = True
        result = await served.call("lumyx_list_models")
    assert result.is_error
    message = text(result)
    assert "HTTP 429" in message and "Rate limit reached for requests" in message
    assert "x-ratelimit-limit-requests: 60" in message and "x-ratelimit-remaining-requests: 0" in message
    assert "x-ratelimit-reset-requests: 20s" in message
    assert "Wait 20s" in message


@pytest.mark.parametrize("key", [None, "lx-wrong-0000"], ids=["missing", "wrong"])
async def test_a_missing_or_wrong_key_says_which_variable_to_set(standin, tmp_path, key):
    await assert_key_refused("lumyx.yaml", standin, tmp_path, "LUMYX_API_KEY", key, "lumyx_list_models")
