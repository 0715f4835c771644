"""The stdio wire: the SDK's stdio transport over a stdin whose unreadable lines get their JSON-RPC error answer.

The SDK's transport turns a line it cannot read into an exception that its dispatcher only logs, so a client
that sent malformed JSON, nesting deeper than the SDK's parser allows (200 levels) or a lone surrogate waits
for its own timeout. JSON-RPC 2.0 wants an answer: -32700 for text that cannot be parsed, -32600 for JSON that
is not a message. The request's id goes back when it can be read (Python's parser reads lone surrogates and
deeper nesting), so the client's pending call ends at once; otherwise the id is null. A lone surrogate is
valid JSON text, but no UTF-8 text can hold it, so such a request is refused naming where it is rather than
altered. A request whose id is neither a string nor an integer is no notification either: it gets -32600 too.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol, cast

import anyio
import mcp_types as types
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from mcp_gateway.arguments import unsendable
from mcp_gateway.pipes import Pipes

log = logging.getLogger("mcp_gateway")


class Wire(Protocol):
    """Where answers go: the transport's write stream."""

    async def send(self, item: SessionMessage, /) -> None: ...


def _request_id(message: Any) -> types.RequestId | None:
    """A request's id when it can be read and written back, else None; a response's id is never taken, since it
    numbers one of the client's own requests and an error with it would settle that request."""
    if not isinstance(message, dict) or "method" not in message:
        return None
    found = message.get("id")
    if isinstance(found, bool) or not isinstance(found, int | str) or next(unsendable(found), None):
        return None
    return found


def _unsendable_at(message: Any) -> str | None:
    """Where the first value no UTF-8 text can carry lies in a parsed message, and why; None when nowhere."""
    try:
        found = next(unsendable(message), None)
    except RecursionError:
        return None
    if found is None:
        return None
    where, problem = found
    return f"{where or 'the message'}: {problem}"


def _id_error(line: str) -> types.JSONRPCError | None:
    """The answer to a line the SDK reads as a notification although it has an id: one that is neither a string nor
    an integer (null, a fraction, a boolean, an object). The SDK drops the id and, with it, the answer the client is
    waiting for; JSON-RPC wants an Invalid Request error, with a null id since this one cannot be written back."""
    message = json.loads(line)  # the SDK has read it: valid JSON, an object, nested no deeper than it allows
    if "id" not in message:
        return None
    shown = json.dumps(message["id"])
    shown = shown if len(shown) <= 40 else f"{shown[:40]}..."
    text = f"Invalid Request: id: {shown} is no request id; an id is a string or an integer"
    return types.JSONRPCError(jsonrpc="2.0", id=None, error=types.ErrorData(code=types.INVALID_REQUEST, message=text))


def line_error(line: str) -> types.JSONRPCError | None:
    """None for a line the SDK reads as a JSON-RPC message; else the error response that answers it."""
    try:
        read = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        return _id_error(line) if isinstance(read, types.JSONRPCNotification) else None
    except ValidationError as exc:
        by_shape: dict[tuple[Any, ...], list[ErrorDetails]] = {}  # one list per union member the SDK tried
        for error in exc.errors(include_url=False):
            by_shape.setdefault(tuple(error["loc"][:1]), []).append(error)
        problem = min(by_shape.values(), key=len)[0]  # the shape the line comes closest to
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        message = None
    if problem["type"] == "json_invalid":
        code, text = types.PARSE_ERROR, f"Parse error: {_unsendable_at(message) or problem['msg']}"
    elif isinstance(message, dict):
        where = ".".join(str(part) for part in problem["loc"][1:]) or "the message"
        code, text = types.INVALID_REQUEST, f"Invalid Request: {where}: {problem['msg']}"
    else:
        code, text = types.INVALID_REQUEST, "Invalid Request: a JSON-RPC 2.0 message is one JSON object"
    return types.JSONRPCError(jsonrpc="2.0", id=_request_id(message), error=types.ErrorData(code=code, message=text))


class CheckedLines:
    """Stdin lines for the SDK's transport: lines it can read pass through untouched, any other is answered here."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines
        self._wire: Wire | None = None
        self._attached = anyio.Event()

    def answer_on(self, wire: Wire) -> None:
        """Answer on `wire`, the transport's write stream, which exists only once the transport runs."""
        self._wire = wire
        self._attached.set()

    async def __aiter__(self) -> AsyncIterator[str]:
        async for line in self._lines:
            if not line.strip():
                continue  # no message at all: nothing to answer
            error = line_error(line)
            if error is None:
                yield line
                continue
            log.warning("stdin: answered a line that is no JSON-RPC message with %d (%s)", error.error.code,
                        error.error.message)
            await self._attached.wait()
            assert self._wire is not None  # set together with the event
            await self._wire.send(SessionMessage(error))


@asynccontextmanager
async def checked_stdio_server(pipes: Pipes | None) -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's `stdio_server` reading stdin through `CheckedLines`: over `pipes` (served by the event loop)
    when given, else through the SDK's worker threads (stdout claimed as it does)."""
    if pipes is not None:
        stdin = CheckedLines(pipes.lines)
        async with stdio_server(stdin=cast(anyio.AsyncFile[str], stdin),
                                stdout=cast(anyio.AsyncFile[str], pipes.stdout)) as (read_stream, write_stream):
            stdin.answer_on(write_stream)
            yield read_stream, write_stream
        return
    if isinstance(sys.stdin, io.TextIOWrapper):  # the SDK's own choice: UTF-8 whatever the locale says
        sys.stdin.reconfigure(encoding="utf-8", errors="replace")
    stdin = CheckedLines(aiter(anyio.wrap_file(sys.stdin)))
    async with stdio_server(stdin=cast(anyio.AsyncFile[str], stdin)) as (read_stream, write_stream):
        stdin.answer_on(write_stream)
        yield read_stream, write_stream
