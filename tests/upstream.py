"""A real HTTP upstream on 127.0.0.1 that records every request it receives.

It echoes each request back as JSON unless a path below asks for something else:
`/status/{code}`, `/slow`, `/huge`, `/text`, `/image`, `/bytes`, `/array`, `/error-shape`.
Tests may also queue canned replies with `reply(...)`.
"""

from __future__ import annotations

import gzip
import json
import struct
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cf"
    "c0f01f0005000201a0c3a1a30000000049454e44ae426082"
)


@dataclass
class Recorded:
    """One request as the upstream saw it."""

    method: str
    raw_path: str  # path as sent, still percent-encoded
    query: list[tuple[str, str]]
    raw_query: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Canned:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


class RecordingHandler(BaseHTTPRequestHandler):
    """Reads each request into a `Recorded` and hands it to its `LocalServer` to answer."""

    protocol_version = "HTTP/1.1"

    def __init__(self, owner: LocalServer, *args: Any) -> None:
        self.owner = owner
        super().__init__(*args)

    def log_message(self, *args: Any) -> None:
        pass

    def send_status(self, status: int, headers: dict[str, str]) -> None:
        """The status line and `headers`; more headers may follow before `end_headers()`."""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)

    def send_whole(self, status: int, headers: dict[str, str], body: bytes) -> None:
        """One reply with a Content-Length, its body left out for HEAD."""
        self.send_status(status, headers)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def receive(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        self.owner.answer(self, Recorded(self.command, split.path, parse_qsl(split.query, keep_blank_values=True),
                                         split.query, {k.lower(): v for k, v in self.headers.items()}, body))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = receive


class LocalServer:
    """A real HTTP/1.1 server on 127.0.0.1; subclasses keep each request in `requests` and answer it."""

    handler: type[RecordingHandler] = RecordingHandler

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._server: ThreadingHTTPServer | None = None

    def answer(self, handler: RecordingHandler, record: Recorded) -> None:
        """Keep `record` and reply to it through `handler`."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def start(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), partial(self.handler, self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class AnyMethodHandler(RecordingHandler):
    """Also takes HEAD and OPTIONS."""

    do_HEAD = do_OPTIONS = RecordingHandler.receive


class RecordingUpstream(LocalServer):
    """Start with `start()`, stop with `stop()`; `requests` holds what arrived, in order."""

    handler = AnyMethodHandler

    def __init__(self) -> None:
        super().__init__()
        self.canned: deque[Canned] = deque()

    def reply(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> None:
        """Queue one canned reply for the next request."""
        raw = body if isinstance(body, bytes) else json.dumps(body if body is not None else {}).encode()
        self.canned.append(Canned(status, raw, headers or {"Content-Type": "application/json"}))

    def answer(self, handler: RecordingHandler, record: Recorded) -> None:
        self.requests.append(record)
        handler.send_whole(*self.respond(record))

    def respond(self, record: Recorded) -> tuple[int, dict[str, str], bytes]:
        if self.canned:
            canned = self.canned.popleft()
            return canned.status, canned.headers, canned.body
        path = record.raw_path
        js = {"Content-Type": "application/json"}
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[-1])
            return code, js, json.dumps({"error": {"message": f"failure {code}", "type": "test_error"}}).encode()
        if path == "/slow":
            time.sleep(3)
            return 200, js, b"{}"
        if path == "/huge":
            return 200, js, json.dumps({"items": ["x" * 100] * 20000}).encode()
        if path == "/text":
            return 200, {"Content-Type": "text/plain; charset=utf-8"}, "plain words ✓".encode()
        if path == "/image":
            return 200, {"Content-Type": "image/png"}, PNG_1PX
        if path == "/bytes":
            return 200, {"Content-Type": "application/pdf"}, b"%PDF-1.4 fake"
        if path == "/array":
            return 200, js, b"[1,2,3]"
        if path == "/not-json":
            return 200, js, b"this is not json"
        echo = {"method": record.method, "path": path, "query": record.raw_query}
        return 200, js, json.dumps(echo).encode()


GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, no time, best compression


def gzip_bomb(size: int, fill: bytes = b"0") -> bytes:
    """`size` bytes (a whole number of MiB) of `fill`, gzipped twice (`Content-Encoding: gzip, gzip`): 1 GiB is
    2.5 KB on the wire and made in a quarter of a second, as each full-flushed MiB deflates to the same block."""
    mib = fill * (1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size >> 20):
        crc = zlib.crc32(mib, crc)
    inner = GZIP_HEADER + block * (size >> 20) + deflate.flush() + struct.pack("<II", crc, size & 0xFFFFFFFF)
    return gzip.compress(inner, 9, mtime=0)
