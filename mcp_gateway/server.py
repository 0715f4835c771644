"""The MCP server: the SDK's low-level `Server` over a Gateway, on stdio or streamable HTTP."""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.session import ServerSession
from mcp.server.streamable_http_manager import DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_IDLE_TIMEOUT
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_gateway import __version__
from mcp_gateway.errors import GatewayError, UnknownTool
from mcp_gateway.gateway import Gateway
from mcp_gateway.refresh import refresh_forever, refreshing
from mcp_gateway.stdio import checked_stdio_server

log = logging.getLogger("mcp_gateway")

Context = ServerRequestContext[Any, Any]

_STDIO = "stdio"  # the one connection of a stdio server


class ToolListNotifier:
    """Tells clients that the tool list changed.

    2026-07-28 clients hear it on their `subscriptions/listen` streams (the SDK's bus and handler).
    2025-11-25 clients get `notifications/tools/list_changed` on their session: the latest session
    seen on each connection (stdio, or an HTTP `Mcp-Session-Id`) is kept, at most as many as the
    SDK keeps HTTP sessions, and none past the SDK's idle timeout, after which it has closed them.
    """

    def __init__(self, limit: int = DEFAULT_MAX_SESSIONS, idle: float = DEFAULT_SESSION_IDLE_TIMEOUT) -> None:
        self.limit = limit
        self.idle = idle
        self.bus = InMemorySubscriptionBus()
        self.listen = ListenHandler(self.bus)
        self._sessions: OrderedDict[str, tuple[ServerSession, float]] = OrderedDict()  # oldest first

    def __len__(self) -> int:
        return len(self._sessions)

    def seen(self, ctx: Context) -> None:
        """Record the session of a request, if it is one that can be notified outside a request."""
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return  # no standing session: such a client listens with subscriptions/listen
        key = _STDIO if ctx.request is None else ctx.request.headers.get("mcp-session-id")
        if key is None:
            return
        now = time.monotonic()
        self._sessions[key] = (ctx.session, now)
        self._sessions.move_to_end(key)
        while self._sessions and (len(self._sessions) > self.limit
                                  or next(iter(self._sessions.values()))[1] < now - self.idle):
            self._sessions.popitem(last=False)

    async def tools_changed(self) -> None:
        """Notify every listener and every recorded session; a session that fails is dropped."""
        await self.bus.publish(ToolsListChanged())
        for key, (session, _) in list(self._sessions.items()):
            try:
                await session.send_tool_list_changed()
            except Exception:  # noqa: BLE001 - a closed connection must not stop the others
                self._sessions.pop(key, None)


