"""Plain tool calls answered beside the SDK on stdio (fast_calls.py) are the SDK's own bytes.

The same calls are made in a session opened with `initialize` (its plain calls answered without the SDK's
dispatcher) and in one opened with `ping` (which only the SDK answers, so that it serves the whole session): every
answer must be byte for byte the same. A cancelled plain call is stopped and answered with nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.common import FIXTURES
from tests.servers import RawStdio
from tests.upstream import RecordingUpstream

INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "raw", "version": "1"}}}
PING = {"jsonrpc": "2.0", "id": "ping", "method": "ping"}
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("getItem", {"id": "x", "verbose": True, "tags": ["a", "b"], "filter": {"kind": "tool"}}),
    ("getItem", {"id": "x", "_select": "path"}),
    ("getItem", {"id": 5}),  # a wrong type: an isError result, nothing sent
    ("getItem", {}),  # a missing argument
    ("getText", {}), ("getImage", {}), ("getBytes", {}), ("getArray", {}), ("getNotJson", {}),
    ("getStatus", {"code": 404}), ("getStatus", {"code": 400}),
    ("deleteItem", {"id": "gone"}),
    ("putItem", {"id": "x", "name": "new"}),
    ("nope", {}),  # an unknown tool: a JSON-RPC error, from the SDK either way
]


def answers(args: list[str], opening: list[dict[str, Any]]) -> list[bytes]:
    stdio = RawStdio(args)
    try:
        for message in [*opening, INITIALIZE]:
            stdio.send(json.dumps(message))
            stdio.line()
        stdio.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        got = []
        for number, (name, arguments) in enumerate(CALLS, start=1):
            stdio.send(json.dumps({"jsonrpc": "2.0", "id": number, "method": "tools/call",
                                   "params": {"name": name, "arguments": arguments}}))
            got.append(stdio.line())
        return got
    finally:
        stdio.close()


def test_plain_calls_are_answered_in_the_sdks_bytes(upstream: RecordingUpstream) -> None:
    args = ["serve", str(FIXTURES / "echo.yaml"), "--base-url", upstream.url]
    beside, through_sdk = answers(args, []), answers(args, [PING])
    assert len(beside) == len(CALLS)
    assert beside == through_sdk
    assert json.loads(beside[0])["result"]["structuredContent"]["path"] == "/items/x"
    assert json.loads(beside[-1])["error"]["code"] == -32602


def test_a_cancelled_plain_call_is_stopped_and_not_answered(upstream: RecordingUpstream) -> None:
    stdio = RawStdio(["serve", str(FIXTURES / "echo.yaml"), "--base-url", upstream.url])
    try:
        stdio.ask(INITIALIZE)
        stdio.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        stdio.send(json.dumps({"jsonrpc": "2.0", "id": "slow", "method": "tools/call",
                               "params": {"name": "getSlow", "arguments": {}}}))  # the upstream takes 3 s
        deadline = time.monotonic() + 15
        while not upstream.requests and time.monotonic() < deadline:  # the call is under way upstream
            time.sleep(0.05)
        stdio.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/cancelled",
                               "params": {"requestId": "slow", "reason": "the user gave up"}}))
        answer = stdio.ask({"jsonrpc": "2.0", "id": "next", "method": "tools/call",
                            "params": {"name": "getItem", "arguments": {"id": "y"}}})
        assert answer["id"] == "next"  # the cancelled call's answer did not come first
        assert stdio.ask({"jsonrpc": "2.0", "id": "p", "method": "ping"}) == {"jsonrpc": "2.0", "id": "p", "result": {}}
        with pytest.raises(AssertionError, match="no answer"):
            stdio.line(timeout=3)  # nor later, once the upstream had answered
    finally:
        stdio.close()
    assert [record.raw_path for record in upstream.requests] == ["/slow", "/items/y"]
