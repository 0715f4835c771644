"""The MCP server: the SDK's low-level `Server` over a Gateway, on stdio or streamable HTTP."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_gateway import __version__
from mcp_gateway.errors import GatewayError
from mcp_gateway.gateway import Gateway

log = logging.getLogger("mcp_gateway")


class Sessions:
    """The client connections seen so far, to tell them when the tool list changes.

    The SDK hands each request its own session object over a shared connection, so the latest
    session of each connection is kept, keyed by that connection.
    """

    def __init__(self) -> None:
        self._sessions: dict[int, Any] = {}

    def add(self, session: Any) -> None:
        self._sessions[id(getattr(session, "_connection", session))] = session

    async def tools_changed(self) -> None:
        for key, session in list(self._sessions.items()):
            try:
                await session.send_tool_list_changed()
            except Exception:  # noqa: BLE001 - a closed connection must not stop the others
                del self._sessions[key]


async def refresh_forever(gateway: Gateway, sessions: Sessions, timeout: float = 10.0) -> None:
    """Re-fetch live documents every `refresh` seconds; rebuild and notify when tools changed."""
    services = [s for s in gateway.services if s.profile.refresh]
    if not services:
        return
    interval = min(s.profile.refresh or 0 for s in services)
    while True:
        await anyio.sleep(interval)
        changed = False
        for service in services:
            try:
                changed = await anyio.to_thread.run_sync(gateway.refresh, service, timeout) or changed
            except GatewayError as exc:
                log.warning("refresh of %s failed, keeping the current tools: %s", service.profile.name, exc)
            except Exception as exc:  # noqa: BLE001 - a bad refresh must not end the server it runs beside
                log.warning("refresh of %s failed, keeping the current tools: %s: %s", service.profile.name,
                            type(exc).__name__, exc)
        if changed:
            gateway.rebuild()
            log.info("the tool list changed; notifying clients")
            await sessions.tools_changed()


def build_server(gateway: Gateway, sessions: Sessions | None = None) -> Server[Any]:
    """A low-level MCP server whose tools are the gateway's; clients are recorded in `sessions` when given."""

    def seen(session: Any) -> None:
        if sessions is not None:
            sessions.add(session)

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        seen(ctx.session)
        try:
            tools, next_cursor = gateway.page(params.cursor if params else None)
        except ValueError as exc:
            raise MCPError(types.INVALID_PARAMS, f"{exc}; start again without a cursor") from None
        return types.ListToolsResult(tools=tools, next_cursor=next_cursor)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        seen(ctx.session)

        async def progress(done: float, message: str) -> None:
            await ctx.session.report_progress(done, None, message)

        return await gateway.call(params.name, params.arguments or {}, progress)

    names = ", ".join(s.profile.name for s in gateway.services)
    return Server(
        "mcp-gateway",
        version=__version__,
        instructions=f"Tools that call these HTTP APIs: {names}. Each tool's description ends with its "
        "HTTP method and path.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        get_tool_input_schema=gateway.input_schema,
    )


async def serve_stdio(gateway: Gateway) -> None:
    """Serve on stdin/stdout (stdout is the JSON-RPC wire; logs go to stderr)."""
    sessions = Sessions()
    server = build_server(gateway, sessions)
    options = server.create_initialization_options(NotificationOptions(tools_changed=True))
    try:
        async with stdio_server() as (read_stream, write_stream), anyio.create_task_group() as tasks:
            tasks.start_soon(refresh_forever, gateway, sessions)
            await server.run(read_stream, write_stream, options)
            tasks.cancel_scope.cancel()
    finally:
        await gateway.aclose()


def http_app(gateway: Gateway, host: str, sessions: Sessions | None = None) -> Starlette:
    """The ASGI app: MCP at /mcp and a health check at /healthz."""

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "tools": len(gateway.tools)})

    server = build_server(gateway, sessions)
    return server.streamable_http_app(host=host, custom_starlette_routes=[Route("/healthz", health)])


async def serve_http(gateway: Gateway, host: str, port: int) -> None:
    """Serve streamable HTTP at http://HOST:PORT/mcp until interrupted."""
    import uvicorn

    refreshing = any(service.profile.refresh for service in gateway.services)
    sessions = Sessions() if refreshing else None  # kept only when a refresh may have news for them
    config = uvicorn.Config(http_app(gateway, host, sessions), host=host, port=port, log_level="warning",
                            lifespan="on")
    log.info("serving MCP at http://%s:%d/mcp", host, port)
    try:
        async with anyio.create_task_group() as tasks:
            if sessions is not None:
                tasks.start_soon(refresh_forever, gateway, sessions)
            await uvicorn.Server(config).serve()
            tasks.cancel_scope.cancel()
    finally:
        await gateway.aclose()
