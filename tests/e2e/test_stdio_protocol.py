"""Raw JSON-RPC lines on the real server's stdin: every line that is no message gets its error answer, and the
server keeps serving, in both protocol eras."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from mcp_types import INVALID_REQUEST, PARSE_ERROR

from tests.common import FIXTURES, ROOT, server_env
from tests.servers import GATEWAY

ECHO = str(FIXTURES / "echo.yaml")
ENVELOPE = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}
INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "raw", "version": "1"}}}


class RawStdio:
    """The server as a subprocess: lines written to its stdin, lines read from its stdout within a time bound."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [*GATEWAY, "serve", ECHO, "--base-url", "http://127.0.0.1:9"], env=server_env(), cwd=str(ROOT),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def answer(self, timeout: float = 15) -> dict[str, Any]:
        """The next line on stdout, parsed (stdout carries JSON-RPC and nothing else)."""
        try:
            return json.loads(self._lines.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(f"no answer within {timeout} s") from None

    def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        self.send(json.dumps(message))
        return self.answer()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def stdio() -> Iterator[RawStdio]:
    served = RawStdio()
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
