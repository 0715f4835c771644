"""The handshake and tool list a stdio server answers before loading the MCP SDK are the SDK's own bytes.

The same server is asked twice: once opening with `initialize` (answered early), once opening with `ping`
(which only the SDK answers, so that it serves the whole session). Every answer must be byte for byte the same,
and the session must go on through the SDK afterwards.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.common import FIXTURES, ROOT, SPECS, needs_shared_specs
from tests.servers import RawStdio

INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {"roots": {"listChanged": True}},
                         "clientInfo": {"name": "raw", "version": "1"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
PING = {"jsonrpc": "2.0", "id": "ping", "method": "ping"}
DEMO = str(ROOT / "tool_specs" / "demo.yaml")


def listing(stdio: RawStdio, opening: list[dict[str, Any]]) -> list[bytes]:
    """The raw answers to the `opening` requests, the handshake and every tools/list page; then a ping, which the
    SDK answers."""
    answers = []
    for message in opening:
        stdio.send(json.dumps(message))
        answers.append(stdio.line())
    stdio.send(json.dumps(INITIALIZE))
    answers.append(stdio.line())
    stdio.send(json.dumps(INITIALIZED))
    cursor, page = None, 1
    while True:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": page, "method": "tools/list"}
        if cursor:
            message["params"] = {"cursor": cursor}
        stdio.send(json.dumps(message))
        answers.append(stdio.line(timeout=60))
        cursor, page = json.loads(answers[-1])["result"].get("nextCursor"), page + 1
        if not cursor:
            break
    assert stdio.ask({"jsonrpc": "2.0", "id": "after", "method": "ping"}) == {"jsonrpc": "2.0", "id": "after",
                                                                                "result": {}}
    return answers


def both_ways(args: list[str]) -> tuple[list[bytes], list[bytes]]:
    """The answers of a session opened with `initialize`, and of one opened with `ping`."""
    early, through_sdk = RawStdio(args), RawStdio(args)
    try:
        return listing(early, []), listing(through_sdk, [PING])[1:]
    finally:
        early.close()
        through_sdk.close()


@pytest.mark.parametrize("extra", [[], ["--discovery", "on"], ["--page-size", "2"]], ids=["all", "discovery", "pages"])
def test_early_answers_are_the_sdks_bytes(extra):
    early, through_sdk = both_ways(["serve", DEMO, *extra])
    assert len(early) >= 2
    assert early == through_sdk


def test_a_bundled_gateway_and_a_fixture_answer_the_same_both_ways():
    for args in (["serve", str(ROOT / "tool_specs" / "lium.yaml")], ["serve", str(FIXTURES / "echo.yaml")],
                 ["serve", str(FIXTURES / "jobs_profile.yaml")]):  # a job: tasks in capabilities and tools
        early, through_sdk = both_ways(args)
        assert early == through_sdk, args


@needs_shared_specs
@pytest.mark.parametrize("document", ["github.com_api.github.com.json", "stripe.com.json"])
def test_big_documents_answer_the_same_both_ways(document):
    early, through_sdk = both_ways(["serve", str(SPECS / "realworld" / document), "--discovery", "off"])
    assert len(json.loads(early[-1])["result"]["tools"]) > 400
    assert early == through_sdk


def test_the_session_goes_on_through_the_sdk_after_early_answers():
    stdio = RawStdio(["serve", str(FIXTURES / "echo.yaml"), "--base-url", "http://127.0.0.1:9"])
    try:
        assert stdio.ask(INITIALIZE)["result"]["protocolVersion"] == "2025-11-25"
        stdio.send(json.dumps(INITIALIZED))
        assert stdio.ask({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})["result"]["tools"]
        unknown = stdio.ask({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                             "params": {"name": "no_such_tool", "arguments": {}}})
        assert unknown["error"]["code"] == -32602 and "no_such_tool" in unknown["error"]["message"]
        second = stdio.ask({**INITIALIZE, "id": 3})  # a second initialize is the SDK's to answer
        assert second["id"] == 3
    finally:
        stdio.close()


def test_an_older_protocol_version_is_served_by_the_sdk_from_the_start():
    stdio = RawStdio(["serve", DEMO])
    try:
        old = {**INITIALIZE, "params": {**INITIALIZE["params"], "protocolVersion": "2025-06-18"}}
        assert stdio.ask(old)["result"]["protocolVersion"] == "2025-06-18"
        stdio.send(json.dumps(INITIALIZED))
        tools = stdio.ask({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})["result"]["tools"]
        assert {tool["name"] for tool in tools} >= {"list_pets"}
    finally:
        stdio.close()


def test_a_malformed_initialize_gets_the_sdks_error():
    stdio = RawStdio(["serve", DEMO])
    try:
        bad = {**INITIALIZE, "params": {**INITIALIZE["params"], "clientInfo": {"name": 5}}}
        answer = stdio.ask(bad)
        assert answer["id"] == 0 and answer["error"]["code"] == -32602
    finally:
        stdio.close()
