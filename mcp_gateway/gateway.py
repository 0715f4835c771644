"""Targets -> a running set of tools: load and compile each API, then serve calls by interpreting plans."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import mcp_types as types
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from mcp_gateway.compile import Compilation, compile_document
from mcp_gateway.coerce import coerce_arguments, scalar_types
from mcp_gateway.compile.naming import NameRegistry
from mcp_gateway.compile.tools import security_schemes
from mcp_gateway.errors import DocumentError, GatewayError
from mcp_gateway.plan import CompiledTool
from mcp_gateway.profile import Auth, Profile, expand_env, load_profile, looks_like_profile
from mcp_gateway.request import build_request, json_text
from mcp_gateway.response import error_result, render_error, render_success
from mcp_gateway.spec import read_document
from mcp_gateway.spec.load import is_url
from mcp_gateway.streaming import StreamAssembler
from mcp_gateway.upstream import Credentials, Upstream, UpstreamError

Progress = Callable[[float, str], Awaitable[None]]

log = logging.getLogger("mcp_gateway")


@dataclass(frozen=True)
class TargetOptions:
    """Command-line settings for bare documents (and `--base-url` for a single profile)."""

    base_url: str | None = None
    api_key_env: str | None = None
    api_key_header: str | None = None
    bearer_env: str | None = None
    spec_timeout: float = 10.0


def profile_for(target: str, options: TargetOptions, single: bool) -> tuple[Profile, bool]:
    """A profile from a YAML profile file, or one made from the flags for a bare document; and which it was."""
    if looks_like_profile(target):
        profile = load_profile(target)
        if options.base_url and single:
            profile = profile.model_copy(update={"base_url": options.base_url})
        return profile, True
    auth = Auth()
    if options.bearer_env:
        auth = Auth(type="bearer", env=options.bearer_env)
    elif options.api_key_env:
        auth = Auth(type="api_key", env=options.api_key_env, name=options.api_key_header or "X-API-Key")
    name = Path(target.split("?")[0]).stem.split(".")[0] or "api"
    return Profile(name=name, spec=target, base_url=options.base_url, auth=auth), False


def read_spec(profile: Profile, timeout: float) -> dict[str, Any]:
    """The profile's document, or its fallback (with a warning) when the document cannot be had."""
    try:
        return read_document(profile.spec, timeout=timeout)
    except DocumentError as exc:
        if not profile.spec_fallback:
            raise
        log.warning("%s; using the bundled copy %s instead", exc, profile.spec_fallback)
        return read_document(profile.spec_fallback, timeout=timeout)


def _api_key_scheme(schemes: dict[str, Any]) -> dict[str, Any] | None:
    keys = [s for s in schemes.values() if isinstance(s, dict) and s.get("type") == "apiKey"]
    return keys[0] if len(keys) == 1 else None


def refine_auth(profile: Profile, options: TargetOptions, document: dict[str, Any]) -> Profile:
    """For a bare document with `--api-key-env` and no header name, use the document's own apiKey scheme."""
    scheme = _api_key_scheme(security_schemes(document))
    if profile.auth.type != "api_key" or options.api_key_header or not scheme:
        return profile
    auth = profile.auth.model_copy(update={"in_": scheme.get("in", "header"), "name": scheme.get("name", "X-API-Key")})
    return profile.model_copy(update={"auth": auth})


def base_url_for(profile: Profile, compilation: Compilation) -> str | None:
    """The explicit base URL, else the document's first server (relative ones resolved against a spec URL)."""
    if profile.base_url:
        return expand_env(profile.base_url, f"profile {profile.name} (base_url)")
    url = compilation.default_base_url
    if url and not url.startswith(("http://", "https://")):
        return urljoin(profile.spec, url) if is_url(profile.spec) else None
    return url


@dataclass
class Service:
    """One API being served: its compiled tools and the upstream that answers them."""

    profile: Profile
    compilation: Compilation
    upstream: Upstream | None  # None: no base URL known, so calls explain how to set one


