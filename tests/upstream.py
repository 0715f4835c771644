"""A real HTTP upstream on 127.0.0.1 that records every request it receives.

It echoes each request back as JSON unless a path below asks for something else:
`/status/{code}`, `/slow`, `/huge`, `/text`, `/image`, `/bytes`, `/array`, `/error-shape`.
Tests may also queue canned replies with `reply(...)`.
"""

from __future__ import annotations

import base64
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
    at: float = field(default_factory=time.monotonic)  # when it arrived

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


class MisbehavingUpstream(RecordingUpstream):
    """A RecordingUpstream that misbehaves on purpose, and serves an OAuth2 token endpoint.

    `drop(n)`: the next n requests have their connection closed without an answer. Every request counts as in flight
    until its answer is ready; `max_in_flight` is the most there were at once. `/hold` requests are answered in
    groups of `hold_for`, each a tenth of a second after the group is complete (or after 2 s), so that requests sent
    meanwhile are in flight beside them. `/oauth/token` issues a new token for each client-credentials
    request authenticated as CLIENT_ID:CLIENT_SECRET (HTTP Basic); `/protected` answers 401 to any bearer token not
    issued or `revoke()`d, else echoes it as `{"token": ...}`.
    """

    CLIENT_ID = "gateway-client"
    CLIENT_SECRET = "client-secret-0123456789"

    def __init__(self, hold_for: int = 2) -> None:
        super().__init__()
        self.hold_for = hold_for
        self.in_flight = 0
        self.max_in_flight = 0
        self.drops = 0
        self._held = 0  # /hold requests waiting for their group to be complete
        self._groups = 0  # /hold groups answered
        self.tokens: list[str] = []  # issued, in order
        self.revoked: set[str] = set()
        self.token_requests: list[Recorded] = []
        self._state = threading.Condition()

    def drop(self, times: int = 1) -> None:
        self.drops += times

    def revoke(self) -> None:
        """Every token issued so far is refused from now on."""
        self.revoked.update(self.tokens)

    def answer(self, handler: RecordingHandler, record: Recorded) -> None:
        with self._state:
            if record.raw_path == "/oauth/token":
                self.token_requests.append(record)
            else:
                self.requests.append(record)
            if self.drops:
                self.drops -= 1
                handler.close_connection = True
                return
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._state.notify_all()
        try:
            reply = self.respond(record)
        finally:
            with self._state:
                self.in_flight -= 1
        handler.send_whole(*reply)

    def respond(self, record: Recorded) -> tuple[int, dict[str, str], bytes]:
        js = {"Content-Type": "application/json"}
        if record.raw_path == "/hold":
            self.hold()
            return 200, js, b'{"held": true}'
        if record.raw_path == "/oauth/token":
            return self.issue(record)
        if record.raw_path == "/protected":
            token = record.headers.get("authorization", "").removeprefix("Bearer ")
            if token not in self.tokens or token in self.revoked:
                return 401, js, json.dumps({"error": {"message": "invalid or expired token"}}).encode()
            return 200, js, json.dumps({"token": token}).encode()
        return super().respond(record)

    def hold(self) -> None:
        """Wait until `hold_for` /hold requests are waiting together (then all of them go), or 2 s."""
        with self._state:
            self._held += 1
            group = self._groups
            if self._held >= self.hold_for:
                self._groups += 1
                self._held = 0
                self._state.notify_all()
            elif not self._state.wait_for(lambda: self._groups != group, timeout=2):
                self._held -= 1
        time.sleep(0.1)

    def issue(self, record: Recorded) -> tuple[int, dict[str, str], bytes]:
        """A token for the right client credentials (the answer echoes the secret when they are wrong, as careless
        servers do)."""
        js = {"Content-Type": "application/json"}
        expected = "Basic " + base64.b64encode(f"{self.CLIENT_ID}:{self.CLIENT_SECRET}".encode()).decode()
        form = dict(parse_qsl(record.body.decode()))
        if record.headers.get("authorization") != expected or form.get("grant_type") != "client_credentials":
            detail = f"unknown client {record.headers.get('authorization')}"
            return 401, js, json.dumps({"error": "invalid_client", "error_description": detail}).encode()
        token = f"tok-{len(self.tokens) + 1}-{'x' * 16}"
        self.tokens.append(token)
        return 200, js, json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 3600}).encode()


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


