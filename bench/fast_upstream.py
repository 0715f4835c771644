"""A minimal, fast HTTP/1.1 upstream on 127.0.0.1 that answers every request with one small JSON body.

Run as a subprocess: it prints its port on the first line of stdout, and exits when its stdin closes
or after --max-seconds, whichever comes first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading

BODY = b'{"names":["mcp","openapi","gateway"]}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Serve keep-alive requests on one connection until the client closes it."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


def exit_on_stdin_eof() -> None:
    """Leave as soon as the parent closes our stdin (or dies)."""
    sys.stdin.buffer.read()
    os._exit(0)


async def serve(max_seconds: float) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        await asyncio.sleep(max_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    args = parser.parse_args()
    threading.Thread(target=exit_on_stdin_eof, daemon=True).start()
    asyncio.run(serve(args.max_seconds))


if __name__ == "__main__":
    main()