class Gateway:
    """All tools of all targets, with compiled argument validators, served by name."""

    def __init__(self, services: list[Service], page_size: int = 500) -> None:
        self.services = services
        self.page_size = page_size
        self.rebuild()

    def rebuild(self) -> None:
        """Index the tools of every service (again, after a refresh replaced a compilation)."""
        self.tools: dict[str, tuple[CompiledTool, Service]] = {}
        for service in self.services:
            for tool in service.compilation.tools:
                self.tools[tool.name] = (tool, service)
        self._listed = [types.Tool.model_validate(tool.to_mcp()) for tool, _ in self.tools.values()]
        self._validators: dict[str, tuple[Draft202012Validator, dict[str, str]]] = {}

    def refresh(self, service: Service, timeout: float) -> bool:
        """Re-read a service's live document and recompile it; True when its tools changed (blocking I/O)."""
        document = read_document(service.profile.spec, timeout=timeout)
        registry = NameRegistry(service.profile.name_limit)
        registry.reserve(name for name, (_, owner) in self.tools.items() if owner is not service)
        compilation = compile_document(document, service.profile, registry)
        if [t.to_mcp() for t in compilation.tools] == [t.to_mcp() for t in service.compilation.tools]:
            return False
        service.compilation = compilation
        return True

    def page(self, cursor: str | None) -> tuple[list[types.Tool], str | None]:
        """One page of tools/list; the cursor is the offset of the next page."""
        if cursor and not cursor.isdigit():
            raise ValueError(f"invalid cursor {cursor!r}")
        start = int(cursor) if cursor else 0
        if self.page_size <= 0:
            return self._listed, None
        end = start + self.page_size
        return self._listed[start:end], (str(end) if end < len(self._listed) else None)

    def input_schema(self, name: str) -> dict[str, Any] | None:
        """The input schema of a tool, for the SDK's header validation."""
        entry = self.tools.get(name)
        return entry[0].input_schema if entry else None

    def _checks(self, tool: CompiledTool) -> tuple[Draft202012Validator, dict[str, str]]:
        checks = self._validators.get(tool.name)
        if checks is None:
            checks = (Draft202012Validator(tool.input_schema), scalar_types(tool.input_schema))
            self._validators[tool.name] = checks
        return checks

    def check_arguments(self, tool: CompiledTool, arguments: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The arguments (scalars coerced to their declared types) and None when they fit the inputSchema,
        else a message naming the argument."""
        validator, scalars = self._checks(tool)
        arguments = coerce_arguments(arguments, scalars)
        error = best_match(validator.iter_errors(arguments))
        if error is None:
            return arguments, None
        where = "/".join(str(p) for p in error.absolute_path)
        message = error.message if len(error.message) <= 400 else error.message[:400] + "…"
        subject = f"argument `{where}`" if where else "the arguments"
        return arguments, (f"Invalid arguments for {tool.name}: {subject}: {message}. Nothing was sent upstream; "
                           f"fix the arguments to match the tool's inputSchema and call again.")

    async def call(self, name: str, arguments: dict[str, Any], progress: Progress | None = None
                   ) -> types.CallToolResult:
        """Validate, send and render one tool call; every failure becomes an isError result.

        An event-stream answer is assembled into one result; `progress` hears about each event.
        """
        entry = self.tools.get(name)
        if entry is None:
            return error_result(f"Unknown tool {name!r}. Call tools/list to see the tools this server offers.")
        tool, service = entry
        try:
            return await self._call(tool, service, arguments, progress)
        except Exception as exc:  # noqa: BLE001 - the agent gets a message, the log gets the detail
            detail = service.upstream.redact(repr(exc)) if service.upstream else repr(exc)
            log.error("unexpected error in %s: %s", name, detail)
            return error_result(f"{name} failed with an internal error ({type(exc).__name__}); see the server log.")

    async def _call(self, tool: CompiledTool, service: Service, arguments: dict[str, Any],
                    progress: Progress | None) -> types.CallToolResult:
        name = tool.name
        arguments, problem = self.check_arguments(tool, arguments)
        if problem:
            return error_result(problem)
        upstream = service.upstream
        if upstream is None:
            return error_result(f"{name} cannot be called: no base URL is known for {service.profile.name}. "
                                "Start the server with --base-url URL, or set base_url in the profile.")
        missing = upstream.credentials.missing
        if missing:
            return error_result(f"{name} needs credentials: set the environment variable {' and '.join(missing)} "
                                "and restart the server.")
        assembler = StreamAssembler()

        async def on_event(event: str, data: str) -> None:
            assembler.add(event, data)
            if progress is not None:
                await progress(assembler.events, f"{assembler.events} events received")

        try:
            parts = build_request(tool.plan, arguments)
            base = None if service.profile.base_url else tool.plan.base_url
            reply = await upstream.send(parts, base, on_event)
        except UpstreamError as exc:
            return error_result(f"{name} failed: {exc}")
        if reply.streamed:
            assembled = assembler.result()
            result = types.CallToolResult(content=[types.TextContent(type="text", text=json_text(assembled))],
                                          structured_content=assembled)
        elif reply.status >= 400 or reply.status < 200:
            result = render_error(tool, reply, upstream.credentials.env_names())
        else:
            result = render_success(tool, reply, service.profile.max_response_bytes)
        for block in result.content:
            if isinstance(block, types.TextContent):
                block.text = upstream.redact(block.text)
        return result

    async def aclose(self) -> None:
        """Close the pooled connections."""
        clients = {id(s.upstream.client): s.upstream.client for s in self.services if s.upstream}
        for client in clients.values():
            await client.aclose()


def _connection(profile: Profile, compilation: Compilation, strict: bool) -> tuple[str | None, dict[str, str]]:
    """Base URL and static headers with `${VAR}` expanded; empty header values are not sent.

    When not `strict` (listing tools), a missing variable is a warning and calls explain it instead.
    """
    try:
        base_url = base_url_for(profile, compilation)
        headers = {k: expand_env(v, f"profile {profile.name} (headers.{k})") for k, v in profile.headers.items()}
    except GatewayError as exc:
        if strict:
            raise
        log.warning("%s", exc)
        return None, {}
    if not base_url:
        log.warning("%s: no absolute server URL in the document; pass --base-url to make calls", profile.name)
    return base_url, {k: v for k, v in headers.items() if v}


def build_gateway(targets: list[str], options: TargetOptions, page_size: int = 500,
                  client: httpx.AsyncClient | None = None, strict: bool = True) -> Gateway:
    """Load, compile and wire every target; a target that fails stops start-up with its reason."""
    registry = NameRegistry(64)
    services: list[Service] = []
    shared = client or httpx.AsyncClient(limits=httpx.Limits(max_connections=100))
    for target in targets:
        profile, from_file = profile_for(target, options, single=len(targets) == 1)
        document = read_spec(profile, options.spec_timeout)
        if not from_file:
            profile = refine_auth(profile, options, document)
        registry.limit = profile.name_limit
        compilation = compile_document(document, profile, registry)
        base_url, headers = _connection(profile, compilation, strict)
        upstream = None
        if base_url:
            credentials = Credentials(profile.auth)
            # a header filled from the environment may be a credential too: never show its value
            credentials.secrets.extend(v for k, v in headers.items() if v != profile.headers[k] and len(v) >= 8)
            upstream = Upstream(base_url, credentials, headers, profile.timeout, profile.max_response_bytes, shared)
        services.append(Service(profile, compilation, upstream))
        log.info("%s: %d tools from %d operations (%d skipped)", profile.name, len(compilation.tools),
                 compilation.operations, len(compilation.skipped))
    return Gateway(services, page_size)


__all__ = ["Gateway", "GatewayError", "TargetOptions", "build_gateway", "profile_for", "read_spec"]
