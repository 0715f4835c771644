"""MCP tasks for upstream jobs: a job's call hands back a task at once, and the job is followed in the background.

Two protocol eras, one store. In 2025-11-25 tasks are core (experimental): a client asks with `task` in a tools/call,
gets `{task: {...}}`, and uses tasks/get, tasks/result (which waits), tasks/list and tasks/cancel. In 2026-07-28 they
are the `io.modelcontextprotocol/tasks` extension: a client that declares it may get `resultType: "task"` from any
tools/call, polls tasks/get (the result comes inline once completed) and stops it with tasks/cancel.

Tasks live in this process, at most `limit` at a time (the oldest ended ones go first), each until its TTL passes
(then it is dropped; one still working has its job stopped). A job that ends badly upstream completes its task with
an isError result, as a tool call would; `failed` is kept for a task whose following broke (a JSON-RPC error).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
import mcp_types as types
from anyio.abc import TaskGroup

log = logging.getLogger("mcp_gateway")

Status = Literal["working", "completed", "failed", "cancelled"]
Report = Callable[[str], None]
Follow = Callable[[Report], Awaitable["types.CallToolResult"]]
Stop = Callable[[], Awaitable[None]]

EXTENSION = "io.modelcontextprotocol/tasks"
CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
RELATED_TASK = "io.modelcontextprotocol/related-task"
DEFAULT_TTL_MS = 3_600_000  # an hour
MAX_TTL_MS = 86_400_000  # a day
POLL_INTERVAL_MS = 2_000


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Task:
    """One task: the tool call it stands for, its state, and (once ended) its result or error."""

    id: str
    tool: str
    ttl_ms: int
    owner: str | None  # who made it (an inbound auth subject; None on stdio or without auth): only they see it
    status: Status = "working"
    message: str | None = None
    created: str = field(default_factory=_now)
    updated: str = ""
    born: float = field(default_factory=time.monotonic)  # for its TTL, whatever the wall clock does
    result: types.CallToolResult | None = None
    error: dict[str, Any] | None = None
    ended: anyio.Event = field(default_factory=anyio.Event)
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    stop: Stop | None = None

    def __post_init__(self) -> None:
        self.updated = self.updated or self.created

    def end(self, status: Status, message: str | None = None) -> None:
        """Move to an ended state (once)."""
        if not self.ended.is_set():
            self.status, self.message, self.updated = status, message or self.message, _now()
            self.ended.set()

    def legacy(self) -> dict[str, Any]:
        """The task as 2025-11-25 writes it (tasks/get, tasks/cancel, tasks/list, and inside CreateTaskResult)."""
        shown: dict[str, Any] = {"taskId": self.id, "status": self.status, "createdAt": self.created,
                                 "lastUpdatedAt": self.updated, "ttl": self.ttl_ms, "pollInterval": POLL_INTERVAL_MS}
        if self.message:
            shown["statusMessage"] = self.message
        return shown

    def modern(self, detailed: bool) -> dict[str, Any]:
        """The task as the 2026-07-28 extension writes it: with its result or error inline when `detailed`."""
        shown: dict[str, Any] = {"taskId": self.id, "status": self.status, "createdAt": self.created,
                                 "lastUpdatedAt": self.updated, "ttlMs": self.ttl_ms,
                                 "pollIntervalMs": POLL_INTERVAL_MS}
        if self.message:
            shown["statusMessage"] = self.message
        if detailed and self.status == "completed" and self.result is not None:
            shown["result"] = wire_result(self.result)
        if detailed and self.status == "failed" and self.error is not None:
            shown["error"] = self.error
        return shown


def wire_result(result: types.CallToolResult) -> dict[str, Any]:
    """A tool result as JSON-RPC carries it."""
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)


@dataclass(frozen=True)
class TaskRequest:
    """A tools/call that may be answered with a task: the store to make it in, who asks (only they will see the
    task), and the TTL the client asked for."""

    store: TaskStore
    owner: str | None
    ttl_ms: int | None = None


class UnknownTask(Exception):
    """No task has this id (never made, or dropped after its TTL)."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"No task has the id {task_id!r} on this server: it was never made here, or it ended and its "
                         "time to live passed. Call the tool again only if you want new work started.")


