"""Jobs handed over as MCP tasks: in 2026-07-28 to an official client that declares the tasks extension (over stdio
and streamable HTTP), in 2025-11-25 to a raw JSON-RPC client (the SDK's client cannot read a 2025 CreateTaskResult:
it checks every tools/call result against CallToolResult). Task status follows the upstream job, the result is the
finished job, cancelling the task cancels the job, and no second job is ever started."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, Literal

import anyio
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.shared.exceptions import MCPError
from pydantic import TypeAdapter

from tests.common import FIXTURES
from tests.servers import RawStdio, serve_http, serve_stdio, text_of
from tests.upstream import JobsUpstream

pytestmark = pytest.mark.anyio

PROFILE = str(FIXTURES / "jobs_profile.yaml")
ANY = TypeAdapter(dict[str, Any])


class CreatedTask(types.Result):
    """A 2026-07-28 CreateTaskResult as the tasks extension claims it."""

    result_type: Literal["task"] = "task"
    task_id: str
    status: str
    status_message: str | None = None
    poll_interval_ms: int | None = None


class Tasks(ClientExtension):
    """The client side of the tasks extension: polls tasks/get until the task ends (or cancels it after
    `cancel_after` polls), keeping every task state it saw."""

    identifier = "io.modelcontextprotocol/tasks"

    def __init__(self, cancel_after: int | None = None) -> None:
        self.cancel_after = cancel_after
        self.created: list[CreatedTask] = []
        self.seen: list[dict[str, Any]] = []

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=self.resolve)]

    async def resolve(self, created: CreatedTask, ctx: ClaimContext) -> types.CallToolResult:
        self.created.append(created)
        for polls in range(200):
            if self.cancel_after is not None and polls == self.cancel_after:
                ack = await ctx.session.send_request(
                    types.CancelTaskRequest(params=types.CancelTaskRequestParams(task_id=created.task_id)), ANY)
                self.seen.append({"cancel": ack})
            task = await ctx.session.send_request(
                types.GetTaskRequest(params=types.GetTaskRequestParams(task_id=created.task_id)), ANY)
            self.seen.append(task)
            if task["status"] == "completed":
                return types.CallToolResult.model_validate(task["result"])
            if task["status"] in ("failed", "cancelled"):
                return types.CallToolResult(content=[types.TextContent(type="text", text=task["status"])],
                                            is_error=True)
            await anyio.sleep(0.1)
        raise AssertionError("the task never ended")


@pytest.fixture
def jobs() -> Iterator[JobsUpstream]:
    server = JobsUpstream().start()
    yield server
    server.stop()


def _check_followed(tasks: Tasks, result: types.CallToolResult, jobs: JobsUpstream) -> None:
    assert not result.is_error, text_of(result)
    assert json.loads(result.content[0].text)["status"] == "completed"
    (created,) = tasks.created
    assert created.status == "working" and created.status_message == "job job-1 is queued (0%)"
    working = [seen for seen in tasks.seen if seen.get("status") == "working"]
    assert working and "job job-1 is" in working[-1]["statusMessage"]
    assert {seen["taskId"] for seen in tasks.seen} == {created.task_id}
    assert jobs.started() == 1 and jobs.polls["job-1"] == 3


async def test_a_modern_client_gets_a_task_that_follows_the_job_over_stdio(jobs: JobsUpstream) -> None:
    tasks = Tasks()
    async with serve_stdio([PROFILE, "--base-url", jobs.url], mode="2026-07-28", extensions=[tasks]) as served:
        result = await served.client.call_tool("startJob", {"prompt": "ok"})
    _check_followed(tasks, result, jobs)


async def test_a_modern_client_gets_a_task_over_stateless_http(jobs: JobsUpstream) -> None:
    tasks = Tasks()
    async with serve_http([PROFILE, "--base-url", jobs.url]) as url, \
            Client(url, mode="2026-07-28", extensions=[tasks]) as client:
        result = await client.call_tool("startJob", {"prompt": "ok"})
    _check_followed(tasks, result, jobs)


async def test_cancelling_a_modern_task_cancels_the_job(jobs: JobsUpstream) -> None:
    tasks = Tasks(cancel_after=1)
    async with serve_stdio([PROFILE, "--base-url", jobs.url], mode="2026-07-28", extensions=[tasks]) as served:
        result = await served.client.call_tool("startJob", {"prompt": "never"})
        with pytest.raises(MCPError, match="No task has the id 'no-such-task'"):
            await served.client.session.send_request(
                types.GetTaskRequest(params=types.GetTaskRequestParams(task_id="no-such-task")), ANY)
    assert result.is_error and text_of(result) == "cancelled"
    (ack,) = [seen["cancel"] for seen in tasks.seen if "cancel" in seen]
    assert ack["resultType"] == "complete" and set(ack) <= {"resultType", "_meta"}  # an empty acknowledgement
    assert jobs.cancelled == ["job-1"] and jobs.started() == 1


async def test_a_client_without_the_extension_waits_as_before(jobs: JobsUpstream) -> None:
    async with serve_stdio([PROFILE, "--base-url", jobs.url], mode="2026-07-28") as served:
        result = await served.client.call_tool("startJob", {"prompt": "ok"})
    assert not result.is_error and "finished (completed) after 3 polls" in result.content[-1].text


def _legacy_session(jobs: JobsUpstream) -> tuple[RawStdio, dict[str, Any]]:
    stdio = RawStdio(["serve", PROFILE, "--base-url", jobs.url])
    hello = stdio.ask({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {"tasks": {}},
        "clientInfo": {"name": "raw", "version": "1"}}})
    stdio.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    return stdio, hello["result"]


def _start(stdio: RawStdio, request_id: int, prompt: str) -> dict[str, Any]:
    answer = stdio.ask({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {
        "name": "startJob", "arguments": {"prompt": prompt}, "task": {"ttl": 60000}}})
    return answer["result"]["task"]


def test_a_2025_client_asks_for_a_task_and_reads_its_result(jobs: JobsUpstream) -> None:
    stdio, hello = _legacy_session(jobs)
    try:
        assert hello["capabilities"]["tasks"] == {"cancel": {}, "list": {}, "requests": {"tools": {"call": {}}}}
        tools = stdio.ask({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})["result"]["tools"]
        assert {tool["name"]: tool.get("execution") for tool in tools} == {
            "startJob": {"taskSupport": "optional"}, "getJob": None, "cancelJob": None, "startOperation": None,
            "getOperation": None}  # a 202 answer is followed within the call: no task
        task = _start(stdio, 2, "ok")
        assert task["status"] == "working" and task["ttl"] == 60000 and task["pollInterval"] > 0
        got = stdio.ask({"jsonrpc": "2.0", "id": 3, "method": "tasks/get", "params": {"taskId": task["taskId"]}})
        assert got["result"]["taskId"] == task["taskId"] and got["result"]["status"] in ("working", "completed")
        ended = stdio.ask({"jsonrpc": "2.0", "id": 4, "method": "tasks/result", "params": {"taskId": task["taskId"]}})
        result = ended["result"]
        assert result["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": task["taskId"]}
        assert json.loads(result["content"][0]["text"])["status"] == "completed" and not result.get("isError")
        failed = _start(stdio, 5, "fail")
        failure = stdio.ask({"jsonrpc": "2.0", "id": 6, "method": "tasks/result",
                             "params": {"taskId": failed["taskId"]}})["result"]
        assert failure["isError"] is True and "ended without success" in failure["content"][-1]["text"]
        listed = stdio.ask({"jsonrpc": "2.0", "id": 7, "method": "tasks/list"})["result"]["tasks"]
        assert [(entry["taskId"], entry["status"]) for entry in listed] == [
            (task["taskId"], "completed"), (failed["taskId"], "completed")]
    finally:
        stdio.close()
    assert jobs.started() == 2


def test_cancelling_a_2025_task_cancels_the_job_and_an_unknown_task_is_an_error(jobs: JobsUpstream) -> None:
    stdio, _ = _legacy_session(jobs)
    try:
        task = _start(stdio, 1, "never")
        cancelled = stdio.ask({"jsonrpc": "2.0", "id": 2, "method": "tasks/cancel",
                               "params": {"taskId": task["taskId"]}})["result"]
        assert cancelled["status"] == "cancelled"
        deadline = time.monotonic() + 5
        while not jobs.cancelled and time.monotonic() < deadline:
            time.sleep(0.05)
        unknown = stdio.ask({"jsonrpc": "2.0", "id": 3, "method": "tasks/get", "params": {"taskId": "nope"}})
        assert unknown["error"]["code"] == types.INVALID_PARAMS and "No task has the id 'nope'" in \
            unknown["error"]["message"]
    finally:
        stdio.close()
    assert jobs.cancelled == ["job-1"] and jobs.started() == 1


async def test_with_several_workers_jobs_are_waited_for_not_made_tasks(jobs: JobsUpstream) -> None:
    tasks = Tasks()  # a task's next request could reach another worker, which would not know it
    async with serve_http([PROFILE, "--base-url", jobs.url, "--workers", "2"]) as url, \
            Client(url, mode="2026-07-28", extensions=[tasks]) as client:
        result = await client.call_tool("startJob", {"prompt": "ok"})
    assert not result.is_error and "finished (completed) after 3 polls" in result.content[-1].text
    assert tasks.created == [] and jobs.started() == 1
