"""Shared benchmark pieces: the local upstream, stdio sessions, peak memory, call rates, tables."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client, StdioServerParameters
from mcp.client.stdio import get_default_environment, stdio_client

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
CACHE = BENCH / ".cache"
SPECS = ROOT.parent / "shared" / "specs" / "realworld"
DOCUMENTS = {"github": SPECS / "github.com_api.github.com.json", "stripe": SPECS / "stripe.com.json"}
# GitHub's GET /repos/{owner}/{repo}/topics: two path parameters, a small JSON answer that fits its schema.
CALL_ARGUMENTS = {"owner": "octocat", "repo": "hello-world", "per_page": 10}
DIRECT_PATH = "/repos/octocat/hello-world/topics?per_page=10"
MAX_PAGES = 100


@dataclass
class Startup:
    """One server on one document: seconds to the complete tool list, per run, and peak RSS.

    `seconds` are through the official SDK client; `raw_seconds` read the same JSON-RPC lines with
    json.loads only, which is the server's share (the SDK client's parsing is the rest).
    """

    server: str
    document: str
    seconds: list[float] = field(default_factory=list)
    raw_seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    tools: int = 0
    list_mb: float = 0.0
    pages: int = 0
    error: str | None = None
    raw_error: str | None = None

    @property
    def median_seconds(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def median_raw_seconds(self) -> float | None:
        return statistics.median(self.raw_seconds) if self.raw_seconds else None

    @property
    def median_peak_mb(self) -> float | None:
        return statistics.median(self.peak_mb) if self.peak_mb else None


@dataclass
class Rates:
    """Calls per second by path ("direct", "stdio", ...) and mode ("sequential", "concurrent"), per round."""

    server: str
    calls: int
    concurrency: int
    rounds: dict[str, list[float]] = field(default_factory=dict)
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)  # "path/mode/driver" or ".../server" per call
    error: str | None = None

    def add(self, key: str, value: float) -> None:
        self.rounds.setdefault(key, []).append(value)

    def median(self, key: str) -> float | None:
        values = self.rounds.get(key)
        return statistics.median(values) if values else None

    def median_cpu(self, key: str) -> float | None:
        values = self.cpu_ms.get(key)
        return statistics.median(values) if values else None


def to_json(value: Startup | Rates) -> dict[str, Any]:
    """A result as plain data, medians included."""
    data = asdict(value)
    if isinstance(value, Startup):
        data.update(median_seconds=value.median_seconds, median_raw_seconds=value.median_raw_seconds,
                    median_peak_mb=value.median_peak_mb)
    else:
        data["medians"] = {key: value.median(key) for key in value.rounds}
        data["median_cpu_ms"] = {key: value.median_cpu(key) for key in value.cpu_ms}
    return data


def startup_from_json(data: dict[str, Any]) -> Startup:
    keys = ("server", "document", "seconds", "raw_seconds", "peak_mb", "tools", "list_mb", "pages", "error",
            "raw_error")
    return Startup(**{k: data[k] for k in keys if k in data})


def rates_from_json(data: dict[str, Any]) -> Rates:
    keys = ("server", "calls", "concurrency", "rounds", "cpu_ms", "error")
    return Rates(**{k: data[k] for k in keys if k in data})


# --- processes -------------------------------------------------------------------------------------------


def children() -> dict[int, str]:
    """This process's direct children: pid -> command line."""
    found: dict[int, str] = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                stat = handle.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == me:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    found[int(entry)] = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
    return found


def find_child(marker: str) -> int | None:
    """The pid of the child whose command line contains the marker."""
    return next((pid for pid, cmd in children().items() if marker in cmd), None)


