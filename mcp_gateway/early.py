"""The first answers on stdio, given before the MCP SDK is loaded: the handshake and the tool list.

Loading the SDK takes about 0.3 s, most of a start from the compile cache, and a client's `initialize` and
first tools/list need none of it. They are answered here from the catalog, in the very bytes the SDK writes
(a test compares the two). Once the list is out, or at the first message of any other kind, the SDK is loaded
and shown the handshake, with its own answer to `initialize` held back (so that it knows the session as if it
had served it from the start, and can tell the client when the tool list changes); from then on it answers
everything but the plain tool calls (fast_calls.py). Only the latest handshake version is
answered here (older versions list fewer tool fields; the 2026-07-28 era has no handshake): any other opening
goes to the SDK from its first message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import anyio
import pydantic_core
from pydantic import ValidationError

from mcp_gateway import __version__
from mcp_gateway.gateway import Gateway
from mcp_gateway.pipes import Pipes, PipeStdout, stdio_pipes

log = logging.getLogger("mcp_gateway")

SERVER_NAME = "mcp-gateway"
TOOLS_LIST_CHANGED = True  # the server says when its tool list changes (a refreshed document)

RequestId = int | str
_ENVELOPE = {"jsonrpc", "id", "method", "params"}
_INITIALIZE_PARAMS = {"protocolVersion", "capabilities", "clientInfo"}
HANDSHAKE_VERSION = "2025-11-25"  # the SDK's latest handshake version (mcp_types, which a test compares)
# client capabilities in the shapes most clients send, which the SDK's model accepts (a test checks): with these
# the handshake is answered without loading mcp_types (some 80 ms); anything else is checked with the model
_PLAIN_CAPABILITIES: dict[str, dict[str, type]] = {"roots": {"listChanged": bool},
                                                   "sampling": {"context": dict, "tools": dict},
                                                   "elicitation": {"form": dict, "url": dict}}
_PLAIN_CLIENT_INFO = {"name", "version", "title"}
# what a 2025-11-25 server that makes tasks of tool calls says of them (listed, cancellable, from tools/call), in the
# SDK's order; the SDK's model of it is made from this too (task_protocol.py)
TASKS_CAPABILITY: dict[str, Any] = {"cancel": {}, "list": {}, "requests": {"tools": {"call": {}}}}


def frame(request_id: RequestId, result: dict[str, Any]) -> bytes:
    """A JSON-RPC response line as the SDK's stdio transport writes it."""
    return pydantic_core.to_json({"jsonrpc": "2.0", "id": request_id, "result": result}) + b"\n"


# How the SDK's result check writes a 2025-11-25 tool (mcp_types' wire models of that version): the fields a
# model declares in their declared order, then, where the model keeps unknown fields, those in the order given;
# no null field.
_TOOL_FIELDS = ("_meta", "annotations", "description", "execution", "icons", "inputSchema", "name", "outputSchema",
                "title")
_SCHEMA_FIELDS = ("$schema", "properties", "required", "type")
_ANNOTATION_FIELDS = ("destructiveHint", "idempotentHint", "openWorldHint", "readOnlyHint", "title")


def _ordered(fields: dict[str, Any], declared: tuple[str, ...], keep_others: bool) -> dict[str, Any]:
    """`fields` in a wire model's order, without nulls."""
    ordered = {name: fields[name] for name in declared if fields.get(name) is not None}
    if keep_others:
        ordered.update((name, value) for name, value in fields.items() if name not in ordered and value is not None)
    return ordered


def _wire_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """One tool as the SDK writes it in a 2025-11-25 tools/list result."""
    nested = {"inputSchema": (_SCHEMA_FIELDS, True), "outputSchema": (_SCHEMA_FIELDS, True),
              "annotations": (_ANNOTATION_FIELDS, False)}
    shaped = dict(tool)
    for name, (declared, keep_others) in nested.items():
        if isinstance(shaped.get(name), dict):
            shaped[name] = _ordered(shaped[name], declared, keep_others)
    return _ordered(shaped, _TOOL_FIELDS, keep_others=False)


def plain_initialize(params: dict[str, Any]) -> bool:
    """Whether `initialize` params are in the plain shapes of `_PLAIN_CAPABILITIES` and `_PLAIN_CLIENT_INFO`: string
    client info, and capabilities whose fields are booleans or empty objects where the SDK's model has them."""
    info, capabilities = params.get("clientInfo"), params.get("capabilities")
    if not isinstance(info, dict) or not set(info) <= _PLAIN_CLIENT_INFO or "name" not in info \
            or "version" not in info or not all(isinstance(value, str) for value in info.values()):
        return False
    if not isinstance(capabilities, dict) or not set(capabilities) <= set(_PLAIN_CAPABILITIES):
        return False
    for name, fields in capabilities.items():
        shapes = _PLAIN_CAPABILITIES[name]
        if not isinstance(fields, dict) or not set(fields) <= set(shapes):
            return False
        for field, value in fields.items():
            if type(value) is not shapes[field] or (shapes[field] is dict and value):
                return False
    return True


def _request_id(message: dict[str, Any]) -> RequestId | None:
    """The id of a request that can be answered here: an integer or a string."""
    found = message.get("id")
    return found if isinstance(found, int | str) and not isinstance(found, bool) else None


