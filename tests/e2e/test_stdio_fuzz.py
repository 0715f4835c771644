"""Hostile lines on the real server's stdin, before and after the handshake: malformed JSON, invalid UTF-8, JSON that
is no JSON-RPC, wrong types, unknown methods and tools, a batch, huge and deeply nested arguments, notifications
nobody knows. Every request gets its JSON-RPC error (or, for a tool's own failure, an isError result), with its id
when it can be read; no notification is answered; and the server serves a ping, the tool list and a real call after
all of it. Every read is bounded, so a server that hangs fails the test instead of stalling it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from mcp_types import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR

from tests.common import FIXTURES
from tests.servers import RawStdio
from tests.upstream import RecordingUpstream

ECHO = str(FIXTURES / "echo.yaml")
TOOLS = 19  # in echo.yaml
HUGE = 5 << 20  # characters in the huge argument
DEEP = 10_000  # levels of nesting no JSON parser here reads
TREE = 40  # levels of the Node schema (80 of JSON) that the SDK reads and the call sends on
INITIALIZE = {"jsonrpc": "2.0", "id": "init", "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "fuzz", "version": "1"}}}
RESULT, TOOL_ERROR = "result", "isError"  # a plain result; a tools/call result with isError true


@dataclass(frozen=True)
class Probe:
    """One line and what it is owed: a JSON-RPC error code, a RESULT or a TOOL_ERROR, with `id` on the answer; or
    None: no answer at all (a notification, or a response to a request the server never sent)."""

    kind: str
    line: bytes
    owed: int | str | None
    id: int | str | None = None


def rpc(id_: Any, method: Any, params: Any = None) -> bytes:
    message = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def call(id_: int, name: str, arguments: Any) -> bytes:
    return rpc(id_, "tools/call", {"name": name, "arguments": arguments})


def nested_in_call(id_: int, opening: str, closing: str, depth: int) -> bytes:
    """A postTree call whose `children` is `depth` levels of `opening`...`closing`."""
    return call(id_, "postTree", {"name": "root", "children": "HERE"}).replace(
        b'"HERE"', (opening * depth + closing * depth).encode())


def tree(depth: int) -> dict[str, Any]:
    """A Node of echo.yaml's schema, `depth` levels deep."""
    node: dict[str, Any] = {"name": "leaf"}
    for _ in range(depth):
        node = {"name": "node", "children": [node]}
    return node


# Answered alike before and after the handshake: the line is no message the SDK can read, or no method it has.
ALWAYS = [
    Probe("cut short", b'{"jsonrpc": "2.0", "id": 1, "method": "ping"', PARSE_ERROR),
    Probe("not JSON", b"hello, server", PARSE_ERROR),
    Probe("single quotes", b"{'jsonrpc': '2.0', 'id': 2, 'method': 'ping'}", PARSE_ERROR),
    Probe("binary garbage", bytes(range(0x80, 0x100)) + b"\x00\x01\x02", PARSE_ERROR),
    Probe("invalid UTF-8 around JSON", b'\xff\xfe{"jsonrpc": "2.0", "id": 3, "method": "ping"}\xc3', PARSE_ERROR),
    Probe("a number", b"42", INVALID_REQUEST),
    Probe("a string", b'"tools/list"', INVALID_REQUEST),
    Probe("null", b"null", INVALID_REQUEST),
    Probe("an object that is no message", b'{"hello": "world"}', INVALID_REQUEST),
    Probe("no jsonrpc member", b'{"id": 4, "method": "ping"}', INVALID_REQUEST, 4),
    Probe("jsonrpc 1.0", b'{"jsonrpc": "1.0", "id": 5, "method": "ping"}', INVALID_REQUEST, 5),
    Probe("an id but no method", b'{"jsonrpc": "2.0", "id": 6}', INVALID_REQUEST),
    Probe("params as a list", rpc(7, "tools/list", [1, 2]), INVALID_REQUEST, 7),
    Probe("params as a string", rpc(8, "tools/call", "getItem"), INVALID_REQUEST, 8),
    Probe("method as a number", rpc(9, 7), INVALID_REQUEST, 9),
    Probe("method as null", rpc(10, None), INVALID_REQUEST, 10),
    Probe("id as an object", rpc({"nested": 1}, "ping"), INVALID_REQUEST),
    Probe("id as a list", rpc([11], "ping"), INVALID_REQUEST),
    Probe("id as a fraction", rpc(11.5, "ping"), INVALID_REQUEST),
    Probe("id as a boolean", rpc(True, "ping"), INVALID_REQUEST),
    Probe("id as null", rpc(None, "tools/list"), INVALID_REQUEST),
    Probe("a batch", b"[" + rpc(12, "ping") + b", " + rpc(13, "tools/list") + b"]", INVALID_REQUEST),
    Probe("an empty batch", b"[]", INVALID_REQUEST),
    Probe("unknown method", rpc(14, "tools/frobnicate", {}), METHOD_NOT_FOUND, 14),
    Probe("a method the server lacks", rpc("resources", "resources/list"), METHOD_NOT_FOUND, "resources"),
    Probe("an empty method", rpc(15, ""), METHOD_NOT_FOUND, 15),
    Probe("nested past any parser, lists", nested_in_call(16, "[", "]", DEEP), PARSE_ERROR),
    Probe("nested past any parser, objects", nested_in_call(17, '{"a":', "}", DEEP - 1).replace(
        b'{"a":}', b'{"a":1}'), PARSE_ERROR),
    Probe("nested past the SDK's parser", nested_in_call(18, "[", "]", 300), PARSE_ERROR, 18),
    Probe("an unknown notification", b'{"jsonrpc": "2.0", "method": "notifications/whatever"}', None),
    Probe("a notification of no kind", b'{"jsonrpc": "2.0", "method": "frobnicate", "params": {"a": [1]}}', None),
    Probe("a cancellation of nothing", b'{"jsonrpc": "2.0", "method": "notifications/cancelled", '
                                       b'"params": {"requestId": {"not": "an id"}}}', None),
    Probe("a response to nothing", b'{"jsonrpc": "2.0", "id": 99, "result": {}}', None),
    Probe("blank", b"   ", None),
]

