"""AIgateway through tool_specs/aigateway.yaml: models, chat, an async video job polled to the end, spend."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.gateways.aigateway import ROUTED, AIgateway
from tests.gateways.harness import assert_key_refused, assert_secret_absent, data, serve_profile, standin_fixture, text

pytestmark = pytest.mark.anyio

KEY = "sk-aig-test-8d0c4e2b1a"


aigateway = standin_fixture(lambda: AIgateway(KEY))


async def test_tools_leave_out_mcp_routes_and_list_file_plumbing_under_search(aigateway, tmp_path):
    async with serve_profile("aigateway.yaml", aigateway, tmp_path, AIGATEWAY_API_KEY=KEY) as served:
        listed = await served.client.list_tools()
    names = {tool.name for tool in listed.tools}
    assert {"aigateway_list_models", "aigateway_create_chat_completion", "aigateway_create_message",
            "aigateway_generate_video", "aigateway_generate_music", "aigateway_get_job", "aigateway_cancel_job",
            "aigateway_get_usage_by_tag", "aigateway_get_balance"} <= names
    assert {"aigateway_create_embeddings", "aigateway_generate_image", "aigateway_moderate", "aigateway_rerank",
            "aigateway_generate_3d"} <= names  # bodies the document omits, given by the profile
    meta = {"search_operations", "describe_operations", "call_operation"}
    assert len(names - meta) == 33 and meta <= names  # file and batch plumbing through search
    operations = [tool.description.rsplit("\n", 1)[-1] for tool in listed.tools]
    assert not [op for op in operations if " /mcp" in op or "/v1/files" in op or "webhook-secret" in op]
    assert all(name.startswith("aigateway_") for name in names - meta)


async def test_job_files_are_found_by_search_and_mcp_routes_are_not(aigateway, tmp_path):
    async with serve_profile("aigateway.yaml", aigateway, tmp_path, AIGATEWAY_API_KEY=KEY) as served:
        files = data(await served.call("search_operations", {"query": "download a file a job produced"}))
        mcp = data(await served.call("search_operations", {"query": "mcp", "limit": 20}))
    assert "aigateway_get_files_job" in [hit["name"] for hit in files["results"]]
    assert not [hit for hit in mcp["results"] if " /mcp" in hit["operation"]]


async def test_models_chat_job_and_usage(aigateway, tmp_path):
    async with serve_profile("aigateway.yaml", aigateway, tmp_path, AIGATEWAY_API_KEY=KEY) as served:
        models = data(await served.call("aigateway_list_models"))
        assert "google/veo-3" in [m["id"] for m in models["data"]]
        assert aigateway.last.headers["authorization"] == f"Bearer {KEY}"

        chat = data(await served.call("aigateway_create_chat_completion", {
            "model": "auto", "messages": [{"role": "user", "content": "Summarise MCP in one line"}],
            "x-aig-tag": "research"}))
        assert chat["model"] == ROUTED  # the Auto Router picked a cheaper model
        assert chat["choices"][0]["message"]["content"] == "You said: Summarise MCP in one line"
        sent = aigateway.last
        assert sent.raw_path == "/v1/chat/completions"
        assert sent.json() == {"model": "auto", "messages": [{"role": "user", "content": "Summarise MCP in one line"}]}
        assert sent.headers["x-aig-tag"] == "research"

        # a job is waited for: started once, then polled until it has finished
        started = len(aigateway.requests)
        finished = await served.call("aigateway_generate_video", {"prompt": "a red fox in snow", "duration": 5})
        job = json.loads(finished.content[0].text)
        assert job["status"] == "completed" and job["result"]["urls"][0].endswith(f"/{job['id']}/output.mp4")
        assert "finished (completed) after 2 polls" in finished.content[-1].text
        created, *polls = aigateway.requests[started:]
        assert created.raw_path == "/v1/videos/generations"
        assert created.json() == {"prompt": "a red fox in snow", "duration": 5}
        assert [poll.raw_path for poll in polls] == [f"/v1/jobs/{job['id']}"] * 2
        key = created.headers["idempotency-key"]
        assert uuid.UUID(key).version == 4
        assert aigateway.job_keys == {key: job["id"]}
        assert data(await served.call("aigateway_get_job", {"id": job["id"]}))["status"] == "completed"

        music = await served.call("aigateway_generate_music", {"prompt": "lo-fi beat", "is_instrumental": True})
        assert json.loads(music.content[0].text)["id"] != job["id"]
        music_key = next(record for record in reversed(aigateway.requests)
                         if record.method == "POST").headers["idempotency-key"]
        assert music_key != key and uuid.UUID(music_key).version == 4

        vectors = data(await served.call("aigateway_create_embeddings",
                                         {"model": "openai/text-embedding-3-small", "input": ["a", "b"]}))
        assert len(vectors["data"]) == 2
        assert aigateway.last.raw_path == "/v1/embeddings"
        assert aigateway.last.json() == {"model": "openai/text-embedding-3-small", "input": ["a", "b"]}

        usage = data(await served.call("aigateway_get_usage_by_tag", {"month": "2026-06"}))
        assert usage["month"] == "2026-06" and usage["tags"][0]["tag"] == "research"
        assert aigateway.last.query == [("month", "2026-06")]

        missing = await served.call("aigateway_get_job", {"id": "job_nope"})
        assert missing.is_error
        assert "HTTP 404" in text(missing) and "No job job_nope" in text(missing)
        assert_secret_absent(KEY, missing, served)


async def test_streamed_chat_through_the_auto_router(aigateway, tmp_path):
    async with serve_profile("aigateway.yaml", aigateway, tmp_path, AIGATEWAY_API_KEY=KEY) as served:
        result = await served.call("aigateway_create_chat_completion", {
            "messages": [{"role": "user", "content": "stream this please"}], "stream": True})
    completion = data(result)
    assert completion == result.structured_content
    assert completion["object"] == "chat.completion" and completion["model"] == ROUTED
    assert completion["choices"][0]["message"]["content"] == "You said: stream this please"
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert aigateway.last.json()["stream"] is True


@pytest.mark.parametrize("key", [None, "sk-aig-wrong-0000"], ids=["missing", "wrong"])
async def test_a_missing_or_wrong_key_says_which_variable_to_set(aigateway, tmp_path, key):
    await assert_key_refused("aigateway.yaml", aigateway, tmp_path, "AIGATEWAY_API_KEY", key, "aigateway_get_balance")
