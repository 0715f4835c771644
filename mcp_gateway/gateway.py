"""The runtime: each tool call goes find tool -> check arguments -> build request -> send -> render.

Everything decided at build time (base URLs, credentials, secrets) arrives ready in `Api`; nothing
here reads a document or the environment.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import mcp_types as types

from mcp_gateway.arguments import ArgumentChecker
from mcp_gateway.catalog import Catalog
from mcp_gateway.compile import Compilation
from mcp_gateway.discovery import DESCRIBE, META, SEARCH, Discovery, Mode, discovery_wanted, pinned
from mcp_gateway.errors import UnknownTool, UpstreamError
from mcp_gateway.plan import CompiledTool
from mcp_gateway.profile import Profile
from mcp_gateway.request import build_request
from mcp_gateway.response import error_result, redact_result, render_error, render_stream, render_success
from mcp_gateway.streaming import StreamAssembler
from mcp_gateway.upstream import Upstream

Progress = Callable[[float, str], Awaitable[None]]

log = logging.getLogger("mcp_gateway")


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
        self.discovery: Discovery | None = None
        listed = None
        if discovery_wanted(self.discovery_mode, [api.profile for api in self.apis], len(entries)):
            self.discovery = Discovery([tool for tool, _ in entries])
            listed = [*self.discovery.definitions(),
                      *(tool.to_mcp() for tool, api in entries if pinned(api.profile, tool))]
        self.catalog = Catalog(entries, self.page_size, listed)

    def use_discovery(self, mode: Mode) -> None:
        """Serve the meta-tools (`on`), every tool (`off`), or decide by the number of tools (`auto`)."""
        self.discovery_mode = mode
        self._index()

    def replace(self, old: Api, new: Api) -> None:
        """Serve `new` in place of `old` (a refreshed document), with a fresh index and fresh validators."""
        self.apis[self.apis.index(old)] = new
        self._index()
        self.checker.clear()

    async def call(self, name: str, arguments: dict[str, Any], progress: Progress | None = None
                   ) -> types.CallToolResult:
        """Check, send and render one tool call; every failure of the call becomes an isError result.

        Raises UnknownTool when no tool has that name (a protocol error, not a tool's). An event-stream
        answer is assembled into one result; `progress` hears about each event.
        """
        if self.discovery is not None and name in META:
            return await self._meta(self.discovery, name, arguments, progress)
        entry = self.catalog.get(name)
        if entry is None:
            raise UnknownTool(name, self.catalog.closest(name))
        return await self._guarded(*entry, arguments, progress)

    async def _meta(self, discovery: Discovery, name: str, arguments: dict[str, Any], progress: Progress | None
                    ) -> types.CallToolResult:
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
        return await self._guarded(*entry, arguments.get("arguments") or {}, progress)

    async def _guarded(self, tool: CompiledTool, api: Api, arguments: dict[str, Any], progress: Progress | None
                       ) -> types.CallToolResult:
        """One operation's call with every failure turned into an isError result, and every secret masked."""
        name = tool.name
        redactor = api.upstream.redactor
        try:
            result = await self._call(tool, api, arguments, progress)
        except Exception as exc:  # noqa: BLE001 - the agent gets a message, the log gets the detail
            log.error("unexpected error in %s: %s", name, redactor.text(repr(exc)))
            result = error_result(f"{name} failed with an internal error ({type(exc).__name__}); see the server log.")
        return redact_result(result, redactor)

    async def _call(self, tool: CompiledTool, api: Api, arguments: dict[str, Any],
                    progress: Progress | None) -> types.CallToolResult:
        arguments, problem = self.checker.check(tool, arguments)
        if problem:
            return error_result(problem)
        base_url = tool.plan.base_url
        if base_url is None:
            return error_result(f"{tool.name} cannot be called: no base URL is known for {api.profile.name}. "
                                "Start the server with --base-url URL, or set base_url in the profile.")
        upstream = api.upstream
        if upstream.credentials.missing:
            return error_result(f"{tool.name} needs credentials: set the environment variable "
                                f"{' and '.join(upstream.credentials.missing)} and restart the server.")
        assembler = StreamAssembler()

        async def on_event(event: str, data: str) -> None:
            assembler.add(event, data)
            if progress is not None:
                await progress(assembler.events, f"{assembler.events} events received")

        try:
            reply = await upstream.send(build_request(tool.plan, arguments), base_url, on_event)
        except UpstreamError as exc:
            return error_result(f"{tool.name} failed: {exc}")
        if reply.streamed:
            return render_stream(tool, reply, assembler.result(), api.profile.max_response_bytes)
        if reply.status >= 400 or reply.status < 200:
            return render_error(tool, reply, upstream.credentials.env_names())
        return render_success(tool, reply, api.profile.max_response_bytes)

    async def aclose(self) -> None:
        """Close the pooled connections."""
        clients = {id(api.upstream.client): api.upstream.client for api in self.apis}
        for client in clients.values():
            await client.aclose()
