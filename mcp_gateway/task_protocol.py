"""The MCP side of tasks (tasks.py): which tools/call may become a task, the tasks/* methods, and the 2025-11-25
task-augmented tools/call, in each era's shapes.

A 2026-07-28 client that declares the `io.modelcontextprotocol/tasks` extension in a request's capabilities gets a
task from a job's tool while the job works; the SDK passes an extension `resultType` through unchanged. A 2025-11-25
client asks with `task` in tools/call; the SDK checks every 2025 tools/call result against CallToolResult, so that
call is answered here, in SDK middleware, before the SDK's handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcp_gateway.early import TASKS_CAPABILITY
from mcp_gateway.observe import caller_of
from mcp_gateway.tasks import (
    CLIENT_CAPABILITIES,
    EXTENSION,
    RELATED_TASK,
    Task,
    TaskRequest,
    TaskStore,
    UnknownTask,
    wire_result,
)

Context = ServerRequestContext[Any, Any]


CallRunner = Callable[[Context, types.CallToolRequestParams, TaskRequest | None],
                      Awaitable[types.CallToolResult | types.InputRequiredResult | Task]]


def modern_task_request(ctx: Context, store: TaskStore) -> TaskRequest | None:
    """A TaskRequest for a 2026-07-28 tools/call whose client declared the tasks extension on it; else None."""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS or not store.ready:
        return None
    meta = (ctx.params or {}).get("_meta")
    declared = meta.get(CLIENT_CAPABILITIES) if isinstance(meta, dict) else None
    extensions = declared.get("extensions") if isinstance(declared, dict) else None
    if not isinstance(extensions, dict) or EXTENSION not in extensions:
        return None
    return TaskRequest(store, caller_of(ctx.request))


def modern_answer(outcome: types.CallToolResult | types.InputRequiredResult | Task
                  ) -> types.CallToolResult | types.InputRequiredResult | dict[str, Any]:
    """A 2026-07-28 tools/call answer: the result, or the task that stands for it (`resultType: "task"`)."""
    return {"resultType": "task", **outcome.modern(detailed=False)} if isinstance(outcome, Task) else outcome


class LegacyTaskCalls:
    """SDK middleware: a 2025-11-25 tools/call with `task` is answered with `{task}` (CreateTaskResult): the call's
    task, or one already completed when the call ended at once."""

    def __init__(self, store: TaskStore, run: CallRunner) -> None:
        self.store = store
        self.run = run

    async def __call__(self, ctx: Context, call_next: CallNext) -> HandlerResult:
        params = ctx.params or {}
        if (ctx.method != "tools/call" or ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
                or not isinstance(params.get("task"), dict) or not self.store.ready):
            return await call_next(ctx)
        typed = types.CallToolRequestParams.model_validate(params, by_name=False)
        ttl = typed.task.ttl if typed.task is not None else None
        owner = caller_of(ctx.request)
        outcome = await self.run(ctx, typed, TaskRequest(self.store, owner, ttl))
        if isinstance(outcome, types.InputRequiredResult):
            raise MCPError(types.INVALID_REQUEST, "This call needs the user's confirmation, which 2025-11-25 asks "
                           "for during the call: call it without `task`")
        task = outcome if isinstance(outcome, Task) else self.store.finished(typed.name, owner, outcome, ttl)
        return {"task": task.legacy()}


class _UpdateTaskParams(types.GetTaskRequestParams):
    """tasks/update (2026-07-28): responses to a task's input requests, which these tasks never make."""

    input_responses: dict[str, Any] | None = None


def serve_task_methods(server: Server[Any], store: TaskStore) -> None:
    """Register tasks/get, tasks/cancel (both eras), tasks/result and tasks/list (2025-11-25) and tasks/update
    (2026-07-28) on `server`."""

    def found(ctx: Context, task_id: str) -> Task:
        try:
            return store.get(task_id, caller_of(ctx.request))
        except UnknownTask as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None

    def shown(ctx: Context, task: Task) -> dict[str, Any]:
        return task.modern(detailed=True) if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS else task.legacy()

    async def get(ctx: Context, params: types.GetTaskRequestParams) -> dict[str, Any]:
        return shown(ctx, found(ctx, params.task_id))

    async def cancel(ctx: Context, params: types.CancelTaskRequestParams) -> dict[str, Any]:
        try:
            task = await store.cancel(params.task_id, caller_of(ctx.request))
        except UnknownTask as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        return {} if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS else task.legacy()

    async def result(ctx: Context, params: types.GetTaskPayloadRequestParams) -> dict[str, Any]:
        task = found(ctx, params.task_id)
        await task.ended.wait()
        if task.status == "completed" and task.result is not None:
            answer = wire_result(task.result)
            answer["_meta"] = {**answer.get("_meta", {}), RELATED_TASK: {"taskId": task.id}}
            return answer
        if task.status == "cancelled":
            raise MCPError(types.INVALID_REQUEST, f"Task {task.id} was cancelled before its job ended")
        error = task.error or {"code": types.INTERNAL_ERROR, "message": "The task failed"}
        raise MCPError(error["code"], error["message"])

    async def listed(ctx: Context, params: types.PaginatedRequestParams) -> dict[str, Any]:
        return {"tasks": [task.legacy() for task in store.listed(caller_of(ctx.request))]}

    async def update(ctx: Context, params: _UpdateTaskParams) -> dict[str, Any]:
        found(ctx, params.task_id)
        return {}  # no input is ever asked for: responses are acknowledged and ignored, as the extension allows

    server.add_request_handler("tasks/get", types.GetTaskRequestParams, get)
    server.add_request_handler("tasks/cancel", types.CancelTaskRequestParams, cancel)
    server.add_request_handler("tasks/result", types.GetTaskPayloadRequestParams, result)
    server.add_request_handler("tasks/list", types.PaginatedRequestParams, listed)
    server.add_request_handler("tasks/update", _UpdateTaskParams, update)


def legacy_capabilities() -> types.ServerTasksCapability:
    """What a 2025-11-25 server says of its tasks: listed, cancellable, and made from tools/call."""
    return types.ServerTasksCapability.model_validate(TASKS_CAPABILITY)
