"""The MCP server: the SDK's low-level `Server` over a Gateway, on stdio or streamable HTTP."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.session import ServerSession
from mcp.server.streamable_http_manager import (
    DEFAULT_MAX_REQUEST_BODY_SIZE,
    DEFAULT_MAX_SESSIONS,
    DEFAULT_SESSION_IDLE_TIMEOUT,
    StreamableHTTPASGIApp,
    StreamableHTTPSessionManager,
)
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_gateway import __version__
from mcp_gateway.confirm import AskFirst, confirmer_for
from mcp_gateway.early import SERVER_NAME, TOOLS_LIST_CHANGED
from mcp_gateway.errors import GatewayError, UnknownTool
from mcp_gateway.gateway import CallContext, Gateway
from mcp_gateway.observe import CallObserver, Metrics, shared_metrics
from mcp_gateway.pipes import Pipes
from mcp_gateway.refresh import refresh_forever, refreshing
from mcp_gateway.stdio import checked_stdio_server
from mcp_gateway.task_protocol import (
    LegacyTaskCalls,
    legacy_capabilities,
    modern_answer,
    modern_task_request,
    serve_task_methods,
)
from mcp_gateway.tasks import EXTENSION, Task, TaskRequest, TaskStore
from mcp_gateway.workers import run_workers

if TYPE_CHECKING:
    from mcp_gateway.inbound_auth import InboundAuth

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


class GatewayServer(Server[Any]):
    """The SDK's low-level server, saying in a 2025-11-25 handshake that it makes tasks of tool calls when some tool
    starts a job (2026-07-28 clients learn it from the advertised tasks extension)."""

    makes_tasks = False

    def get_capabilities(self, notification_options: NotificationOptions | None = None,
                         experimental_capabilities: dict[str, dict[str, Any]] | None = None,
                         extensions: dict[str, dict[str, Any]] | None = None, *,
                         protocol_version: str | None = None) -> types.ServerCapabilities:
        capabilities = super().get_capabilities(notification_options, experimental_capabilities, extensions,
                                                protocol_version=protocol_version)
        if not self.makes_tasks or protocol_version in MODERN_PROTOCOL_VERSIONS:
            return capabilities
        return capabilities.model_copy(update={"tasks": legacy_capabilities()})


def build_server(gateway: Gateway, notifier: ToolListNotifier | None = None, observer: CallObserver | None = None,
                 tasks: TaskStore | None = None) -> Server[Any]:
    """A low-level MCP server whose tools are the gateway's; clients are recorded in `notifier` when given, each
    tool call is logged (and counted) by `observer`, by default a log line alone, and jobs are handed over as MCP
    tasks kept in `tasks` while it is serving (None: jobs are only waited for)."""

    def seen(ctx: Context) -> None:
        if notifier is not None:
            notifier.seen(ctx)

    async def list_tools(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        seen(ctx)
        try:
            tools, next_cursor = gateway.catalog.page(params.cursor if params else None)
        except ValueError as exc:
            raise MCPError(types.INVALID_PARAMS, f"{exc}; start again without a cursor") from None
        return types.ListToolsResult(tools=[types.Tool.model_validate(tool) for tool in tools], next_cursor=next_cursor)

    async def run_call(ctx: Context, params: types.CallToolRequestParams, task: TaskRequest | None
                       ) -> types.CallToolResult | types.InputRequiredResult | Task:
        seen(ctx)

        async def progress(done: float, message: str) -> None:
            await ctx.session.report_progress(done, None, message)

        context = CallContext(progress, ctx.request.headers if ctx.request is not None else None,
                              confirmer_for(ctx, params), task)
        try:
            return await gateway.call(params.name, params.arguments or {}, context)
        except AskFirst as ask:
            return ask.result  # 2026-07-28: the client asks the user, then calls again with the answer
        except UnknownTool as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None

    async def call_tool(ctx: Context, params: types.CallToolRequestParams
                        ) -> types.CallToolResult | types.InputRequiredResult | dict[str, Any]:
        return modern_answer(await run_call(ctx, params, modern_task_request(ctx, tasks) if tasks else None))

    server = GatewayServer(
        SERVER_NAME,
        version=__version__,
        instructions=gateway.instructions,
        on_list_tools=list_tools,
        on_subscriptions_listen=notifier.listen if notifier is not None else None,
        get_tool_input_schema=lambda name: gateway.catalog.input_schema(name),
    )
    server.add_request_handler("tools/call", types.CallToolRequestParams, call_tool)  # its answer may be a task

    async def initialized(ctx: Context, params: types.NotificationParams) -> None:
        seen(ctx)  # a client whose tool list came from the early answers (early.py) is known from here

    server.add_notification_handler("notifications/initialized", types.NotificationParams, initialized)
    server.middleware = []  # the SDK's default OpenTelemetry span per message: spans nobody here collects
    server.middleware.append(observer or CallObserver(gateway))  # a log line (and metrics) per tool call
    if gateway.has_jobs and tasks is not None:
        server.makes_tasks = True
        server.extensions[EXTENSION] = {}
        server.middleware.append(LegacyTaskCalls(tasks, run_call))
        serve_task_methods(server, tasks)
    return server


async def serve_stdio(gateway: Gateway, pipes: Pipes | None) -> None:
    """Serve on stdin/stdout (stdout is the JSON-RPC wire; logs go to stderr): over `pipes` on the event loop
    when given, else through the SDK's worker threads."""
    notifier = ToolListNotifier()
    store = TaskStore()
    server = build_server(gateway, notifier, tasks=store)
    options = server.create_initialization_options(NotificationOptions(tools_changed=TOOLS_LIST_CHANGED))
    try:
        async with (checked_stdio_server(pipes) as (read_stream, write_stream), store.serving(),
                    anyio.create_task_group() as tasks):
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


