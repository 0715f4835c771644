"""Lumen (an institution's own instance) through tool_specs/lumen.yaml: chat, and 403 for a model without access."""

from __future__ import annotations

import pytest

from tests.gateways.harness import assert_key_refused, assert_secret_absent, data, serve_profile, standin_fixture, text
from tests.gateways.openai_compat import lumen

pytestmark = pytest.mark.anyio

KEY = "lumen-test-key-2b9f6a"
INSTANCE = "https://llm.example-university.edu/v1"


standin = standin_fixture(lambda: lumen(KEY))


async def test_chat_and_a_model_without_access(standin, tmp_path):
    async with serve_profile("lumen.yaml", standin, tmp_path, LUMEN_API_KEY=KEY, LUMEN_BASE_URL=INSTANCE) as served:
        listed = await served.client.list_tools()
        assert {tool.name for tool in listed.tools} == {"lumen_list_models", "lumen_create_chat_completion",
                                                       "lumen_create_embedding"}

        models = [m["id"] for m in data(await served.call("lumen_list_models"))["data"]]
        assert models == ["llama-3.3-70b", "bge-m3"]

        reply = await served.call("lumen_create_chat_completion", {
            "model": "llama-3.3-70b", "messages": [{"role": "user", "content": "explain photosynthesis"}],
            "max_tokens": 200})
        completion = data(reply)
        assert reply.structured_content == completion
        assert completion["choices"][0]["message"]["content"] == "You said: explain photosynthesis"
        sent = standin.last
        assert sent.method == "POST" and sent.raw_path == "/chat/completions"
        assert sent.headers["authorization"] == f"Bearer {KEY}"
        assert sent.json() == {"model": "llama-3.3-70b", "max_tokens": 200,
                               "messages": [{"role": "user", "content": "explain photosynthesis"}]}

        refused = await served.call("lumen_create_chat_completion", {
            "model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]})
        assert refused.is_error
        message = text(refused)
        assert "HTTP 403" in message
        assert "Your key does not have access to model `gpt-4.1`" in message and "permission_error" in message
        assert "LUMEN_API_KEY" in message
        assert standin.last.json()["model"] == "gpt-4.1"
        assert_secret_absent(KEY, refused, served)


async def test_a_missing_key_says_which_variable_to_set(standin, tmp_path):
    await assert_key_refused("lumen.yaml", standin, tmp_path, "LUMEN_API_KEY", None, "lumen_list_models",
                             LUMEN_BASE_URL=INSTANCE)
