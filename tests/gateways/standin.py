"""The base of every stand-in gateway: a real HTTP/1.1 server on 127.0.0.1 that routes, records and streams.

A stand-in behaves as its gateway's documents say (auth, error shapes, rate-limit headers, server-sent
events). Handlers get the recorded request and the path's named groups and return a `Reply`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.upstream import LocalServer, Recorded, RecordingHandler


@dataclass
class Reply:
    """A whole answer (`body`) or a server-sent event stream (`events`, each already framed)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    events: list[str] | None = None


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})


def text_reply(text: str, status: int = 200) -> Reply:
    return Reply(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


def sse_reply(events: Iterable[str], headers: dict[str, str] | None = None) -> Reply:
    return Reply(200, b"", {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **(headers or {})},
                 list(events))


def sse_data(payload: Any) -> str:
    """One OpenAI-style event: `data: {...}`."""
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {text}\n\n"


def sse_event(name: str, payload: Any) -> str:
    """One named event, as the Anthropic Messages API sends them."""
    return f"event: {name}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"


Handler = Callable[[Recorded, dict[str, str]], Reply]


def _pattern(template: str) -> re.Pattern[str]:
    """`/pods/{pod_id}` -> a regex with a named group per path variable."""
    parts = re.split(r"({[A-Za-z_][A-Za-z0-9_]*})", template)
    regex = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$")


class StandIn(LocalServer):
    """Subclasses register routes with `self.route(...)` and implement `authenticate` and `error`."""

    def __init__(self) -> None:
        super().__init__()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.lock = threading.Lock()

    # -- to override ---------------------------------------------------------------------------
    def authenticate(self, request: Recorded) -> Reply | None:
        """None when the request may go on, else the refusal."""
        return None

    def error(self, status: int, message: str, kind: str = "invalid_request_error",
              code: str | int | None = None, headers: dict[str, str] | None = None) -> Reply:
        """An error in this gateway's own shape."""
        return json_reply({"error": {"message": message, "type": kind, "code": code}}, status, headers)

    # -- routing -------------------------------------------------------------------------------
    def route(self, method: str, template: str, handler: Handler) -> None:
        self._routes.append((method.upper(), _pattern(template), handler))

    def dispatch(self, request: Recorded) -> Reply:
        refusal = self.authenticate(request)
        if refusal is not None:
            return refusal
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.match(request.raw_path)
            if match:
                allowed = True
                if method == request.method:
                    return handler(request, match.groupdict())
        if allowed:
            return self.error(405, f"Method {request.method} not allowed on {request.raw_path}")
        return self.error(404, f"No route {request.method} {request.raw_path}", "not_found_error")

    # -- what tests read ---------------------------------------------------------------------------
    def received(self, method: str, path: str) -> list[Recorded]:
        """The requests that arrived for one method and path, in order."""
        return [r for r in self.requests if r.method == method and r.raw_path == path]

    # -- the server --------------------------------------------------------------------------------
    def answer(self, handler: RecordingHandler, record: Recorded) -> None:
        with self.lock:
            self.requests.append(record)
            reply = self.dispatch(record)
        if reply.events is None:
            handler.send_whole(reply.status, reply.headers, reply.body)
            return
        handler.send_status(reply.status, reply.headers)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for event in reply.events:  # one chunk per event, flushed, as a live stream arrives
            data = event.encode()
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")


def bearer_token(request: Recorded) -> str | None:
    """The token of an `Authorization: Bearer ...` header, if any."""
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
