"""Raw JSON-RPC lines on the real server's stdin: every line that is no message gets its error answer, and the
server keeps serving, in both protocol eras."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from mcp_types import INVALID_REQUEST, PARSE_ERROR

from tests.common import FIXTURES
from tests.servers import RawStdio

ECHO = str(FIXTURES / "echo.yaml")
ENVELOPE = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}
INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "raw", "version": "1"}}}


@pytest.fixture
def stdio() -> Iterator[RawStdio]:
    served = RawStdio(["serve", ECHO, "--base-url", "http://127.0.0.1:9"])
    yield served
    served.close()


def request(id_: int, method: str, params: dict[str, Any], era: str) -> dict[str, Any]:
    """A request of the given era: 2026-07-28 requests carry the protocol envelope in `_meta`."""
    if era != "legacy":
        params = {**params, "_meta": ENVELOPE}
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": params}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def start(stdio: RawStdio, era: str) -> None:
    """The handshake for a 2025-11-25 client; a 2026-07-28 client needs none."""
    if era == "legacy":
        assert stdio.ask(INITIALIZE)["id"] == 0
        stdio.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))


def test_every_line_that_is_no_message_is_answered_and_serving_goes_on(stdio, era):
    call = json.dumps(request(8, "tools/call", {"name": "getItem", "arguments": {"id": "x"}}, era))
    start(stdio, era)
    lines = [
        ('{"jsonrpc": "2.0", "id": 7, "method": "tools/list"', PARSE_ERROR, None, "EOF"),  # cut short
        (call.replace('"x"', nested(250)), PARSE_ERROR, 8, "recursion limit"),  # valid JSON, deeper than the SDK reads
        (call.replace('"x"', nested(5000)), PARSE_ERROR, None, "recursion limit"),  # deeper than Python reads
        (call.replace('"x"', '"\\ud800"').replace('"id": 8', '"id": 9'), PARSE_ERROR, 9, "params/arguments/id"),
        ("[1, 2]", INVALID_REQUEST, None, "one JSON object"),  # a batch: not part of MCP
        ('{"jsonrpc": "2.0", "id": 10, "method": 7}', INVALID_REQUEST, 10, "method"),
        ('{"jsonrpc": "1.0", "id": "eleven", "method": "tools/list"}', INVALID_REQUEST, "eleven", "jsonrpc"),
        ('{"jsonrpc": "2.0", "id": 0, "result": 5}', INVALID_REQUEST, None, ""),  # a response: its id is not ours
    ]
    for line, code, id_, words in lines:
        stdio.send(line)
        answer = stdio.answer()
        assert answer["jsonrpc"] == "2.0" and "result" not in answer, answer
        assert (answer["id"], answer["error"]["code"]) == (id_, code), (line[:80], answer)
        assert words in answer["error"]["message"]
    listed = stdio.ask(request(12, "tools/list", {}, era))
    assert listed["id"] == 12 and len(listed["result"]["tools"]) == 19
    assert stdio.process.poll() is None


def test_blank_lines_are_no_messages_and_get_no_answer(stdio, era):
    start(stdio, era)
    stdio.send("")
    stdio.send("   ")
    assert stdio.ask(request(1, "tools/list", {}, era))["id"] == 1
