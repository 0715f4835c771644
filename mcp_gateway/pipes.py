"""Stdin and stdout served by the event loop itself: no worker thread per line read or written.

The SDK's stdio transport reads and writes through worker threads, three thread hops per message, about half
of a tool call's CPU time on a fast upstream. Pipes, sockets and terminals can be watched by the event loop
instead; a regular file cannot, and then the SDK's threads serve as before. While serving, descriptors 0 and 1
point at the null device and at stderr, as the SDK arranges, so that stray reads and prints of the process and
its children miss the wire.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("mcp_gateway")

_CHUNK = 1 << 16  # bytes read from stdin at a time


class Stdout(Protocol):
    """What the SDK's stdio transport writes to."""

    async def write(self, text: str) -> None: ...

    async def flush(self) -> None: ...


class PipeStdout:
    """Stdout on the event loop, with the `write`/`flush` the SDK's transport calls: a write is queued at once,
    a flush returns once every byte is on the wire."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def write(self, text: str) -> None:
        self._writer.write(text.encode("utf-8"))

    async def send(self, data: bytes) -> None:
        """Write bytes made elsewhere and wait until they are on the wire."""
        self._writer.write(data)
        await self._writer.drain()

    async def flush(self) -> None:
        await self._writer.drain()


@dataclass
class Pipes:
    """The wire: stdin's lines (UTF-8, undecodable bytes replaced as the SDK does) and stdout."""

    lines: AsyncIterator[str]
    stdout: Stdout


async def _lines(reader: asyncio.StreamReader) -> AsyncIterator[str]:
    """The lines of a stream as text, however long: a line's pieces are kept apart and joined once it ends, and
    only the newest piece is searched for its end, so a line of many megabytes costs time in proportion to its
    size (joining and searching all that was read on every read made a 40 MB line take 11 s)."""
    pieces: list[bytes] = []  # the unfinished line, as read
    while chunk := await reader.read(_CHUNK):
        *ended, rest = chunk.split(b"\n")
        for line in ended:
            if pieces:
                line = b"".join([*pieces, line])
                pieces.clear()
            yield line.decode("utf-8", errors="replace") + "\n"
        if rest:
            pieces.append(rest)
    if pieces:
        yield b"".join(pieces).decode("utf-8", errors="replace")


@contextmanager
def _claimed(fd: int, diversion: int) -> Iterator[int]:
    """Point standard descriptor `fd` at `diversion` while serving; yields a private duplicate of the wire."""
    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    try:
        os.dup2(diversion, fd)
        yield private
    finally:
        os.dup2(private, fd)
        os.close(private)


@asynccontextmanager
async def stdio_pipes() -> AsyncIterator[tuple[AsyncIterator[str], PipeStdout] | None]:
    """Stdin and stdout served by the event loop, when both can be (pipes, sockets, terminals); else None."""
    loop = asyncio.get_running_loop()
    with ExitStack() as stack:
        try:
            null = stack.enter_context(open(os.devnull, "rb"))
            read_fd = stack.enter_context(_claimed(0, null.fileno()))
            write_fd = stack.enter_context(_claimed(1, 2))
            reader = asyncio.StreamReader(limit=_CHUNK, loop=loop)
            read_transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                             open(read_fd, "rb", buffering=0, closefd=False))
            stack.callback(read_transport.close)
            transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                                open(write_fd, "wb", buffering=0, closefd=False))
            transport.set_write_buffer_limits(high=0)  # a flush returns once every byte is on the wire
            stack.callback(transport.close)
        except (ValueError, OSError) as exc:
            log.debug("stdio served through worker threads: %s", exc)
            stack.close()
            yield None
            return
        yield _lines(reader), PipeStdout(asyncio.StreamWriter(transport, protocol, None, loop))