def peak_rss_mb(pid: int | None) -> float | None:
    """The process's peak resident set size (VmHWM) so far, in MB; None when it cannot be read."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def peak_note(pid: int | None) -> str:
    """", at N MB peak" for a process about to be stopped, when that can be read."""
    peak = peak_rss_mb(pid)
    return f" (server at {peak:,.0f} MB peak)" if peak is not None else ""


def kill_children(marker: str) -> None:
    """Kill any leftover child whose command line contains the marker (by pid, one at a time)."""
    for pid, cmd in children().items():
        if marker in cmd:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


@contextmanager
def local_upstream(max_seconds: float = 900.0) -> Iterator[str]:
    """The fast upstream in a subprocess on 127.0.0.1; yields its base URL and kills it afterwards."""
    process = subprocess.Popen([sys.executable, str(BENCH / "fast_upstream.py"), "--max-seconds", str(max_seconds)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().strip())
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(timeout=10)


# --- MCP sessions ----------------------------------------------------------------------------------------


async def list_all_tools(client: Client) -> list[Any]:
    """Every page of tools/list."""
    tools: list[Any] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools
    raise RuntimeError(f"tools/list still paging after {MAX_PAGES} pages")


SessionHook = Callable[[Client, list[Any]], Awaitable[None]]


async def startup_run(params: StdioServerParameters, marker: str, result: Startup, timeout: float,
                      then: SessionHook | None = None, then_timeout: float = 300.0) -> None:
    """Start the server, time process start -> complete tool list, read its peak RSS, then run `then`.

    Appends to `result`; a startup timeout or failure is recorded in `result.error` instead of raised.
    `then` gets `then_timeout` seconds more and should record its own failures.
    """
    last_peak: list[float] = []  # sampled while starting, for the message when it times out

    started_up = anyio.Event()

    async def sample_peak() -> None:
        for _ in range(int(timeout / 0.5) + 1):
            peak = peak_rss_mb(find_child(marker))
            if peak is not None:
                last_peak[:] = [peak]
            with anyio.move_on_after(0.5):
                await started_up.wait()
            if started_up.is_set():
                return

    async def attempt(errlog: Any) -> None:
        try:
            started = time.perf_counter()
            with anyio.fail_after(timeout) as scope:
                async with Client(stdio_client(params, errlog=errlog), mode="legacy",
                                  read_timeout_seconds=timeout) as client:
                    tools = await list_all_tools(client)
                    elapsed = time.perf_counter() - started
                    started_up.set()
                    await client.send_ping()  # the whole server loaded before its peak is read
                    peak = peak_rss_mb(find_child(marker))
                    result.seconds.append(elapsed)
                    if peak is not None:
                        result.peak_mb.append(peak)
                    result.tools = len(tools)
                    if then is not None:
                        scope.deadline = anyio.current_time() + then_timeout + 30
                        await then(client, tools)
        except TimeoutError:
            at = f" (server at {last_peak[0]:,.0f} MB peak)" if last_peak else ""
            result.error = f"timed out after {timeout:g} s{at}"
        except Exception as exc:  # noqa: BLE001 - the table shows what went wrong
            errlog.seek(0)
            tail = errlog.read()[-800:].strip()
            result.error = f"{type(exc).__name__}: {exc}" + (f"\n{tail}" if tail else "")
        finally:
            started_up.set()

    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(sample_peak)
                await attempt(errlog)
        finally:
            kill_children(marker)


async def startup_series(result: Startup, params: StdioServerParameters, marker: str, sdk_runs: int, raw_runs: int,
                         timeout: float, hook: SessionHook | None = None,
                         prepare: Callable[[], None] | None = None) -> Startup:
    """Alternate raw and SDK-client start-ups, each after `prepare` (e.g. emptying a cache); `hook` runs in the last
    SDK-client session. Stops at a failure."""
    for run in range(max(sdk_runs, raw_runs)):
        if run < raw_runs and not result.raw_error:
            if prepare:
                prepare()
            await raw_tool_list(params, result, timeout)
        if run < sdk_runs and not result.error:
            if prepare:
                prepare()
            await startup_run(params, marker, result, timeout, hook if run == sdk_runs - 1 else None)
    return result


async def call_rate(call: Callable[[], Awaitable[None]], count: int, concurrency: int) -> float:
    """Calls per second for `count` calls with `concurrency` in flight."""
    issued = 0

    async def worker() -> None:
        nonlocal issued
        while issued < count:
            issued += 1
            await call()

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(concurrency):
            group.start_soon(worker)
    return count / (time.perf_counter() - started)


def direct_caller(http: httpx.AsyncClient, url: str) -> Callable[[], Awaitable[None]]:
    """One plain GET of the same resource, JSON parsed, as the baseline."""

    async def call() -> None:
        response = await http.get(url)
        response.raise_for_status()
        response.json()

    return call


def tool_caller(client: Client, name: str, arguments: dict[str, Any]) -> Callable[[], Awaitable[None]]:
    """One tool call; an error result stops the benchmark, since it would not measure a real call."""

    async def call() -> None:
        result = await client.call_tool(name, arguments)
        if result.is_error:
            text = " ".join(getattr(block, "text", "") for block in result.content)
            raise RuntimeError(f"{name} returned an error: {text[:300]}")

    return call


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def compare_rates(rates: Rates, paths: dict[str, Callable[[], Awaitable[None]]], rounds: int,
                        server_pids: dict[str, int | None] | None = None, warmup: int = 20) -> None:
    """Interleave every path, sequential then concurrent, for `rounds` rounds (medians smooth the noise).

    Also records CPU milliseconds per call: this driver process's for every path, and for the paths
    in `server_pids` that server process's.
    """
    pids = server_pids or {}
    for call in paths.values():
        for _ in range(warmup):
            await call()
    for _ in range(rounds):
        for mode, concurrency in (("sequential", 1), ("concurrent", rates.concurrency)):
            for path, call in paths.items():
                key = f"{path}/{mode}"
                pid = pids.get(path)
                driver, server = time.process_time(), cpu_seconds(pid) if pid else None
                rates.add(key, await call_rate(call, rates.calls, concurrency))
                rates.cpu_ms.setdefault(f"{key}/driver", []).append(
                    (time.process_time() - driver) * 1000 / rates.calls)
                after = cpu_seconds(pid) if pid else None
                if server is not None and after is not None:
                    rates.cpu_ms.setdefault(f"{key}/server", []).append((after - server) * 1000 / rates.calls)


def add_call_options(parser: argparse.ArgumentParser) -> None:
    """The options of the tool-call measurements: --calls, --concurrency and --rounds."""
    parser.add_argument("--calls", type=int, default=500, help="calls per measurement (default 500)")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight when concurrent (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of call measurements (default 3)")


def pick_tool(tools: list[Any], *candidates: str) -> str:
    """The first candidate name that the server lists."""
    names = {tool.name for tool in tools}
    for name in candidates:
        if name in names:
            return name
    raise RuntimeError(f"none of {candidates} is listed")


# --- output ----------------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def ratio(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return "-"
    return f"{numerator / denominator:.2f}x"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain text table, first column left-aligned, the rest right-aligned."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def save(name: str, data: Any) -> Path:
    """Write figures to bench/.cache/NAME.json (for a later run to compare against)."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def load(name: str) -> Any | None:
    path = CACHE / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def startup_table(results: list[Startup]) -> str:
    rows = []
    for r in results:
        spread = f"{min(r.seconds):.2f}-{max(r.seconds):.2f}" if r.seconds else "-"
        note = "; ".join(e.split("\n")[0] for e in (r.error, r.raw_error) if e)
        if not r.seconds and not r.error:
            note = "; ".join(n for n in ("SDK client not run", note) if n)
        rows.append([r.document, r.server, str(r.tools or "-"), str(len(r.seconds)), fmt(r.median_seconds), spread,
                     str(len(r.raw_seconds)), fmt(r.median_raw_seconds), f"{r.list_mb * 1e6:,.0f}", str(r.pages or "-"),
                     fmt(r.median_peak_mb, 0), note])
    headers = ["document", "server", "tools", "runs", "SDK client s", "min-max", "raw runs", "raw s", "list bytes",
               "pages", "peak MB", "note"]
    return table(headers, rows)