@dataclass(frozen=True)
class HttpOptions:
    """How the streamable HTTP transport serves: the bind, its Host/Origin checks (None: loopback only), inbound
    auth, the request body limit, sessions (stateless unless `stateful`), worker processes and /metrics."""

    host: str = "127.0.0.1"
    port: int = 8000
    security: TransportSecuritySettings | None = None
    auth: InboundAuth | None = None
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BODY_SIZE
    stateful: bool = False
    workers: int = 1
    metrics: bool = False


def http_app(gateway: Gateway, options: HttpOptions, notifier: ToolListNotifier | None = None) -> Starlette:
    """The ASGI app: MCP at /mcp (Host and Origin checked, behind inbound auth when configured, bodies limited),
    an open health check at /healthz, and when asked for /metrics (behind the same auth) and the OAuth protected
    resource metadata.

    Built from the SDK's pieces rather than `Server.streamable_http_app`, so that a fixed-token mode needs no
    OAuth issuer and a body over the limit is answered in JSON-RPC.
    """
    metrics = Metrics() if options.metrics else None
    # tasks live in one process: with several workers a task's next request may reach another one
    store = TaskStore() if options.workers <= 1 else None
    server = build_server(gateway, notifier, CallObserver(gateway, metrics), store)
    manager = StreamableHTTPSessionManager(
        app=server, stateless=not options.stateful, max_request_body_size=options.max_request_bytes,
        security_settings=options.security if options.security is not None else transport_security(options.host))

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    auth = options.auth

    def guarded(app: ASGIApp) -> ASGIApp:
        return app if auth is None else RequireAuthMiddleware(app, list(auth.scopes), auth.metadata_url())

    routes: list[BaseRoute] = [
        Route("/healthz", health, methods=["GET"]),
        Route("/mcp", guarded(McpFront(StreamableHTTPASGIApp(manager), options.max_request_bytes,
                                       stateless=not options.stateful)))]
    if metrics is not None:
        routes.append(Route("/metrics", guarded(metrics), methods=["GET"]))
    middleware: list[Middleware] = []
    if auth is not None:
        routes += auth.metadata_routes()
        middleware = [Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(auth.verifier)),
                      Middleware(AuthContextMiddleware)]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with manager.run(), store.serving() if store is not None else nullcontext():
            yield

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


