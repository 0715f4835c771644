"""Ways to run the real gateway in end-to-end tests: stdio with its stderr kept, streamable HTTP, the CLI."""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import IO, Any

import anyio
import httpx
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import CallToolResult, TextContent

from tests.common import ROOT, server_env
from tests.upstream import Recorded

GATEWAY = [sys.executable, "-m", "mcp_gateway"]


class Served:
    """A connected client plus everything the server subprocess wrote to stderr."""

    def __init__(self, client: Client, errlog: IO[str]) -> None:
        self.client = client
        self._errlog = errlog
        self._captured: str | None = None

    def stderr(self) -> str:
        if self._captured is not None:
            return self._captured
        self._errlog.flush()
        self._errlog.seek(0)
        return self._errlog.read()

    def _close(self) -> None:
        self._captured = self.stderr()
        self._errlog.close()


@asynccontextmanager
async def serve_stdio(args: list[str], mode: str = "legacy", env: dict[str, str] | None = None,
                      log_level: str = "INFO", **client_options: Any) -> AsyncIterator[Served]:
    """`python -m mcp_gateway serve ARGS` over stdio behind the official client (given `client_options`, such as an
    `elicitation_callback`), its stderr captured."""
    async with serve_command(GATEWAY[0], [*GATEWAY[1:], "--log-level", log_level, "serve", *args],
                             env or server_env(), mode, cwd=str(ROOT), **client_options) as served:
        yield served


@asynccontextmanager
async def serve_command(command: str, args: list[str], env: dict[str, str], mode: str = "legacy",
                        cwd: str | None = None, **client_options: Any) -> AsyncIterator[Served]:
    """`command ARGS` started as an MCP client starts a stdio server (the SDK passes `env` over HOME, PATH and a few
    more), behind the official client, its stderr captured."""
    errlog = tempfile.TemporaryFile("w+", encoding="utf-8")
    params = StdioServerParameters(command=command, args=args, env=env, cwd=cwd)
    served: Served | None = None
    try:
        async with Client(stdio_client(params, errlog=errlog), mode=mode, read_timeout_seconds=30,
                          **client_options) as client:
            served = Served(client, errlog)
            yield served
    finally:
        if served is not None:
            served._close()
        else:
            errlog.close()


class RawStdio:
    """The server as a subprocess: lines written to its stdin, lines read from its stdout within a time bound."""

    def __init__(self, args: list[str]) -> None:
        self.process = subprocess.Popen([*GATEWAY, *args], env=server_env(), cwd=str(ROOT), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)

    def send(self, line: str | bytes) -> None:
        """One line on stdin: text as UTF-8, bytes as they are (which need not be UTF-8)."""
        assert self.process.stdin is not None
        self.process.stdin.write((line if isinstance(line, bytes) else line.encode()) + b"\n")
        self.process.stdin.flush()

    def line(self, timeout: float = 15) -> bytes:
        """The next line on stdout, as written."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no answer within {timeout} s") from None

    def answer(self, timeout: float = 15) -> dict[str, Any]:
        """The next line on stdout, parsed (stdout carries JSON-RPC and nothing else)."""
        return json.loads(self.line(timeout))

    def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        self.send(json.dumps(message))
        return self.answer()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve_http(args: list[str], env: dict[str, str] | None = None,
                     errlog: IO[str] | None = None, global_args: list[str] | None = None) -> AsyncIterator[str]:
    """`python -m mcp_gateway [GLOBAL_ARGS] serve ARGS --transport http` on a free port; yields the MCP endpoint URL.

    The server's stderr goes to `errlog` when given (the caller reads it), else to a file of its own."""
    port = free_port()
    own_errlog = errlog is None
    errlog = errlog or tempfile.TemporaryFile("w+", encoding="utf-8")
    process = subprocess.Popen([*GATEWAY, *(global_args or []), "serve", *args, "--transport", "http", "--port",
                                str(port)],
                               env=env or server_env(), cwd=str(ROOT), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=errlog)
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(base, process, errlog)
        yield f"{base}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if own_errlog:
            errlog.close()


async def _wait_healthy(base: str, process: subprocess.Popen[bytes], errlog: IO[str]) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        with anyio.fail_after(30):
            while True:
                if process.poll() is not None:
                    errlog.seek(0)
                    raise AssertionError(f"the HTTP server exited with {process.returncode}: {errlog.read()}")
                try:
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await anyio.sleep(0.1)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """One `mcp-gateway ...` command as a subprocess, bounded."""
    return subprocess.run([*GATEWAY, *args], env=env or server_env(), cwd=str(ROOT), capture_output=True,
                          text=True, timeout=60)


def text_of(result: CallToolResult) -> str:
    """All text blocks of a result, joined."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def tool_named(tools: list[Any], name: str) -> Any:
    matches = [tool for tool in tools if tool.name == name]
    assert matches, f"no tool {name!r} in {[tool.name for tool in tools]}"
    return matches[0]


@dataclass
class Part:
    """One part of a multipart/form-data body as the upstream received it."""

    name: str
    filename: str | None
    content_type: str | None  # None when the part has no Content-Type header
    data: bytes


def multipart_parts(recorded: Recorded) -> list[Part]:
    """The parts of a recorded multipart/form-data request, parsed with the standard library."""
    head = f"Content-Type: {recorded.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + recorded.body)
    assert message.is_multipart(), recorded.body[:200]
    return [Part(part.get_param("name", header="content-disposition"), part.get_filename(),
                 part["content-type"], part.get_payload(decode=True)) for part in message.iter_parts()]


def cookies(recorded: Recorded) -> list[tuple[str, str]]:
    """The Cookie header as (name, value) pairs, in order, values as sent."""
    header = recorded.headers.get("cookie", "")
    pairs = [piece.strip().partition("=") for piece in header.split(";") if piece.strip()]
    return [(name, value) for name, _, value in pairs]