# Before `initialize` the SDK serves only ping: the methods it has are refused with invalid params.
BEFORE = [
    Probe("tools/list too early", rpc(20, "tools/list"), INVALID_PARAMS, 20),
    Probe("unknown tool too early", call(21, "nope", {}), INVALID_PARAMS, 21),
    Probe("huge argument too early", call(22, "createItem", {"name": "n" * HUGE}), INVALID_PARAMS, 22),
    Probe("invalid UTF-8 in a string", b'{"jsonrpc": "2.0", "id": 23, "method": "ping", '
                                       b'"params": {"_meta": {"note": "\xff\xfe"}}}', RESULT, 23),
]

AFTER = [
    Probe("unknown tool", call(30, "getitem", {}), INVALID_PARAMS, 30),
    Probe("a tool name that is no name", call(31, "../getItem\n\x00", {}), INVALID_PARAMS, 31),
    Probe("tool name as a number", rpc(32, "tools/call", {"name": 5, "arguments": {}}), INVALID_PARAMS, 32),
    Probe("no tool name", rpc(33, "tools/call", {"arguments": {}}), INVALID_PARAMS, 33),
    Probe("arguments as a list", call(34, "getItem", ["x"]), INVALID_PARAMS, 34),
    Probe("arguments as a string", call(35, "getItem", "x"), INVALID_PARAMS, 35),
    Probe("an argument of the wrong type", call(36, "getItem", {"id": {"a": 1}}), TOOL_ERROR, 36),
    Probe("a misspelt argument", call(37, "getItem", {"id": "x", "verbos": True}), TOOL_ERROR, 37),
    Probe("a required argument missing", call(38, "getItem", {}), TOOL_ERROR, 38),
    Probe("a huge argument in the path", call(39, "getItem", {"id": "x" * HUGE}), TOOL_ERROR, 39),
    Probe("a huge argument of the wrong type", call(40, "createItem", {"name": ["n" * HUGE]}), TOOL_ERROR, 40),
    Probe("a huge argument in the body", call(41, "createItem", {"name": "n" * HUGE}), RESULT, 41),
    Probe("a deep tree within the SDK's parser", call(42, "postTree", tree(TREE)), RESULT, 42),
    Probe("a deep list where a tree goes", nested_in_call(43, "[", "]", 60), TOOL_ERROR, 43),
    Probe("tools/list with a bad cursor", rpc(44, "tools/list", {"cursor": "not-a-cursor"}), INVALID_PARAMS, 44),
    Probe("tools/list with a cursor of the wrong type", rpc(45, "tools/list", {"cursor": 7}), INVALID_PARAMS, 45),
    Probe("initialize again, malformed", rpc(46, "initialize", {"protocolVersion": 5}), INVALID_PARAMS, 46),
    Probe("a call whose id is a fraction", rpc(47.5, "tools/call", {"name": "getItem", "arguments": {"id": "x"}}),
          INVALID_REQUEST),
    Probe("a call with a member JSON-RPC lacks", call(48, "getItem", {"id": "x"}).replace(b"{", b'{"extra": 1, ', 1),
          RESULT, 48),
]