class TaskStore:
    """The tasks of this process, and the task group their jobs are followed in (`serving()` opens it)."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._tasks: OrderedDict[str, Task] = OrderedDict()
        self._group: TaskGroup | None = None

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """Follow jobs while the server runs; at the end, stop following (the jobs go on upstream)."""
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield
            finally:
                self._group = None
                group.cancel_scope.cancel()

    @property
    def ready(self) -> bool:
        """Whether tasks can be made (the store is serving)."""
        return self._group is not None

    def start(self, tool: str, owner: str | None, follow: Follow, stop: Stop | None, message: str,
              ttl_ms: int | None) -> Task:
        """A working task of `owner` whose job `follow` follows to its result in the background; `stop` stops the
        job."""
        task = self._made(tool, owner, ttl_ms, message)
        task.stop = stop
        assert self._group is not None, "TaskStore.start outside serving()"
        self._group.start_soon(self._run, task, follow)
        return task

    def finished(self, tool: str, owner: str | None, result: types.CallToolResult, ttl_ms: int | None) -> Task:
        """A task of `owner` for a call that ended at once (its job finished as it started, or it was no job)."""
        task = self._made(tool, owner, ttl_ms, None)
        task.result = result
        task.end("completed")
        return task

    def _made(self, tool: str, owner: str | None, ttl_ms: int | None, message: str | None) -> Task:
        self._expire()
        while len(self._tasks) >= self.limit:
            oldest = next((key for key, task in self._tasks.items() if task.ended.is_set()), None)
            if oldest is None:
                raise RuntimeError(f"{self.limit} tasks are working on this server; wait for some to end")
            del self._tasks[oldest]
        ttl = min(ttl_ms if ttl_ms is not None and ttl_ms > 0 else DEFAULT_TTL_MS, MAX_TTL_MS)
        task = Task(uuid.uuid4().hex, tool, ttl, owner, message=message)
        self._tasks[task.id] = task
        return task

    async def _run(self, task: Task, follow: Follow) -> None:
        def report(message: str) -> None:
            if not task.ended.is_set():
                task.message, task.updated = message, _now()

        with task.scope:
            with anyio.move_on_after(task.ttl_ms / 1000) as timer:
                try:
                    task.result = await follow(report)
                    task.end("completed")
                except Exception as exc:  # the task reports it; the log has the detail
                    log.exception("task %s (%s) failed", task.id, task.tool)
                    task.error = {"code": types.INTERNAL_ERROR, "message": f"Following the job failed "
                                  f"({type(exc).__name__}); see the server log"}
                    task.end("failed", "following the job failed")
            if timer.cancelled_caught:
                task.error = {"code": types.INTERNAL_ERROR, "message": "The task's time to live passed first"}
                task.end("failed", "its time to live passed before the job ended")
                await self._stopped(task)

    def get(self, task_id: str, owner: str | None) -> Task:
        """`owner`'s task with this id; UnknownTask when there is none."""
        self._expire()
        task = self._tasks.get(task_id)
        if task is None or task.owner != owner:
            raise UnknownTask(task_id)
        return task

    def listed(self, owner: str | None) -> list[Task]:
        """Every task of `owner` kept, oldest first."""
        self._expire()
        return [task for task in self._tasks.values() if task.owner == owner]

    async def cancel(self, task_id: str, owner: str | None) -> Task:
        """Stop following `owner`'s task's job and stop the job upstream; an ended task stays as it is."""
        task = self.get(task_id, owner)
        if not task.ended.is_set():
            task.end("cancelled", "cancelled by the client")
            task.scope.cancel()
            await self._stopped(task)
        return task

    async def _stopped(self, task: Task) -> None:
        if task.stop is not None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                await task.stop()

    def _expire(self) -> None:
        """Drop the ended tasks whose TTL has passed."""
        now = time.monotonic()
        for key, task in list(self._tasks.items()):
            if task.ended.is_set() and (now - task.born) * 1000 > task.ttl_ms:
                del self._tasks[key]
