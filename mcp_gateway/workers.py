"""Several worker processes on one port, with no session affinity needed: the gateway is built once, then the
process forks; each worker listens on a socket of its own bound with SO_REUSEPORT, so the kernel spreads new
connections across the workers, and a worker that dies is replaced.

Forking after the build means a worker starts at once and shares the built tools with the others (copy on write)
instead of reading and compiling the documents again.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType

from mcp_gateway.errors import GatewayError

log = logging.getLogger("mcp_gateway")

BACKLOG = 2048


def bind_shared(host: str, port: int) -> socket.socket:
    """A TCP socket bound to HOST:PORT that other processes may bind as well (SO_REUSEPORT)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise GatewayError("--workers needs SO_REUSEPORT, which this system lacks: run one process per port and "
                           "a load balancer in front")
    # IPPROTO_TCP spelt out: asyncio sets TCP_NODELAY only on sockets that say so, and without it every answer
    # written in two parts (headers, body) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise GatewayError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port") from None
    return sock


def run_workers(count: int, host: str, port: int, serve: Callable[[socket.socket], None],
                settle: float = 5.0) -> None:
    """Fork `count` workers, each running `serve(listening socket)`, until SIGINT or SIGTERM stops them all.

    A worker that exits on its own is replaced, unless it lived less than `settle` seconds: then it could not
    serve at all, the others are stopped and GatewayError is raised.
    """
    holder = bind_shared(host, port)  # bound, never listening: a port in use is reported before any fork
    gc.collect()
    gc.freeze()  # what is built now stays shared with the workers: the collector need not touch (copy) it
    workers: dict[int, float] = {}  # pid -> when it started
    stopping = False
    failed = False

    def start() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                holder.close()
                sock = bind_shared(host, port)
                sock.listen(BACKLOG)
                serve(sock)
                code = 0
            except KeyboardInterrupt:
                code = 0
            except BaseException:
                log.exception("worker %d failed", os.getpid())
            finally:
                logging.shutdown()
                os._exit(code)
        workers[pid] = time.monotonic()

    def stop(*_: int | FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(workers):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        for _ in range(count):
            start()
        log.info("%d workers on %s:%d: %s", count, host, port, ", ".join(str(pid) for pid in workers))
        while workers:
            pid, status = os.wait()
            started = workers.pop(pid, None)
            if started is None or stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            if time.monotonic() - started < settle:
                log.error("worker %d exited (%d) within %g s of starting: stopping the others", pid, code, settle)
                failed = True
                stop()
            else:
                log.warning("worker %d exited (%d); starting another", pid, code)
                start()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        holder.close()
    if failed:
        raise GatewayError("a worker could not serve (its error is logged above)")