# The first line a server reads goes through early.py's handshake reader before the SDK is loaded.
FIRST_LINES = [probe for probe in ALWAYS if probe.kind in {
    "binary garbage", "cut short", "nested past any parser, lists", "nested past any parser, objects", "a batch",
    "id as an object", "params as a list", "an unknown notification"}]


@pytest.fixture
def stdio(upstream: RecordingUpstream) -> Iterator[RawStdio]:
    served = RawStdio(["serve", ECHO, "--base-url", upstream.url])
    yield served
    served.close()


def problems(stdio: RawStdio, probe: Probe, number: int) -> list[str]:
    """What is wrong with the answer to `probe` (none when it is the one owed). A probe owed no answer is followed by
    a ping, whose answer must be the next line."""
    stdio.send(probe.line)
    if probe.owed is None:
        pong = stdio.ask({"jsonrpc": "2.0", "id": f"pong-{number}", "method": "ping"})
        return [] if pong == {"jsonrpc": "2.0", "id": f"pong-{number}", "result": {}} else [f"answered: {pong}"]
    answer = stdio.answer()
    found = []
    if answer.get("jsonrpc") != "2.0" or answer.get("id") != probe.id:
        found.append(f"id {answer.get('id')!r}, wanted {probe.id!r}")
    if isinstance(probe.owed, int):
        code = answer.get("error", {}).get("code")
        if code != probe.owed or not answer["error"].get("message"):
            found.append(f"error code {code}, wanted {probe.owed}")
    else:
        result = answer.get("result")
        if not isinstance(result, dict) or bool(result.get("isError")) != (probe.owed == TOOL_ERROR):
            found.append(f"not a {probe.owed} result")
    return [f"{probe.kind}: {problem}: {json.dumps(answer)[:300]}" for problem in found]


def initialize(stdio: RawStdio) -> None:
    assert stdio.ask(INITIALIZE)["result"]["protocolVersion"] == "2025-11-25"
    stdio.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))


def still_serving(stdio: RawStdio, upstream: RecordingUpstream) -> None:
    """A ping, the whole tool list and a real call through to the upstream."""
    assert stdio.ask({"jsonrpc": "2.0", "id": "ping", "method": "ping"}) == {"jsonrpc": "2.0", "id": "ping",
                                                                               "result": {}}
    assert len(stdio.ask(json.loads(rpc("list", "tools/list")))["result"]["tools"]) == TOOLS
    called = stdio.ask(json.loads(call(1000, "getItem", {"id": "after-all"})))
    assert called["result"]["structuredContent"]["path"] == "/items/after-all", called
    assert upstream.last.raw_path == "/items/after-all"
    assert stdio.process.poll() is None


def test_every_hostile_line_is_answered_before_and_after_the_handshake(stdio, upstream):
    found = [problem for number, probe in enumerate(ALWAYS + BEFORE) for problem in problems(stdio, probe, number)]
    initialize(stdio)
    found += [problem for number, probe in enumerate(ALWAYS + AFTER) for problem in problems(stdio, probe, number)]
    assert found == []
    body = next(request.body for request in upstream.requests if request.raw_path == "/items")
    assert len(body) > HUGE  # the huge argument arrived whole
    depth = json.dumps(next(request.json() for request in upstream.requests if request.raw_path == "/tree"))
    assert depth.count("[") == TREE
    still_serving(stdio, upstream)


def test_a_hostile_first_line_is_answered_and_the_handshake_follows(upstream):
    servers = [RawStdio(["serve", ECHO, "--base-url", upstream.url]) for _ in FIRST_LINES]  # they start together
    try:
        found = []
        for number, (probe, stdio) in enumerate(zip(FIRST_LINES, servers, strict=True)):
            found += problems(stdio, probe, number)
            initialize(stdio)
            still_serving(stdio, upstream)
        assert found == []
    finally:
        for stdio in servers:
            stdio.close()
