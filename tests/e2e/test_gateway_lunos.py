"""Lunos through tool_specs/lunos.yaml: chat completions attributed to an app with X-App-ID, and Anthropic messages."""

from __future__ import annotations

import pytest

from tests.gateways.harness import assert_key_refused, data, serve_profile, standin_fixture
from tests.gateways.openai_compat import lunos

pytestmark = pytest.mark.anyio

KEY = "lunos-test-key-91d3e7"
MODEL = "openai/gpt-4.1-mini"


standin = standin_fixture(lambda: lunos(KEY))


async def test_chat_is_attributed_to_the_app(standin, tmp_path):
    async with serve_profile("lunos.yaml", standin, tmp_path, LUNOS_API_KEY=KEY,
                             LUNOS_APP_ID="course-helper") as served:
        completion = data(await served.call("lunos_create_chat_completion", {
            "model": MODEL, "messages": [{"role": "user", "content": "what is a monad"}]}))
        assert completion["choices"][0]["message"]["content"] == "You said: what is a monad"
        sent = standin.last
        assert sent.headers["x-app-id"] == "course-helper"
        assert sent.headers["authorization"] == f"Bearer {KEY}"
        assert sent.json() == {"model": MODEL, "messages": [{"role": "user", "content": "what is a monad"}]}

        message = data(await served.call("lunos_create_message", {
            "model": "anthropic/claude-sonnet-4", "max_tokens": 100,
            "messages": [{"role": "user", "content": "and a functor?"}]}))
        assert message["content"] == [{"type": "text", "text": "You said: and a functor?"}]
        assert standin.last.raw_path == "/messages" and standin.last.headers["x-app-id"] == "course-helper"
    assert standin.requests_by_app == {"course-helper": 2}


async def test_without_an_app_id_no_app_is_named(standin, tmp_path):
    async with serve_profile("lunos.yaml", standin, tmp_path, LUNOS_API_KEY=KEY) as served:
        result = await served.call("lunos_list_models")
    assert [m["id"] for m in data(result)["data"]] == [MODEL, "anthropic/claude-sonnet-4"]
    assert not standin.last.headers.get("x-app-id")
    assert standin.requests_by_app == {}


@pytest.mark.parametrize("key", [None, "lunos-wrong-0000"], ids=["missing", "wrong"])
async def test_a_missing_or_wrong_key_says_which_variable_to_set(standin, tmp_path, key):
    await assert_key_refused("lunos.yaml", standin, tmp_path, "LUNOS_API_KEY", key, "lunos_create_chat_completion",
                             {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
