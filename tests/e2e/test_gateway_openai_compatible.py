"""tool_specs/openai-compatible.yaml: any OpenAI-compatible server, its base URL and key from the environment."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.common import ROOT
from tests.gateways.harness import TOOL_SPECS, data, offline_env, serve_profile, standin_fixture
from tests.gateways.openai_compat import lumen

KEY = "compat-test-key-55aa01"


standin = standin_fixture(lambda: lumen(KEY))


@pytest.mark.anyio
async def test_base_url_and_key_come_from_the_environment(standin, tmp_path):
    async with serve_profile("openai-compatible.yaml", None, tmp_path, OPENAI_COMPAT_BASE_URL=standin.url,
                             OPENAI_COMPAT_API_KEY=KEY) as served:
        listed = await served.client.list_tools()
        assert {tool.name for tool in listed.tools} == {"list_models", "create_chat_completion", "create_embedding"}
        completion = data(await served.call("create_chat_completion", {
            "model": "llama-3.3-70b", "messages": [{"role": "user", "content": "ping"}]}))
    assert completion["choices"][0]["message"]["content"] == "You said: ping"
    assert standin.last.headers["authorization"] == f"Bearer {KEY}"


def test_without_a_base_url_the_server_says_which_variable_to_set(tmp_path):
    env = offline_env(tmp_path, OPENAI_COMPAT_API_KEY=KEY)
    command = [sys.executable, "-m", "mcp_gateway", "serve", str(TOOL_SPECS / "openai-compatible.yaml")]
    finished = subprocess.run(command, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=60)
    assert finished.returncode == 2
    assert "OPENAI_COMPAT_BASE_URL is not set" in finished.stderr
    assert finished.stdout == ""