class PagingUpstream(RecordingUpstream):
    """A RecordingUpstream with paginated lists and nested answers (selection and pagination tests).

    `/repo`: an object with nested fields. `/paged/link?page=N&last=L`: items `3(N-1)..3N-1` with a `Link` header to
    the next page (absolute, RFC 8288) until page L (default 5). `/paged/cursor?cursor=cN`: `{"data": [...], "meta":
    {"next": "cN+1"}}` up to c5, whose `next` is null. `/paged/away`: a first page whose next link is on another
    host. `/paged/slow?page=N`: Link-paged, every page after the first 2.5 s late. `/repos/{owner}/{repo}/issues`:
    the `issues` list, when a test sets it.
    """

    LINK_LAST = 5
    CURSOR_LAST = 5

    def __init__(self) -> None:
        super().__init__()
        self.issues: list[Any] | None = None

    @staticmethod
    def _items(page: int) -> list[dict[str, Any]]:
        return [{"id": 3 * (page - 1) + i, "name": f"item {3 * (page - 1) + i}", "filler": "x" * 200}
                for i in range(3)]

    def respond(self, record: Recorded) -> tuple[int, dict[str, str], bytes]:
        js = {"Content-Type": "application/json"}
        query = dict(record.query)
        path = record.raw_path
        if path == "/repo":
            repo = {"name": "gateway", "owner": {"login": "octo", "id": 7, "site_admin": False},
                    "topics": ["mcp", "openapi"], "description": "d" * 500}
            return 200, js, json.dumps(repo).encode()
        if path == "/paged/link":
            page, last = int(query.get("page", "1")), int(query.get("last", str(self.LINK_LAST)))
            headers = dict(js)
            if page < last:
                headers["Link"] = (f'<{self.url}/paged/link?page={page + 1}&last={last}>; rel="next", '
                                   f'<{self.url}/paged/link?page={last}&last={last}>; rel="last"')
            return 200, headers, json.dumps(self._items(page)).encode()
        if path == "/paged/cursor":
            page = int(query.get("cursor", "c1")[1:])
            following = f"c{page + 1}" if page < self.CURSOR_LAST else None
            return 200, js, json.dumps({"data": self._items(page), "meta": {"next": following}}).encode()
        if path == "/paged/slow":  # page 2 comes after 2.5 s
            page = int(query.get("page", "1"))
            if page > 1:
                time.sleep(2.5)
            headers = {**js, "Link": f'<{self.url}/paged/slow?page={page + 1}>; rel="next"'}
            return 200, headers, json.dumps(self._items(page)).encode()
        if path == "/paged/away":
            headers = {**js, "Link": '<http://other.invalid/paged/away?page=2>; rel="next"'}
            return 200, headers, json.dumps(self._items(1)).encode()
        if self.issues is not None and path.startswith("/repos/") and path.endswith("/issues"):
            return 200, js, json.dumps(self.issues).encode()
        return super().respond(record)