def build_server(gateway: Gateway, notifier: ToolListNotifier | None = None) -> Server[Any]:
    """A low-level MCP server whose tools are the gateway's; clients are recorded in `notifier` when given."""

    def seen(ctx: Context) -> None:
        if notifier is not None:
            notifier.seen(ctx)

    async def list_tools(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        seen(ctx)
        try:
            tools, next_cursor = gateway.catalog.page(params.cursor if params else None)
        except ValueError as exc:
            raise MCPError(types.INVALID_PARAMS, f"{exc}; start again without a cursor") from None
        return types.ListToolsResult(tools=tools, next_cursor=next_cursor)

    async def call_tool(ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        seen(ctx)

        async def progress(done: float, message: str) -> None:
            await ctx.session.report_progress(done, None, message)

        try:
            return await gateway.call(params.name, params.arguments or {}, progress)
        except UnknownTool as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None

    names = ", ".join(api.profile.name for api in gateway.apis)
    return Server(
        "mcp-gateway",
        version=__version__,
        instructions=f"Tools that call these HTTP APIs: {names}. Each tool's description ends with its "
        "HTTP method and path.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_subscriptions_listen=notifier.listen if notifier is not None else None,
        get_tool_input_schema=lambda name: gateway.catalog.input_schema(name),
    )


async def serve_stdio(gateway: Gateway) -> None:
    """Serve on stdin/stdout (stdout is the JSON-RPC wire; logs go to stderr)."""
    notifier = ToolListNotifier()
    server = build_server(gateway, notifier)
    options = server.create_initialization_options(NotificationOptions(tools_changed=True))
    try:
        async with checked_stdio_server() as (read_stream, write_stream), anyio.create_task_group() as tasks:
            tasks.start_soon(refresh_forever, gateway, notifier.tools_changed)
            await server.run(read_stream, write_stream, options)
            tasks.cancel_scope.cancel()
    finally:
        await gateway.aclose()


def is_loopback(host: str) -> bool:
    """Whether a bind address accepts connections from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def transport_security(host: str, allowed_hosts: Sequence[str] = (), allowed_origins: Sequence[str] = (),
                       any_host: bool = False) -> TransportSecuritySettings:
    """The Host and Origin checks for an HTTP bind, so that no web page can reach the tools (DNS rebinding).

    Loopback names and origins are always accepted (a page elsewhere cannot send them), then the allow-lists.
    A bind other computers can reach needs its allow-list, or `any_host` (a proxy in front checks both headers,
    nothing is checked here). Requests without an Origin header (clients that are not browsers) pass, as in the
    SDK. Raises GatewayError naming the flag to add.
    """
    if any_host:
        if allowed_hosts or allowed_origins:
            raise GatewayError("--allow-any-host turns the Host and Origin checks off, so --allow-host and "
                               "--allow-origin would do nothing: give one or the other")
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    if not is_loopback(host) and not allowed_hosts:
        raise GatewayError(f"--host {host} accepts connections from other computers, so the Host header must be "
                           "checked: add --allow-host HOST[:PORT] for each name clients use (e.g. "
                           "--allow-host gateway.internal:8000, or gateway.internal:* for any port) and "
                           "--allow-origin ORIGIN for browser clients, or --allow-any-host when a reverse proxy "
                           "in front checks Host and Origin")
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    if is_loopback(host):  # another loopback address, such as 127.0.0.2
        hosts.append(f"[{host}]:*" if ":" in host else f"{host}:*")
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    return TransportSecuritySettings(allowed_hosts=list(dict.fromkeys([*hosts, *allowed_hosts])),
                                     allowed_origins=list(dict.fromkeys([*origins, *allowed_origins])))


def http_app(gateway: Gateway, host: str, notifier: ToolListNotifier | None = None,
             security: TransportSecuritySettings | None = None) -> Starlette:
    """The ASGI app: MCP at /mcp (Host and Origin checked as `security` says, by default loopback only) and a
    health check at /healthz."""

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "tools": len(gateway.catalog)})

    server = build_server(gateway, notifier)
    checks = security if security is not None else transport_security(host)
    return server.streamable_http_app(host=host, transport_security=checks,
                                      custom_starlette_routes=[Route("/healthz", health)])


async def serve_http(gateway: Gateway, host: str, port: int, security: TransportSecuritySettings) -> None:
    """Serve streamable HTTP at http://HOST:PORT/mcp until interrupted."""
    import uvicorn

    notifier = ToolListNotifier() if refreshing(gateway) else None  # sessions kept only when there may be news
    config = uvicorn.Config(http_app(gateway, host, notifier, security), host=host, port=port, log_level="warning",
                            lifespan="on")
    if not security.enable_dns_rebinding_protection:
        log.warning("--allow-any-host: the Host and Origin headers are not checked, so a web page could reach "
                    "these tools through DNS rebinding unless a reverse proxy in front checks them")
    log.info("serving MCP at http://%s:%d/mcp", host, port)
    try:
        async with anyio.create_task_group() as tasks:
            if notifier is not None:
                tasks.start_soon(refresh_forever, gateway, notifier.tools_changed)
            await uvicorn.Server(config).serve()
            tasks.cancel_scope.cancel()
    finally:
        await gateway.aclose()
