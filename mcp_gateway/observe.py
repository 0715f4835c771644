"""What each tool call did, told to the operators: one log line per call on stderr (text or JSON) and, when asked
for, Prometheus metrics. `CallObserver` is an SDK server middleware, so every transport's calls pass through it."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mcp_gateway.discovery import CALL
from mcp_gateway.gateway import Gateway

calls_log = logging.getLogger("mcp_gateway.calls")

UNKNOWN = "-"  # a field that does not apply: the API of a search, the tool of a name nobody serves
ERROR_STATUSES = frozenset({"error", "unknown_tool", "failed"})  # counted as errors in the metrics


@dataclass(frozen=True)
class CallRecord:
    """One finished tool call, as logged and counted. Nothing in it is a secret: no arguments, no credentials.

    `status`: ok, error (an isError result: the upstream said no, or the arguments were wrong), unknown_tool,
    failed (the call raised), asked (2026-07-28: the user's confirmation was asked for, and the client calls again
    with the answer) or task (a job handed over as an MCP task). `bytes`: the size of the result's text and data as
    sent back.
    """

    tool: str
    api: str
    method: str
    path: str  # the operation's path template, without argument values
    status: str
    duration_ms: float
    bytes: int
    caller: str
    pid: int


class Metrics:
    """The Prometheus families of the gateway, on a registry of its own.

    Under several workers (`PROMETHEUS_MULTIPROC_DIR` set before prometheus_client is imported), every process
    writes its values to that folder and `exposition()` adds them up. A family added later (retries, circuit
    breaker state per upstream) belongs here, beside these; a gauge then needs its `multiprocess_mode`.
    """

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        labels = ("api", "tool")
        self.calls = Counter("mcp_gateway_tool_calls", "Tool calls answered, by API and tool", labels,
                             registry=self.registry)
        self.errors = Counter("mcp_gateway_tool_call_errors", "Tool calls that did not succeed, by API, tool and "
                              "status (error, unknown_tool, failed)", (*labels, "status"), registry=self.registry)
        self.latency = Histogram("mcp_gateway_tool_call_duration_seconds", "Time from the tools/call request to its "
                                 "answer, by API and tool", labels, registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))

    def count(self, record: CallRecord) -> None:
        self.calls.labels(record.api, record.tool).inc()
        if record.status in ERROR_STATUSES:
            self.errors.labels(record.api, record.tool, record.status).inc()
        self.latency.labels(record.api, record.tool).observe(record.duration_ms / 1000)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI endpoint: the text exposition format, every worker's values included."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        await Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)(scope, receive, send)


@contextmanager
def shared_metrics(enabled: bool) -> Iterator[None]:
    """While forked workers serve: a folder where each writes its metric values for /metrics to add up.

    prometheus_client chooses how to keep values when it is first imported, so this runs before any `Metrics`.
    """
    if not enabled:
        yield
        return
    folder = tempfile.mkdtemp(prefix="mcp-gateway-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(folder, ignore_errors=True)


class CallObserver:
    """SDK server middleware that times each tools/call, then logs it and counts it; other requests pass."""

    def __init__(self, gateway: Gateway, metrics: Metrics | None = None) -> None:
        self.gateway = gateway
        self.metrics = metrics

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        started = time.perf_counter()
        status, result = "failed", None
        try:
            result = await call_next(ctx)
            status = _status(result)
            return result
        except MCPError:
            status = "unknown_tool"
            raise
        finally:
            self.record(ctx, status, (time.perf_counter() - started) * 1000, result)

    def record(self, ctx: ServerRequestContext[Any, Any], status: str, duration_ms: float,
               result: HandlerResult) -> None:
        """Log and count one call (never raises: observing must not break the call)."""
        self.record_call(ctx.params or {}, ctx.request, status, duration_ms, result)

    def record_call(self, params: Mapping[str, Any], request: HTTPConnection | None, status: str, duration_ms: float,
                    result: HandlerResult) -> None:
        """Log and count one call from its params and HTTP request (None on stdio), never raising."""
        try:
            name = params.get("name")
            tool = name if isinstance(name, str) and status != "unknown_tool" else UNKNOWN
            record = CallRecord(tool, *self._target(tool, params.get("arguments")), status, round(duration_ms, 2),
                                _size(result), caller_of(request) or UNKNOWN, os.getpid())
            if calls_log.isEnabledFor(logging.INFO):
                calls_log.info(text_line(record), extra={"call": record})
            if self.metrics is not None:
                self.metrics.count(record)
        except Exception:  # noqa: BLE001 - a broken log line must not turn an answered call into an error
            calls_log.exception("could not record a tool call")

    def _target(self, tool: str, arguments: Any) -> tuple[str, str, str]:
        """The API, HTTP method and path template a call went to; a call_operation names its operation."""
        if tool == CALL and self.gateway.discovery is not None and isinstance(arguments, dict):
            tool = str(arguments.get("name"))
        entry = self.gateway.catalog.get(tool)
        if entry is None:
            return UNKNOWN, UNKNOWN, UNKNOWN
        compiled, api = entry
        return api.profile.name, compiled.plan.method.upper(), compiled.plan.path


def caller_of(request: HTTPConnection | None) -> str | None:
    """Who made a request, as a log may show it: a fixed token's number (`token#2`) or a JWT's `sub`, never a
    secret; None over stdio or without inbound auth."""
    user = request.scope.get("user") if request is not None else None
    if not isinstance(user, AuthenticatedUser):
        return None
    return user.access_token.subject or user.access_token.client_id


def _status(result: HandlerResult) -> str:
    """What an answered call's result says of it: ok, error, asked or task."""
    if isinstance(result, dict):
        if result.get("resultType") == "input_required":
            return "asked"
        if result.get("resultType") == "task" or ("task" in result and "content" not in result):
            return "task"
        return "error" if result.get("isError") is True else "ok"
    return "error" if getattr(result, "is_error", False) is True else "ok"


def _size(result: HandlerResult) -> int:
    """Characters of text and of base64 data in a result's content (what dominates its size on the wire)."""
    if not isinstance(result, dict):
        return 0
    total = 0
    for block in result.get("content") or ():
        if isinstance(block, dict):
            for key in ("text", "data"):
                value = block.get(key)
                if isinstance(value, str):
                    total += len(value)
            resource = block.get("resource")
            if isinstance(resource, dict):
                total += sum(len(v) for k, v in resource.items() if k in ("text", "blob") and isinstance(v, str))
    return total


def text_line(record: CallRecord) -> str:
    """The call as `key=value` pairs, for the text log format (a value with a space or a quote is JSON-quoted)."""
    return "call " + " ".join(f"{key}={_plain(value)}" for key, value in asdict(record).items())


def _plain(value: object) -> str:
    text = str(value)
    if text and text.isprintable() and not any(c in text for c in ' "=\\'):
        return text
    return json.dumps(text, ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    """One JSON object per log line: time, level, logger and message, and a call's fields at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                                "logger": record.name}
        call = getattr(record, "call", None)
        if isinstance(call, CallRecord):
            line.update(event="tool_call", **asdict(call))
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def use_json_logs() -> None:
    """Format every handler of the root logger as JSON lines (`--log-format json`)."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(JsonFormatter())