class Handshake:
    """Answers `initialize` and tools/list until the first message of another kind; keeps what the SDK must
    be shown before it takes over."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        # the handshake's lines, for the SDK to see (tools/list is not replayed: its answer holds no state, and the
        # SDK's would cost a second serialisation of the whole list, in time and in peak memory)
        self.replay: list[str] = []
        self.held: dict[RequestId, bytes] = {}  # the answers given here, which the SDK will give again
        self.listed = False  # the whole tool list has been sent

    def answer(self, line: str) -> bytes | None:
        """The answer to one line (empty for a notification), or None when the SDK must answer it."""
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):  # nesting deeper than Python's parser goes, too: the SDK answers it
            return None
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or not set(message) <= _ENVELOPE:
            return None
        method, params = message.get("method"), message.get("params")
        if not self.replay:
            return self._initialize(line, message) if method == "initialize" else None
        if method == "notifications/initialized" and "id" not in message and not params:
            self.replay.append(line)
            return b""
        if method == "tools/list":
            return self._tools(message)
        return None

    def _answered(self, line: str, request_id: RequestId, answer: bytes) -> None:
        self.replay.append(line)
        self.held[request_id] = answer

    def _initialize(self, line: str, message: dict[str, Any]) -> bytes | None:
        params, request_id = message.get("params"), _request_id(message)
        if request_id is None or not isinstance(params, dict) or set(params) != _INITIALIZE_PARAMS:
            return None
        if params["protocolVersion"] != HANDSHAKE_VERSION:
            return None
        if not plain_initialize(params):
            import mcp_types as types

            try:
                types.InitializeRequestParams.model_validate(params, by_name=False)
            except ValidationError:
                return None  # the SDK words the error
        capabilities: dict[str, Any] = {}  # as GatewayServer says them, in the SDK's order (by name)
        if self.gateway.has_jobs:
            capabilities["tasks"] = TASKS_CAPABILITY
        capabilities["tools"] = {"listChanged": TOOLS_LIST_CHANGED}
        result = {
            "capabilities": capabilities,
            "instructions": self.gateway.instructions,
            "protocolVersion": HANDSHAKE_VERSION,
            "serverInfo": {"name": SERVER_NAME, "version": __version__},
        }
        answer = frame(request_id, result)
        self._answered(line, request_id, answer)
        return answer

    def _tools(self, message: dict[str, Any]) -> bytes | None:
        params, request_id = message.get("params"), _request_id(message)
        if request_id is None or (params is not None and not (isinstance(params, dict) and set(params) <= {"cursor"})):
            return None
        cursor = params.get("cursor") if params else None
        if cursor is not None and not isinstance(cursor, str):
            return None
        try:
            tools, next_cursor = self.gateway.catalog.page(cursor)
        except ValueError:
            return None  # the SDK words the error
        result: dict[str, Any] = {}  # in the wire model's order: nextCursor, then tools
        if next_cursor is not None:
            result["nextCursor"] = next_cursor
        else:
            self.listed = True
        result["tools"] = [_wire_tool(tool) for tool in tools]
        return frame(request_id, result)


class HeldBack:
    """Stdout for the SDK once it takes over: its answers to the requests answered here are not sent again
    (one that differs is logged, as a sign that the early answer went wrong)."""

    def __init__(self, stdout: PipeStdout, held: dict[RequestId, bytes]) -> None:
        self._stdout = stdout
        self._held = dict(held)

    async def write(self, text: str) -> None:
        if self._held:
            request_id = json.loads(text).get("id")
            sent = self._held.pop(request_id, None) if isinstance(request_id, int | str) else None
            if sent is not None:
                if text.encode("utf-8") != sent:
                    log.warning("the SDK answered request %r differently from the early answer: %.300s",
                                request_id, text)
                return
        await self._stdout.write(text)

    async def flush(self) -> None:
        await self._stdout.flush()


async def _chained(first: Iterable[str], rest: AsyncIterator[str]) -> AsyncIterator[str]:
    for line in first:
        yield line
    async for line in rest:
        yield line


async def serve_stdio(gateway: Gateway, after_list: Callable[[], None] = lambda: None) -> None:
    """Serve on stdin/stdout: the handshake and the tool list from here, then everything through the SDK;
    `after_list` runs once they are answered (or the client left), before the SDK loads."""
    async with stdio_pipes() as pipes:
        if pipes is None:  # stdin or stdout is a regular file: the SDK's threads serve it all
            from mcp_gateway.server import serve_stdio as serve_with_sdk

            after_list()
            await serve_with_sdk(gateway, None)
            return
        stdin, stdout = pipes
        handshake = Handshake(gateway)
        unanswered: list[str] = []
        async for line in stdin:
            answer = handshake.answer(line)
            if answer is None:
                unanswered.append(line)
                break
            if answer:
                await stdout.send(answer)
            if handshake.listed:
                break
        else:  # the client left before anything the SDK is needed for
            after_list()
            await gateway.aclose()
            return
        after_list()
        from mcp_gateway.fast_calls import FastCalls
        from mcp_gateway.server import serve_stdio as serve_with_sdk

        lines = _chained([*handshake.replay, *unanswered], stdin)
        async with anyio.create_task_group() as calls:
            if handshake.replay:  # a 2025-11-25 session: its plain tool calls need nothing of the SDK
                lines = FastCalls(gateway, stdout, calls).filter(lines)
            await serve_with_sdk(gateway, Pipes(lines, HeldBack(stdout, handshake.held)))
