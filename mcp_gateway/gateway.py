"""The runtime: each tool call goes find tool -> check arguments -> build request -> send -> render.

Everything decided at build time (base URLs, credentials, secrets) arrives ready in `Api`; nothing
here reads a document or the environment.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import anyio
import mcp_types as types

from mcp_gateway.accepted import FIRST_READ, reader_tool, status_reading, status_request
from mcp_gateway.arguments import ArgumentChecker
from mcp_gateway.catalog import Catalog
from mcp_gateway.compile import Compilation
from mcp_gateway.confirm import AskFirst, Confirmer, confirm_wanted, confirmed
from mcp_gateway.credentials import CallerKeyError, caller_key
from mcp_gateway.discovery import DESCRIBE, META, SEARCH, Discovery, Mode, discovery_wanted, pinned
from mcp_gateway.errors import UnknownTool, UpstreamError
from mcp_gateway.exchange import Reply, RequestParts
from mcp_gateway.job_calls import CANCEL_SECONDS, JobCalls, id_argument, started_job
from mcp_gateway.jobs import JobPollError, JobState, Poll, follow, record_reader
from mcp_gateway.pagination import read_pages
from mcp_gateway.plan import CompiledTool, JobPlan, PagePlan
from mcp_gateway.profile import Profile
from mcp_gateway.request import build_request
from mcp_gateway.response import (
    error_result,
    redact_result,
    render_error,
    render_json,
    render_stream,
    render_success,
)
from mcp_gateway.retry import attempts_note
from mcp_gateway.selection import SELECTION_READ_FACTOR, Selection, SelectionError, take_selection
from mcp_gateway.streaming import StreamAssembler
from mcp_gateway.tasks import Report, Stop, Task, TaskRequest
from mcp_gateway.upstream import Upstream, UpstreamCall

Progress = Callable[[float, str], Awaitable[None]]

log = logging.getLogger("mcp_gateway")


@dataclass(frozen=True)
class CallContext:
    """What a call brings besides its arguments: who hears its progress; the headers of the caller's HTTP request
    (None on stdio), of which only a profile's `auth.user_key` header is read; how to ask the user before a call the
    profile's `confirm` names (None: the client cannot be asked, and such a call is refused); and whether the call
    may be answered with a task (MCP tasks), when it starts a job."""

    progress: Progress | None = None
    caller_headers: Mapping[str, str] | None = None
    confirm: Confirmer | None = None
    task: TaskRequest | None = None


NO_CONTEXT = CallContext()


@dataclass(frozen=True)
class Api:
    """One API ready to serve: its profile, its tools (each plan with its absolute base URL, or None where
    none is known), and the upstream that answers them."""

    profile: Profile
    compilation: Compilation
    upstream: Upstream


class Gateway:
    """All tools of all APIs, served by name."""

    def __init__(self, apis: Iterable[Api], page_size: int = 0, discovery: Mode = "off") -> None:
        self.apis = list(apis)
        self.page_size = page_size
        self.discovery_mode: Mode = discovery
        self.checker = ArgumentChecker()
        self._index()

    def _index(self) -> None:
        """The catalog of every tool, and in discovery mode the meta-tools that list in their place."""
        entries = [(tool, api) for api in self.apis for tool in api.compilation.tools]
        # each API's tools by `METHOD /path`, for the operations that read and stop its jobs
        self.operations = {(id(api), tool.operation): tool for tool, api in entries}
        self.discovery: Discovery | None = None
        listed = None
        if discovery_wanted(self.discovery_mode, [api.profile for api in self.apis], len(entries)):
            self.discovery = Discovery([tool for tool, _ in entries])
            listed = [*self.discovery.definitions(),
                      *(tool.to_mcp() for tool, api in entries if pinned(api.profile, tool))]
        self.catalog = Catalog(entries, self.page_size, listed)
        self.has_jobs = any(tool.job is not None for tool, _ in entries)

    @property
    def instructions(self) -> str:
        """What the server tells a client about itself when it connects."""
        names = ", ".join(api.profile.name for api in self.apis)
        return (f"Tools that call these HTTP APIs: {names}. Each tool's description ends with its HTTP method "
                "and path.")

    def use_discovery(self, mode: Mode) -> None:
        """Serve the meta-tools (`on`), every tool (`off`), or decide by the number of tools (`auto`)."""
        self.discovery_mode = mode
        self._index()

    def replace(self, old: Api, new: Api) -> None:
        """Serve `new` in place of `old` (a refreshed document), with a fresh index and fresh validators."""
        self.apis[self.apis.index(old)] = new
        self._index()
        self.checker.clear()

    async def call(self, name: str, arguments: dict[str, Any], context: CallContext = NO_CONTEXT
                   ) -> types.CallToolResult | Task:
        """Check, send and render one tool call; every failure of the call becomes an isError result. A job's call
        answers with a task instead when `context.task` allows it and the job is still working.

        Raises UnknownTool when no tool has that name (a protocol error, not a tool's), and AskFirst when the user's
        confirmation must be asked for in a separate round trip (2026-07-28).
        """
        if self.discovery is not None and name in META:
            return await self._meta(self.discovery, name, arguments, context)
        entry = self.catalog.get(name)
        if entry is None:
            raise UnknownTool(name, self.catalog.closest(name))
        return await self._guarded(*entry, arguments, context)

    async def _meta(self, discovery: Discovery, name: str, arguments: dict[str, Any], context: CallContext
                    ) -> types.CallToolResult | Task:
        """A meta-tool's call: search, describe, or call an operation exactly as its direct tool would be."""
        problem = discovery.problem(name, arguments)
        if problem:
            return error_result(problem)
        if name == SEARCH:
            return discovery.search(arguments)
        if name == DESCRIBE:
            return discovery.describe(arguments, self.catalog.closest)
        entry = self.catalog.get(arguments["name"])
        if entry is None:
            closest = ", ".join(self.catalog.closest(arguments["name"])) or "none"
            return error_result(f"No operation is named {arguments['name']!r} (closest: {closest}). "
                                f"Use {SEARCH} to find the operation you need.")
        return await self._guarded(*entry, arguments.get("arguments") or {}, context)

    async def _guarded(self, tool: CompiledTool, api: Api, arguments: dict[str, Any], context: CallContext
                       ) -> types.CallToolResult | Task:
        """One operation's call with every failure turned into an isError result, and every secret masked (the
        caller's own key and the call's OAuth2 token included)."""
        name = tool.name
        try:
            call = api.upstream.call(caller_key(api.profile.auth, context.caller_headers))
        except CallerKeyError as exc:
            return error_result(f"{name} cannot be called: {exc}.")
        try:
            result = await self._call(tool, api, arguments, context, call)
        except AskFirst:
            raise  # not a failure: the question goes back to the client
        except Exception as exc:  # noqa: BLE001 - the agent gets a message, the log gets the detail
            log.error("unexpected error in %s: %s", name, call.redactor.text(repr(exc)))
            result = error_result(f"{name} failed with an internal error ({type(exc).__name__}); see the server log.")
        return result if isinstance(result, Task) else redact_result(result, call.redactor)

    async def _call(self, tool: CompiledTool, api: Api, arguments: dict[str, Any], context: CallContext,
                    call: UpstreamCall) -> types.CallToolResult | Task:
        try:
            arguments, selection = take_selection(tool.select_argument, arguments)
        except SelectionError as exc:
            return error_result(f"Invalid arguments for {tool.name}: {exc}. Nothing was sent upstream.")
        arguments, problem = self.checker.check(tool, arguments)
        if problem:
            return error_result(problem)
        base_url = tool.plan.base_url
        if base_url is None:
            return error_result(f"{tool.name} cannot be called: no base URL is known for {api.profile.name}. "
                                "Start the server with --base-url URL, or set base_url in the profile.")
        upstream = api.upstream
        if call.credentials.missing:
            own = api.profile.auth.user_key
            return error_result(f"{tool.name} needs credentials: set the environment variable "
                                f"{' and '.join(call.credentials.missing)} and restart the server"
                                + (f", or send your own key in the {own.header} header." if own else "."))
        if confirm_wanted(api.profile, tool) and (
                refused := await confirmed(tool, api.profile, arguments, context.confirm, call.redactor.text)
        ) is not None:
            return refused
        assembler = StreamAssembler()
        progress = context.progress

        async def on_event(event: str, data: str) -> None:
            assembler.add(event, data)
            if progress is not None:
                await progress(assembler.events, f"{assembler.events} events received")

        max_bytes = api.profile.max_response_bytes
        if selection is not None:  # what is selected is held to max_bytes, so more of the answer may be read
            upstream = replace(upstream, max_response_bytes=max_bytes * SELECTION_READ_FACTOR)
        deadline = anyio.current_time() + upstream.timeout
        try:
            parts = build_request(tool.plan, arguments)
            reply = await upstream.send(parts, base_url, on_event, call=call)
        except UpstreamError as exc:
            return _tried(error_result(f"{tool.name} failed: {exc}"), call)
        if reply.status >= 400 or reply.status < 200:
            return _tried(render_error(tool, reply, call.credentials.env_names()), call)
        try:
            if reply.streamed:
                return render_stream(tool, reply, assembler.result(), max_bytes, selection)
            if tool.job is not None and (state := started_job(tool.job, reply)) is not None:
                return await self._job(tool, api, tool.job, state, base_url, upstream, call, context, max_bytes,
                                       selection)
            if tool.job is None and (status := status_request(reply, base_url, call.credentials.query)):
                return await self._accepted(tool, api, reply, status, upstream, call, deadline, context, max_bytes,
                                            selection)
            if tool.pagination is not None:
                return await self._pages(tool, tool.pagination, parts, reply, base_url, upstream, call, deadline,
                                         max_bytes, selection)
            return render_success(tool, reply, max_bytes, selection)
        except SelectionError as exc:
            return error_result(f"{tool.name}: {exc}.")

    async def _job(self, tool: CompiledTool, api: Api, plan: JobPlan, state: JobState, base_url: str,
                   upstream: Upstream, call: UpstreamCall, context: CallContext, max_bytes: int,
                   selection: Selection | None) -> types.CallToolResult | Task:
        """A started job: handed over as a task when the client takes one, else waited for up to its bound with
        progress reported: the finished job, the failed one, or the job as it stands with the way to check on it. A
        cancelled call stops the polling and the job."""
        poller = self.operations.get((id(api), plan.poll))
        if poller is None or not id_argument(poller):
            log.warning("%s: the job's poll operation %s is not a tool with a path parameter; the job is not "
                        "followed", tool.name, plan.poll)
            return render_json(tool, state.data, max_bytes, selection)
        stopper = self.operations.get((id(api), plan.cancel)) if plan.cancel else None
        job = JobCalls(tool, state.id, poller, stopper)

        async def poll() -> Reply:
            return await upstream.send(job.poll_request(), base_url, call=call)


        async def stop() -> None:
            await self._stop_job(job, base_url, upstream, call)

        if context.task is not None:
            return self._task(job, plan, state, poll, stop if stopper is not None else None, context.task, call,
                              max_bytes, selection)
        progress = context.progress

        async def heard(now: JobState, polls: int) -> None:
            if progress is not None:
                await progress(now.progress if now.progress is not None else polls, job.progress_text(now))

        try:
            final, polls = await follow(plan.interval, state, poll, record_reader(plan, state.id), heard,
                                        anyio.current_time() + plan.wait)
        except anyio.get_cancelled_exc_class():
            if stopper is not None:
                with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_SECONDS):
                    await stop()
            raise
        except JobPollError as exc:
            return job.lost(exc)
        return job.result(final, polls, plan.wait, max_bytes, selection)

    def _task(self, job: JobCalls, plan: JobPlan, state: JobState, poll: Poll, stop: Stop | None,
              request: TaskRequest, call: UpstreamCall, max_bytes: int, selection: Selection | None) -> Task:
        """A task that follows the job in the background to its end (or its TTL), reporting each reading."""

        async def follow_to_end(report: Report) -> types.CallToolResult:
            async def heard(now: JobState, polls: int) -> None:
                report(job.progress_text(now))

            try:
                final, polls = await follow(plan.interval, state, poll, record_reader(plan, state.id), heard, None)
            except JobPollError as exc:
                return redact_result(job.lost(exc), call.redactor)
            return redact_result(job.result(final, polls, 0, max_bytes, selection), call.redactor)

        return request.store.start(job.tool.name, request.owner, follow_to_end, stop, job.progress_text(state),
                                   request.ttl_ms)

    async def _accepted(self, tool: CompiledTool, api: Api, first: Reply, status: tuple[RequestParts, str],
                        upstream: Upstream, call: UpstreamCall, deadline: float, context: CallContext, max_bytes: int,
                        selection: Selection | None) -> types.CallToolResult:
        """A 202 Accepted with a status URL, followed within the call's deadline: the finished work (what the status
        URL answered last), the failure, or where the status is when the time ran out."""
        parts, base = status
        url = base + parts.path
        last = [first]
        fetch = _before(deadline, upstream, call)

        async def poll() -> Reply:
            return await fetch(parts, base)

        def read(reply: Reply) -> JobState:
            last[0] = reply
            return status_reading(url, reply)

        async def heard(now: JobState, polls: int) -> None:
            if context.progress is not None:
                await context.progress(polls, f"{tool.name}: the upstream is {now.status or 'working'}")

        try:
            final, polls = await follow(FIRST_READ, status_reading(url, first), poll, read, heard, deadline)
        except JobPollError as exc:
            return error_result(f"{tool.name} was accepted (HTTP 202), but reading its status at {url} failed: "
                                f"{exc}")
        said = f" ({final.status})" if final.status else ""
        if final.phase == "working":
            reader = reader_tool(api.compilation.tools, base, url)
            note = (f"The upstream accepted the request (HTTP 202) and is still working on it{said} after "
                    f"{upstream.timeout:g} s. Its status is at {url}"
                    + (f": read it with {reader.name}." if reader is not None else ".")
                    + f" Do not call {tool.name} again for this: that would start the work again.")
        else:
            note = f"The upstream accepted the request (HTTP 202) and ended it{said} after {polls} status reads."
        result = render_success(tool, last[0], max_bytes, selection)
        result.content.append(types.TextContent(type="text", text=note))
        if final.phase == "failed":
            result.is_error, result.structured_content = True, None
        return result

    async def _stop_job(self, job: JobCalls, base_url: str, upstream: Upstream, call: UpstreamCall) -> None:
        """Ask the upstream to stop a job whose caller went away; a failure is logged, not raised."""
        request = job.cancel_request()
        if request is None:
            return
        try:
            reply = await upstream.send(request, base_url, call=call)
            log.info("%s: job %s stopped (HTTP %d)", job.tool.name, job.id, reply.status)
        except UpstreamError as exc:
            log.warning("%s: job %s could not be stopped: %s", job.tool.name, job.id, call.redactor.text(str(exc)))

    async def _pages(self, tool: CompiledTool, plan: PagePlan, parts: RequestParts, first: Reply, base_url: str,
                     upstream: Upstream, call: UpstreamCall, deadline: float, max_bytes: int,
                     selection: Selection | None) -> types.CallToolResult:
        """A paginated operation's answer: the next pages read within the bounds and the call's deadline, their
        items merged, selected and held to `max_bytes`, with a note on the pages read."""

        fetch = _before(deadline, upstream, call)
        budget = plan.max_bytes or max_bytes
        credential_names = {name for name, _ in call.credentials.query}
        pages = await read_pages(plan, parts, first, base_url, fetch, budget, credential_names)
        if pages is None:
            return render_success(tool, first, max_bytes, selection)
        return render_json(tool, pages.data, max_bytes, selection, pages.note(plan, budget))

    async def aclose(self) -> None:
        """Close the pooled connections."""
        clients = {id(api.upstream.client): api.upstream.client for api in self.apis}
        for client in clients.values():
            await client.aclose()


def _before(deadline: float, upstream: Upstream, call: UpstreamCall) -> Callable[[RequestParts, str], Awaitable[Reply]]:
    """A sender of further requests of one call (next pages, status reads) within what is left of its deadline."""

    async def fetch(parts: RequestParts, base: str) -> Reply:
        remaining = deadline - anyio.current_time()
        if remaining <= 0:
            raise UpstreamError(f"the call's {upstream.timeout:g}s ran out")
        return await replace(upstream, timeout=remaining).send(parts, base, call=call)

    return fetch


def _tried(result: types.CallToolResult, call: UpstreamCall) -> types.CallToolResult:
    """A failed result that says how many attempts the call made, when it made more than one."""
    note = attempts_note(call.attempts)
    block = result.content[-1] if result.content else None
    if note and isinstance(block, types.TextContent):
        block.text += "\n" + note
    return result
