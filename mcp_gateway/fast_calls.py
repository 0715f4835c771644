"""Plain tools/call requests on stdio answered beside the SDK, in its exact bytes, without its dispatcher.

After the handshake the SDK serves the session; a tools/call that needs nothing of it (2025-11-25, no `_meta`, so no
progress token or task; a tool that is neither confirm-listed nor a job's) is answered here: the gateway's result is
shaped by the SDK's own 2025-11-25 result check and framed as its stdio transport frames it, logged and counted as
its middleware would. A `notifications/cancelled` for such a call stops it, and no answer is sent. Every other line
goes to the SDK unchanged. At the end of stdin the calls in flight are finished before the SDK hears of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import mcp_types as types
import pydantic_core
from anyio.abc import TaskGroup
from mcp_types.methods import serialize_server_result

from mcp_gateway.confirm import confirm_wanted
from mcp_gateway.discovery import CALL, META
from mcp_gateway.early import HANDSHAKE_VERSION, frame
from mcp_gateway.gateway import Gateway
from mcp_gateway.observe import CallObserver
from mcp_gateway.pipes import PipeStdout

log = logging.getLogger("mcp_gateway")

RequestId = int | str
_REQUEST_KEYS = {"jsonrpc", "id", "method", "params"}


class FastCalls:
    """Takes the plain tool calls out of stdin's lines and answers them on stdout, in `group`."""

    def __init__(self, gateway: Gateway, stdout: PipeStdout, group: TaskGroup) -> None:
        self.gateway = gateway
        self.stdout = stdout
        self.group = group
        self.observer = CallObserver(gateway)
        self.running: dict[RequestId, anyio.CancelScope] = {}
        self._idle = anyio.Event()
        self._idle.set()

    async def filter(self, lines: AsyncIterator[str]) -> AsyncIterator[str]:
        """The lines the SDK is to see; at their end, once the calls taken here have been answered."""
        async for line in lines:
            if not self._taken(line):
                yield line
        await self._idle.wait()

    def _taken(self, line: str) -> bool:
        """Whether this line was a plain tool call (now being answered) or the cancellation of one."""
        if '"tools/call"' not in line and '"notifications/cancelled"' not in line:
            return False  # the common case, without parsing
        try:
            message = pydantic_core.from_json(line)  # the SDK's parser: what it refuses is left to it to word
        except ValueError:
            return False
        if not isinstance(message, dict):
            return False
        if message.get("method") == "notifications/cancelled":
            return self._cancelled(message)
        call = self._plain_call(message)
        if call is None:
            return False
        request_id, name, arguments = call
        scope = anyio.CancelScope()
        self.running[request_id] = scope
        self._idle = anyio.Event()
        self.group.start_soon(self._answer, request_id, name, arguments, scope)
        return True

    def _plain_call(self, message: dict[str, Any]) -> tuple[RequestId, str, dict[str, Any]] | None:
        """The id, tool and arguments of a tools/call this module may answer; None for anything else."""
        request_id, params = message.get("id"), message.get("params")
        if (set(message) != _REQUEST_KEYS or message.get("jsonrpc") != "2.0" or message.get("method") != "tools/call"
                or not isinstance(request_id, int | str) or isinstance(request_id, bool) or request_id in self.running
                or not isinstance(params, dict) or not set(params) <= {"name", "arguments"}):
            return None
        name, arguments = params.get("name"), params.get("arguments", {})
        if not isinstance(name, str) or not isinstance(arguments, dict):
            return None
        target: Any = name
        if self.gateway.discovery is not None and name in META:
            if name != CALL:
                return request_id, name, arguments  # search and describe: local and plain
            target = arguments.get("name")  # call_operation: the operation it calls
        entry = self.gateway.catalog.get(target) if isinstance(target, str) else None
        if entry is None:
            return None  # the SDK words the unknown tool
        tool, api = entry
        if tool.job is not None or confirm_wanted(api.profile, tool):
            return None  # progress, tasks and elicitation belong to the SDK's session
        return request_id, name, arguments

    def _cancelled(self, message: dict[str, Any]) -> bool:
        """Stop a call taken here that the client cancelled; other cancellations are the SDK's."""
        params = message.get("params")
        request_id = params.get("requestId") if isinstance(params, dict) else None
        scope = self.running.get(request_id) if isinstance(request_id, int | str) else None
        if scope is None:
            return False
        scope.cancel()
        return True

    async def _answer(self, request_id: RequestId, name: str, arguments: dict[str, Any],
                      scope: anyio.CancelScope) -> None:
        started = time.perf_counter()
        status, wire = "failed", None
        try:
            with scope:
                result = await self.gateway.call(name, arguments)
                assert isinstance(result, types.CallToolResult)  # no task: none was asked for
                wire = serialize_server_result("tools/call", HANDSHAKE_VERSION,
                                               result.model_dump(by_alias=True, mode="json", exclude_none=True))
                status = "error" if result.is_error else "ok"
                await self.stdout.send(frame(request_id, wire))
        except Exception:  # the log has it; the client gets an internal error, as from the SDK
            log.exception("tools/call %r failed", name)
            error = {"code": types.INTERNAL_ERROR, "message": "Internal error"}
            await self.stdout.send(pydantic_core.to_json({"jsonrpc": "2.0", "id": request_id, "error": error}) + b"\n")
        finally:
            self.observer.record_call({"name": name, "arguments": arguments}, None, status,
                                      (time.perf_counter() - started) * 1000, wire)
            del self.running[request_id]
            if not self.running:
                self._idle.set()