def rates_table(rows: list[tuple[str, Rates, str]], concurrency: int) -> str:
    """One row per (label, rates, path); ratios are to the direct calls of the same rounds.

    CPU columns: milliseconds per sequential call in this driver process (client side) and in the server.
    """
    out = []
    for label, rates, path in rows:
        seq, conc = rates.median(f"{path}/sequential"), rates.median(f"{path}/concurrent")
        out.append([label, fmt(seq, 0), fmt(conc, 0), ratio(seq, rates.median("direct/sequential")),
                    ratio(conc, rates.median("direct/concurrent")),
                    fmt(rates.median_cpu(f"{path}/sequential/driver")),
                    fmt(rates.median_cpu(f"{path}/sequential/server")), (rates.error or "").split("\n")[0]])
    headers = ["path", "sequential", f"{concurrency} in flight", "seq / direct", "conc / direct",
               "client CPU ms", "server CPU ms", "note"]
    return table(headers, out)


# --- raw JSON-RPC --------------------------------------------------------------------------------------

INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "mcp-gateway-bench", "version": "0"}}}


async def raw_tool_list(params: StdioServerParameters, result: Startup, timeout: float) -> None:
    """Process start -> every tools/list page read and parsed, without the SDK client; appends to `result`."""
    env = get_default_environment() | (params.env or {})
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(params.command, *params.args, cwd=params.cwd, env=env,
                                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                       stderr=errlog, limit=1 << 30)
        assert process.stdin is not None and process.stdout is not None
        stdin, stdout = process.stdin, process.stdout

        async def request(message: dict[str, Any]) -> tuple[dict[str, Any], int]:
            stdin.write(json.dumps(message).encode() + b"\n")
            await stdin.drain()
            while True:
                line = await stdout.readline()
                if not line:
                    raise RuntimeError("the server closed its stdout")
                reply = json.loads(line)
                if reply.get("id") == message["id"]:
                    if "error" in reply:
                        raise RuntimeError(f"{message['method']}: {reply['error']}")
                    return reply["result"], len(line)

        try:
            with anyio.fail_after(timeout):
                await request(INITIALIZE)
                stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
                cursor, size, tools = None, 0, 0
                for page in range(1, MAX_PAGES + 1):
                    message: dict[str, Any] = {"jsonrpc": "2.0", "id": page, "method": "tools/list"}
                    if cursor:
                        message["params"] = {"cursor": cursor}
                    reply, length = await request(message)
                    size, tools, cursor = size + length, tools + len(reply["tools"]), reply.get("nextCursor")
                    if not cursor:
                        break
                result.raw_seconds.append(time.perf_counter() - started)
                await request({"jsonrpc": "2.0", "id": "ping", "method": "ping"})  # the whole server loaded
            peak = peak_rss_mb(process.pid)
            if peak is not None:
                result.peak_mb.append(peak)
            result.list_mb, result.pages, result.tools = size / 1e6, page, tools
        except TimeoutError:
            result.raw_error = f"raw: timed out after {timeout:g} s{peak_note(process.pid)}"
        except Exception as exc:  # noqa: BLE001 - the table shows what went wrong
            errlog.seek(0)
            result.raw_error = f"raw: {type(exc).__name__}: {exc} {errlog.read()[-500:].strip()}"
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()