class JobsUpstream(RecordingUpstream):
    """A RecordingUpstream that runs jobs (tests/fixtures/jobs.yaml): `POST /jobs` answers 202 with a queued job
    record; `GET /jobs/{id}` reads it; `DELETE /jobs/{id}` cancels it. The prompt says how a job goes: `ok` finishes
    after 3 polls (progress 0, 33, 66, then 100), `fail` fails after 2, `never` runs forever, `slow` finishes after 2
    polls, each answered with `Retry-After: 1`. `polls` counts the polls of each job, `cancelled` lists the jobs
    cancelled. `POST /operations` is the generic form: 202 Accepted with an `Operation-Location` to read."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, str] = {}  # id -> prompt
        self.polls: dict[str, int] = {}
        self.cancelled: list[str] = []
        self.operations: dict[str, list[Any]] = {}  # status path -> [prompt, reads]

    def started(self) -> int:
        """How many jobs were started."""
        return len(self.jobs)

    def _accept(self, prompt: str) -> tuple[int, dict[str, str], bytes]:
        """`POST /operations`: 202 and where its status is (relative for `ok`, absolute for `fail` and `never`, on
        another host for `away`)."""
        path = f"/operations/op-{len(self.operations) + 1}"
        self.operations[path] = [prompt, 0]
        where = {"ok": path, "away": "http://elsewhere.invalid" + path}.get(prompt, self.url + path)
        body = json.dumps({"status": "Accepted"}).encode()
        return 202, {"Content-Type": "application/json", "Operation-Location": where}, body

    def _operation(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """A status read: 202 at first, then Running, then Succeeded (`ok`, with its result) or Failed (`fail`);
        `never` stays Running."""
        prompt, reads = self.operations[path]
        self.operations[path][1] = reads + 1
        js = {"Content-Type": "application/json"}
        if reads == 0:
            return 202, js, json.dumps({"status": "NotStarted"}).encode()
        if reads == 1 or prompt == "never":
            return 200, js, json.dumps({"status": "Running"}).encode()
        if prompt == "fail":
            return 200, js, json.dumps({"status": "Failed", "error": {"message": "out of capacity"}}).encode()
        return 200, js, json.dumps({"status": "Succeeded", "result": {"answer": 42}}).encode()

    def _record(self, job: str) -> dict[str, Any]:
        prompt, polls = self.jobs[job], self.polls[job]
        if job in self.cancelled:
            return {"id": job, "status": "cancelled"}
        if polls >= {"ok": 3, "slow": 2}.get(prompt, 1_000_000):
            return {"id": job, "status": "completed", "progress": 100, "result_url": f"{self.url}/files/{job}.mp4"}
        if prompt == "fail" and polls >= 2:
            return {"id": job, "status": "failed", "error": "the model refused the prompt"}
        return {"id": job, "status": "running" if polls else "queued", "progress": min(polls * 33, 99)}

    def respond(self, record: Recorded) -> tuple[int, dict[str, str], bytes]:
        js = {"Content-Type": "application/json"}
        path = record.raw_path
        if record.method == "POST" and path == "/jobs":
            job = f"job-{len(self.jobs) + 1}"
            self.jobs[job], self.polls[job] = record.json()["prompt"], 0
            return 202, js, json.dumps(self._record(job)).encode()
        if record.method == "POST" and path == "/operations":
            return self._accept(record.json()["prompt"])
        if path.startswith("/operations/") and path in self.operations:
            return self._operation(path)
        job = path.removeprefix("/jobs/")
        if path.startswith("/jobs/") and job in self.jobs:
            if record.method == "DELETE":
                self.cancelled.append(job)
            else:
                self.polls[job] += 1
            headers = {**js, "Retry-After": "1"} if self.jobs[job] == "slow" else js
            return 200, headers, json.dumps(self._record(job)).encode()
        return super().respond(record)


class JsonDocuments(LocalServer):
    """Fixed JSON documents by path (an OAuth issuer's metadata and key set, say); any other path is 404."""

    def __init__(self, documents: dict[str, Any]) -> None:
        super().__init__()
        self.documents = documents

    def answer(self, handler: RecordingHandler, record: Recorded) -> None:
        self.requests.append(record)
        found = self.documents.get(record.raw_path)
        status, body = (200, found) if found is not None else (404, {"error": "not_found"})
        handler.send_whole(status, {"Content-Type": "application/json"}, json.dumps(body).encode())
