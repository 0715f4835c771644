"""A hostile upstream on 127.0.0.1 against the real server over stdio: a decompression bomb, answers that drip or
never end, a flooding event stream, bytes planted after a bodiless answer, a redirect to nowhere."""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path

import pytest

from tests.common import FIXTURES, server_env
from tests.servers import Served, free_port, serve_stdio, text_of
from tests.upstream import LocalServer, Recorded, RecordingHandler, gzip_bomb

pytestmark = pytest.mark.anyio

PROFILE = FIXTURES / "hostile_limits.yaml"  # timeout: 1, max_response_bytes: 262144
CAP = 262_144
CHUNK = ('data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"' + "x" * 1000
         + '"}}]}\n\n').encode()
PLANTED = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"planted":true}'


@functools.cache
def bomb() -> bytes:
    """1 GiB of "0", 2.5 KB on the wire."""
    return gzip_bomb(1 << 30)


def head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class HostileUpstream(LocalServer):
    """Writes each answer as raw bytes, the way no well-behaved upstream would."""

    def __init__(self) -> None:
        super().__init__()
        self.nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    def answer(self, handler: RecordingHandler, record: Recorded) -> None:
        self.requests.append(record)
        try:
            for piece in self.pieces(record.raw_path):
                handler.wfile.write(piece)
                handler.close_connection = handler.close_connection or b"\r\nConnection: close\r\n" in piece
        except OSError:  # the gateway hung up, as it should
            handler.close_connection = True

    def pieces(self, path: str) -> Iterator[bytes]:
        """The answer to `path`, piece by piece; pauses between pieces are the point of some."""
        until_close = {"Content-Type": "text/event-stream", "Connection": "close"}
        if path == "/bomb":
            yield head(200, {"Content-Type": "text/plain", "Content-Encoding": "gzip, gzip",
                             "Content-Length": str(len(bomb()))}) + bomb()
        elif path == "/drip":  # 10 s in all, no read ever waits more than 0.1 s
            yield head(200, {"Content-Type": "text/plain", "Content-Length": "100"})
            for _ in range(100):
                time.sleep(0.1)
                yield b"x"
        elif path == "/keepalive":
            yield head(200, until_close)
            for _ in range(100):
                time.sleep(0.1)
                yield b": keep-alive\n\n"
        elif path == "/flood":  # 4.4 MB as fast as the gateway reads
            yield head(200, until_close)
            for _ in range(64):
                yield CHUNK * 64
        elif path == "/planted":
            yield head(204, {"Content-Length": "0"}) + PLANTED
        elif path == "/real":
            yield head(200, {"Content-Type": "application/json", "Content-Length": "13"}) + b'{"real":true}'
        elif path == "/away":
            yield head(302, {"Location": f"{self.nowhere}/gone?sig=s3cret", "Content-Length": "0"})


@pytest.fixture
def hostile() -> Iterator[HostileUpstream]:
    server = HostileUpstream().start()
    yield server
    server.stop()


@asynccontextmanager
async def gateway(upstream: HostileUpstream) -> AsyncIterator[Served]:
    async with serve_stdio([str(PROFILE)], env=server_env({"HOSTILE_URL": upstream.url})) as served:
        yield served


def peak_rss_of_gateway() -> int:
    """Peak resident memory in bytes (VmHWM) of this process's gateway child, the one serving PROFILE."""
    for proc in Path("/proc").iterdir():
        try:
            status = dict(line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line)
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):  # not a process, or one that ended meanwhile
            continue
        if int(status["PPid"]) == os.getpid() and str(PROFILE).encode() in command:
            return int(status["VmHWM"].split()[0]) * 1024
    raise AssertionError("the gateway subprocess was not found")


async def test_a_decompression_bomb_is_cut_at_the_cap_and_keeps_the_server_small(hostile):
    async with gateway(hostile) as served:
        result = await served.client.call_tool("getBomb", {})
        peak = peak_rss_of_gateway()
    assert peak < 300 << 20, f"the gateway peaked at {peak >> 20} MiB"
    shown, note = text_of(result).split("\n\n[truncated: ", 1)
    assert not result.is_error and shown == "0" * CAP
    assert note.startswith(f"the response was more than {CAP:,} bytes")  # not the 2.5 KB Content-Length


async def test_the_timeout_bounds_the_whole_call_however_often_bytes_arrive(hostile):
    async with gateway(hostile) as served:
        drip = await served.client.call_tool("getDrip", {})
        keepalive = await served.client.call_tool("getKeepalive", {})
    for result, path in ((drip, "/drip"), (keepalive, "/keepalive")):
        assert result.is_error, text_of(result)
        assert f"GET {hostile.url}{path} timed out after 1s" in text_of(result)


async def test_a_flooding_event_stream_is_cut_at_the_cap(hostile):
    async with gateway(hostile) as served:
        result = await served.client.call_tool("getFlood", {})
    shown, note = text_of(result).split("\n\n[truncated: ", 1)
    assert not result.is_error and note.startswith("the assembled result was 4,09")  # 4,096,000 characters
    assert len(shown.encode()) <= CAP and result.structured_content is None
    assert shown.startswith('{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant",'
                            '"content":"' + "x" * 1000)  # the stream was read to its end and assembled


async def test_bytes_planted_after_a_204_never_answer_the_next_call(hostile):
    async with gateway(hostile) as served:
        gone = await served.client.call_tool("deletePlanted", {})
        real = await served.client.call_tool("getReal", {})
    assert "succeeded with HTTP 204" in text_of(gone)
    assert json.loads(text_of(real)) == {"real": True}
    assert [r.raw_path for r in hostile.requests] == ["/planted", "/real"]


async def test_a_redirect_to_nowhere_names_the_hop_that_failed(hostile):
    async with gateway(hostile) as served:
        result = await served.client.call_tool("getAway", {})
    text = text_of(result)
    assert result.is_error and f"redirect target GET {hostile.nowhere}/gone" in text
    assert "s3cret" not in text and "check the base URL" not in text