class RawSession:
    """A server process driven with plain JSON-RPC lines (json.dumps/json.loads, one reader task): the client
    side costs as little as a client can, so the calls/s measure the server."""

    def __init__(self, params: StdioServerParameters) -> None:
        self.params = params
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 1
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> RawSession:
        env = get_default_environment() | (self.params.env or {})
        self.process = await asyncio.create_subprocess_exec(
            self.params.command, *self.params.args, cwd=self.params.cwd, env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, limit=1 << 30)
        self._reader = asyncio.create_task(self._read())
        await self.request("initialize", INITIALIZE["params"])
        self._write({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def __aexit__(self, *_: object) -> None:
        assert self.process is not None
        self._reader.cancel()
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()

    def _write(self, message: dict[str, Any]) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while line := await self.process.stdout.readline():
            reply = json.loads(line)
            future = self._pending.pop(reply.get("id"), None)
            if future is not None and not future.done():
                future.set_result(reply)
        for future in self._pending.values():
            future.set_exception(RuntimeError("the server closed its stdout"))

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One request's result; a JSON-RPC error raises."""
        number, self._next_id = self._next_id, self._next_id + 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[number] = future
        self._write({"jsonrpc": "2.0", "id": number, "method": method, "params": params})
        reply = await future
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]  # type: ignore[no-any-return]

    def tool_caller(self, name: str, arguments: dict[str, Any]) -> Callable[[], Awaitable[None]]:
        """One tools/call; an error result stops the benchmark, since it would not measure a real call."""

        async def call() -> None:
            result = await self.request("tools/call", {"name": name, "arguments": arguments})
            if result.get("isError"):
                raise RuntimeError(f"{name} returned an error: {str(result.get('content'))[:300]}")

        return call
