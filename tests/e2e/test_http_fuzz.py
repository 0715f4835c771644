"""Hostile requests over streamable HTTP, seeded and bounded: malformed JSON, wrong types, unknown methods and tools,
huge and deeply nested arguments, bad session ids, wrong content types and HTTP methods, in both eras. Each gets
the HTTP status its kind calls for, with a JSON-RPC error where one is owed, never a 5xx; the server serves after."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp_types import HEADER_MISMATCH, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND

from tests.common import FIXTURES
from tests.servers import serve_http, text_of

pytestmark = pytest.mark.anyio

ECHO = str(FIXTURES / "echo.yaml")
LIMIT = 64 * 1024
REQUESTS = 160
MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@dataclass
class Probe:
    """One request and what may answer it: the statuses, and the JSON-RPC outcome owed ("error", "result",
    "either", or None when the body need not be JSON-RPC)."""

    kind: str
    method: str
    headers: dict[str, str]
    body: bytes
    statuses: set[int]
    outcome: str | None = "error"
    codes: set[int] = field(default_factory=set)  # when given, the JSON-RPC error code is one of these


def envelope(rng: random.Random, method: str, params: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """Headers and body of a request in a random era: 2025-11-25 (no session: stateless) or 2026-07-28."""
    if rng.random() < 0.5:
        return dict(ACCEPT), {"jsonrpc": "2.0", "id": rng.randint(1, 10**6), "method": method, "params": params}
    headers = {**ACCEPT, "MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if isinstance(params.get("name"), str):
        headers["Mcp-Name"] = params["name"]
    return headers, {"jsonrpc": "2.0", "id": rng.randint(1, 10**6), "method": method,
                     "params": {**params, "_meta": META}}


def call(rng: random.Random, name: str, arguments: Any) -> tuple[dict[str, str], dict[str, Any]]:
    return envelope(rng, "tools/call", {"name": name, "arguments": arguments})


def encoded(message: Any) -> bytes:
    return json.dumps(message).encode()


def malformed_json(rng: random.Random) -> Probe:
    headers, body = call(rng, "getItem", {"id": "x"})
    text = encoded(body)
    choice = rng.choice(["cut", "bytes", "garbage"])
    broken = text[:rng.randint(1, len(text) - 1)] if choice == "cut" else bytes(
        rng.getrandbits(8) for _ in range(rng.randint(1, 64))) if choice == "bytes" else b"{'single': quotes,}"
    return Probe("malformed JSON", "POST", headers, broken, {400})


def wrong_types(rng: random.Random) -> Probe:
    headers, body = call(rng, "getItem", {"id": "x"})
    key, value = rng.choice([("id", {"nested": 1}), ("id", [1]), ("id", 1.5), ("id", True), ("method", 7),
                             ("params", "text"), ("params", [1, 2]), ("jsonrpc", "1.0"), ("jsonrpc", None)])
    body[key] = value
    # a request with an id of the wrong type is answered too (-32600), not taken for a notification (202)
    return Probe("wrong types", "POST", headers, encoded(body), {200, 400, 404}, "error")


def wrong_argument_types(rng: random.Random) -> Probe:
    arguments = rng.choice([{"id": {"a": 1}}, {"id": None}, {"id": ["x"]}, {"ids": "notalist", "id": "x"}, [1, 2],
                            "text", {"id": "x", "verbose": "perhaps"}, {"surplus": 1, "id": "x"}])
    headers, body = call(rng, "getItem", arguments)
    return Probe("wrong argument types", "POST", headers, encoded(body), {200, 400}, "either")


def unknown_method(rng: random.Random) -> Probe:
    headers, body = envelope(rng, rng.choice(["tools/frobnicate", "resources/list", "x", "rpc.discover"]), {})
    return Probe("unknown method", "POST", headers, encoded(body), {200, 404}, "error", {METHOD_NOT_FOUND})


def unknown_tool(rng: random.Random) -> Probe:
    name = rng.choice(["getitem", "nope", "", "a" * 300, "getItem\n", "../getItem", "ünïcode"])
    headers, body = call(rng, name, {})
    headers.pop("Mcp-Name", None)  # a name no header can carry, or one that need not be checked
    if name.isascii() and name.isprintable():
        headers["Mcp-Name"] = name
    return Probe("unknown tool", "POST", headers, encoded(body), {200, 400}, "error", {INVALID_PARAMS, HEADER_MISMATCH})


def huge(rng: random.Random) -> Probe:
    size = rng.choice([LIMIT + 1, LIMIT * 2, LIMIT * 20])
    headers, body = call(rng, "getItem", {"id": "x" * size})
    return Probe("over the body limit", "POST", headers, encoded(body), {413}, "error", {INVALID_REQUEST})


def large(rng: random.Random) -> Probe:
    headers, body = call(rng, "getItem", {"id": "y" * rng.randint(1000, LIMIT // 2)})
    return Probe("large argument", "POST", headers, encoded(body), {200}, "result")


def deeply_nested(rng: random.Random) -> Probe:
    depth = rng.choice([50, 500, 20_000])
    headers, body = call(rng, "postTree", {"name": "root", "children": "PLACEHOLDER"})
    nested = rng.choice(['{"name":"n","children":[' * depth + '{"name":"leaf"}' + "]}" * depth,
                         "[" * depth + "]" * depth])  # trees as the schema has them, or bare lists past any parser
    text = encoded(body).replace(b'"PLACEHOLDER"', b"[" + nested.encode() + b"]")
    if len(text) > LIMIT:
        return Probe("nested over the body limit", "POST", headers, text, {413}, "error")
    return Probe("deeply nested", "POST", headers, text, {200, 400}, "either")


def bad_session(rng: random.Random) -> Probe:
    headers, body = envelope(rng, "tools/list", {})
    headers["Mcp-Session-Id"] = rng.choice(["", "nope", "0" * 1000, "deadbeef" * 4, "\x7fbad", "../../etc"])
    return Probe("bad session id", "POST", headers, encoded(body), {200, 400, 404}, "either")


def wrong_content_type(rng: random.Random) -> Probe:
    headers, body = call(rng, "getItem", {"id": "x"})
    headers["Content-Type"] = rng.choice(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/xml", "jsonx"])
    return Probe("wrong content type", "POST", headers, encoded(body), {400, 415}, None)


def wrong_http_method(rng: random.Random) -> Probe:
    headers, _ = envelope(rng, "tools/list", {})
    return Probe("wrong HTTP method", rng.choice(["GET", "PUT", "PATCH", "DELETE"]), headers, b"", {405}, None)


KINDS: list[Callable[[random.Random], Probe]] = [
    malformed_json, wrong_types, wrong_argument_types, unknown_method, unknown_tool, huge, large, deeply_nested,
    bad_session, wrong_content_type, wrong_http_method]


def jsonrpc_replies(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an answer: its JSON body, or the data of its events."""
    kind = response.headers.get("content-type", "")
    if kind.startswith("text/event-stream"):
        return [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    if kind.startswith("application/json") and response.content:
        return [response.json()]
    return []


def problems(probe: Probe, response: httpx.Response) -> list[str]:
    found = []
    if response.status_code not in probe.statuses:
        found.append(f"status {response.status_code}, wanted one of {sorted(probe.statuses)}")
    replies = jsonrpc_replies(response)
    if probe.outcome is not None and response.status_code != 202:
        if len(replies) != 1 or replies[0].get("jsonrpc") != "2.0":
            found.append(f"no JSON-RPC answer: {response.text[:200]!r}")
        else:
            reply = replies[0]
            shape = "error" if "error" in reply else "result" if "result" in reply else "neither"
            if shape == "neither" or probe.outcome not in ("either", shape):
                found.append(f"a JSON-RPC {shape}, wanted {probe.outcome}: {response.text[:200]!r}")
            if shape == "error" and probe.codes and reply["error"].get("code") not in probe.codes:
                found.append(f"error code {reply['error'].get('code')}, wanted one of {sorted(probe.codes)}")
    return found


async def test_every_hostile_request_is_answered_and_the_server_goes_on(upstream) -> None:
    rng = random.Random(20261130)
    probes = [KINDS[number % len(KINDS)](rng) for number in range(REQUESTS)]
    failures: list[str] = []
    seen: set[tuple[str, int]] = set()
    async with serve_http([ECHO, "--base-url", upstream.url, "--max-request-bytes", str(LIMIT)]) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            for number, probe in enumerate(probes):
                response = await http.request(probe.method, url, headers=probe.headers, content=probe.body)
                failures += [f"#{number} {probe.kind}: {problem}" for problem in problems(probe, response)]
                seen.add((probe.kind, response.status_code))
            health = await http.get(url.replace("/mcp", "/healthz"))
        for mode in ("legacy", MODERN):
            async with Client(url, mode=mode) as client:
                result = await client.call_tool("getItem", {"id": "after"})
            assert not result.is_error, text_of(result)
    assert failures == []
    assert {("deeply nested", 400), ("over the body limit", 413), ("wrong HTTP method", 405)} <= seen, seen
    assert health.json() == {"status": "ok"}


async def test_a_request_whose_id_is_no_string_or_integer_is_answered_not_accepted(upstream) -> None:
    async with serve_http([ECHO, "--base-url", upstream.url]) as url, httpx.AsyncClient(timeout=30) as http:
        answers = []
        for request_id in (1.5, {"a": 1}, None, True):
            body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                    "params": {"name": "getItem", "arguments": {"id": "x"}}}
            answers.append(await http.post(url, headers=ACCEPT, content=json.dumps(body)))
        note = await http.post(url, headers=ACCEPT, content=json.dumps(
            {"jsonrpc": "2.0", "method": "notifications/initialized"}))
    for response in answers:
        assert response.status_code == 400
        assert response.json()["id"] is None and response.json()["error"]["code"] == INVALID_REQUEST
        assert "is no request id" in response.json()["error"]["message"]
    assert note.status_code == 202  # a real notification is still accepted
    assert upstream.requests == []