class McpFront:
    """What the gateway puts in front of the SDK's /mcp handler: a JSON-RPC body for the 413 of a request body over
    the limit; -32600 for a request whose id is no string or integer (which the SDK takes for a notification and
    accepts with 202, leaving the client waiting for an answer); and, when stateless, 405 for a GET (a stream no
    later message could ever be written to).

    The SDK's session manager enforces the limit itself (behind the auth check, so no unauthenticated body is
    held); this only turns its plain-text answer into an error an MCP client can read and act on.
    """

    def __init__(self, app: ASGIApp, limit: int, stateless: bool) -> None:
        self.app = app
        self.stateless = stateless
        self.too_large = _jsonrpc_error(types.INVALID_REQUEST, f"The request body is larger than this server accepts "
                                        f"({limit:,} bytes): send smaller arguments, or ask the operator to raise "
                                        "--max-request-bytes")
        self.no_stream = _jsonrpc_error(types.INVALID_REQUEST, "This server keeps no sessions, so it has no stream "
                                        "to open: send requests with POST (2026-07-28 clients listen for changes "
                                        "with subscriptions/listen)")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.stateless and scope["type"] == "http" and scope["method"] == "GET":
            await _send_json(send, HTTPStatus.METHOD_NOT_ALLOWED, self.no_stream, [(b"allow", b"POST")])
            return
        replaced = False
        body: list[bytes] = []

        async def read() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.append(message.get("body", b""))
            return message

        async def relay(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
                replaced = True
                await _send_json(send, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, self.too_large)
            elif message["type"] == "http.response.start" and message["status"] == HTTPStatus.ACCEPTED \
                    and (error := _bad_id_error(b"".join(body))) is not None:
                replaced = True
                await _send_json(send, HTTPStatus.BAD_REQUEST, error)
            elif not replaced:  # the SDK's own body of a replaced answer is dropped
                await send(message)

        await self.app(scope, receive if scope["type"] != "http" else read, relay)


def _bad_id_error(body: bytes) -> bytes | None:
    """The -32600 answer to an accepted body that is a request with an id that is no string or integer (the SDK read
    it as a notification); None for a real notification or response."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or "id" not in message or "method" not in message:
        return None
    shown = json.dumps(message["id"])
    shown = shown if len(shown) <= 40 else f"{shown[:40]}..."
    return _jsonrpc_error(types.INVALID_REQUEST, f"Invalid Request: id: {shown} is no request id; an id is a string "
                                                 "or an integer")


def _jsonrpc_error(code: int, message: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}).encode()


async def _send_json(send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def serve_http(gateway: Gateway, options: HttpOptions) -> None:
    """Serve streamable HTTP at http://HOST:PORT/mcp until interrupted: in this process, or in `options.workers`
    forked processes sharing the port."""
    security = options.security if options.security is not None else transport_security(options.host)
    if not security.enable_dns_rebinding_protection:
        log.warning("--allow-any-host: the Host and Origin headers are not checked, so a web page could reach "
                    "these tools through DNS rebinding unless a reverse proxy in front checks them")
    if options.auth is None:
        log.info("no inbound authentication: anyone who can reach http://%s:%d/mcp can call these tools "
                 "(--auth-token-env VAR or --oauth-issuer URL turn it on)", options.host, options.port)
    if refreshing(gateway) and not options.stateful:
        log.info("stateless HTTP: 2026-07-28 clients hear of tool list changes on subscriptions/listen; 2025-11-25 "
                 "clients see them at their next tools/list (--stateful, with one worker, notifies them too)")
    log.info("serving MCP at http://%s:%d/mcp (%s%s)", options.host, options.port,
             "sessions" if options.stateful else "stateless",
             f", {options.workers} workers" if options.workers > 1 else "")
    if options.workers <= 1:
        anyio.run(_serve_http, gateway, options, None)
        return
    with shared_metrics(options.metrics):
        run_workers(options.workers, options.host, options.port,
                    lambda sock: anyio.run(_serve_http, gateway, options, sock))


async def _serve_http(gateway: Gateway, options: HttpOptions, sock: socket.socket | None) -> None:
    """One process's server: uvicorn on the bind (or on `sock`, a worker's share of the port), and the refresh."""
    import uvicorn

    notifier = ToolListNotifier() if refreshing(gateway) else None  # sessions kept only when there may be news
    config = uvicorn.Config(http_app(gateway, options, notifier), host=options.host, port=options.port,
                            log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=10,
                            log_config=None)  # uvicorn's lines go through the gateway's handler (and format)
    try:
        async with anyio.create_task_group() as tasks:
            if notifier is not None:
                tasks.start_soon(refresh_forever, gateway, notifier.tools_changed)
            await uvicorn.Server(config).serve(sockets=[sock] if sock is not None else None)
            tasks.cancel_scope.cancel()
    finally:
        await gateway.aclose()
