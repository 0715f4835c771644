"""mcp-gateway's streamable HTTP under load, next to FastMCP 4.1.0's HTTP server.

Run: .venv/bin/python bench/http_load.py [--peer run|skip] [--workers N] [--era legacy|2026-07-28]

Both servers serve GitHub's document (1,223 tools) against the fast local upstream on 127.0.0.1 and are
called on GET /repos/{owner}/{repo}/topics. The clients are plain `httpx.AsyncClient`s posting JSON-RPC
(in the 2025-11-25 era each client initializes once, then sends tools/call), which keeps the client side
cheap. Measured: the load run (50 clients, 10,000 calls: failures, calls/s, p50/p99 latency, the server's
RSS before and after, worker processes included), then calls/s at 1, 10, 50 and 100 calls in flight.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio
import harness
import httpx
import peer_fastmcp
from harness import DOCUMENTS, fmt

TOOLS = ("repos_get-all-topics", *peer_fastmcp.TOOLS)
ACCEPT = "application/json, text/event-stream"
LEGACY = "2025-11-25"
MODERN = "2026-07-28"
CLIENT_INFO = {"name": "mcp-gateway-http-load", "version": "0"}


class RpcClient:
    """One MCP client as plain HTTP: JSON-RPC posts, the session id kept, JSON or event-stream answers read."""

    def __init__(self, http: httpx.AsyncClient, url: str, era: str) -> None:
        self.http = http
        self.url = url
        self.era = era
        self.headers = {"Accept": ACCEPT, "Content-Type": "application/json"}
        self.last_id = 0

    async def initialize(self) -> None:
        """The 2025-11-25 handshake (the session id, when the server gives one, goes on every later request)."""
        if self.era == MODERN:
            return
        response = await self._post("initialize", {"protocolVersion": LEGACY, "capabilities": {},
                                                   "clientInfo": CLIENT_INFO})
        session = response.headers.get("mcp-session-id")
        self.headers["MCP-Protocol-Version"] = LEGACY
        if session:
            self.headers["Mcp-Session-Id"] = session
        done = await self.http.post(self.url, headers=self.headers,
                                    content=b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        if done.status_code != 202:
            raise RuntimeError(f"notifications/initialized: HTTP {done.status_code} {done.text[:200]}")

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The result of one request; an HTTP or JSON-RPC error raises RuntimeError."""
        return self._result(method, await self._post(method, params))

    async def call(self, tool: str, arguments: dict[str, Any]) -> None:
        """One tools/call whose result must not be an error."""
        result = await self.request("tools/call", {"name": tool, "arguments": arguments})
        if result.get("isError"):
            raise RuntimeError(f"{tool} returned an error: {json.dumps(result)[:300]}")

    async def _post(self, method: str, params: dict[str, Any]) -> httpx.Response:
        self.last_id += 1
        headers = self.headers
        if self.era == MODERN:
            params = {**params, "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                                          "io.modelcontextprotocol/clientCapabilities": {},
                                          "io.modelcontextprotocol/clientInfo": CLIENT_INFO}}
            headers = {**headers, "MCP-Protocol-Version": MODERN, "Mcp-Method": method}
            if "name" in params:
                headers["Mcp-Name"] = params["name"]
        body = {"jsonrpc": "2.0", "id": self.last_id, "method": method, "params": params}
        response = await self.http.post(self.url, headers=headers, content=json.dumps(body).encode())
        if response.status_code != 200:
            raise RuntimeError(f"{method}: HTTP {response.status_code} {response.text[:200]}")
        return response

    def _result(self, method: str, response: httpx.Response) -> dict[str, Any]:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            replies = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
            reply = next((r for r in replies if r.get("id") == self.last_id), None)
            if reply is None:
                raise RuntimeError(f"{method}: no answer in the event stream {response.text[:200]}")
        else:
            reply = response.json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply["result"]
        return result


@dataclass
class Load:
    """One run: calls made by `clients` clients, each keeping one call in flight."""

    clients: int
    calls: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run_load(url: str, era: str, tool: str, clients: int, calls: int, timeout: float) -> Load:
    """`clients` clients, each initialized first, share `calls` calls; the clock runs from the first call."""
    load = Load(clients, calls)
    remaining = calls
    ready = 0
    go = anyio.Event()

    async def client() -> None:
        nonlocal remaining, ready
        async with httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=1)) as http:
            rpc = RpcClient(http, url, era)
            try:
                await rpc.initialize()
            except (RuntimeError, httpx.HTTPError) as exc:
                load.failures.append(f"initialize: {type(exc).__name__}: {exc}")
                return
            finally:
                ready += 1
                if ready == clients:
                    go.set()
            await go.wait()
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                try:
                    await rpc.call(tool, harness.CALL_ARGUMENTS)
                except (RuntimeError, httpx.HTTPError) as exc:
                    load.failures.append(f"{type(exc).__name__}: {exc}")
                else:
                    load.latencies_ms.append((time.perf_counter() - started) * 1000)

    async with anyio.create_task_group() as tasks:
        for _ in range(clients):
            tasks.start_soon(client)
        await go.wait()
        began = time.perf_counter()
    load.seconds = time.perf_counter() - began
    return load


# --- servers ---------------------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it (uvicorn's workers, say)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def memory_mb(pid: int) -> tuple[float, float]:
    """RSS and PSS of a process and everything below it, in MB. Forked workers share their parent's pages: RSS
    counts a shared page in each process, PSS shares it out, so the PSS sum is what the workers really take."""
    rss = pss = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/status", encoding="utf-8") as handle:
                rss += next((int(line.split()[1]) for line in handle if line.startswith("VmRSS:")), 0)
            with open(f"/proc/{member}/smaps_rollup", encoding="utf-8") as handle:
                pss += next((int(line.split()[1]) for line in handle if line.startswith("Pss:")), 0)
        except OSError:
            continue
    return rss / 1024, pss / 1024


@contextmanager
def running(command: list[str], env: dict[str, str] | None = None, cwd: Path = harness.ROOT
            ) -> Iterator[tuple[subprocess.Popen[bytes], IO[str]]]:
    """A server subprocess with its stderr in a temporary file; terminated (then killed) afterwards."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        process = subprocess.Popen(command, cwd=str(cwd), env={**os.environ, **(env or {})},
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog)
        try:
            yield process, errlog
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def first_answer(url: str, era: str, process: subprocess.Popen[bytes], errlog: IO[str],
                       timeout: float) -> str:
    """Wait until the server answers tools/list; returns the tool to call."""
    with anyio.fail_after(timeout):
        while True:
            if process.poll() is not None:
                errlog.seek(0)
                raise RuntimeError(f"the server exited with {process.returncode}: {errlog.read()[-1000:]}")
            try:
                async with httpx.AsyncClient(timeout=60) as http:
                    rpc = RpcClient(http, url, era)
                    await rpc.initialize()
                    names = {tool["name"] for tool in (await rpc.request("tools/list", {}))["tools"]}
                return next(name for name in TOOLS if name in names)
            except httpx.TransportError:
                await anyio.sleep(0.2)
            except StopIteration:
                raise RuntimeError(f"none of {TOOLS} is listed") from None


@dataclass
class Result:
    """Everything measured on one server."""

    server: str
    load: Load | None = None
    rss_before_mb: float | None = None
    rss_after_mb: float | None = None
    pss_after_mb: float | None = None
    rates: dict[int, float] = field(default_factory=dict)
    error: str | None = None

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        if self.load is not None:
            data["load"] = {"clients": self.load.clients, "calls": self.load.calls, "seconds": self.load.seconds,
                            "ok": len(self.load.latencies_ms), "failures": len(self.load.failures),
                            "first_failures": self.load.failures[:5], "calls_per_s": self.load.rate,
                            "p50_ms": self.load.percentile(0.5), "p99_ms": self.load.percentile(0.99)}
        return data


@dataclass
class Contender:
    """A server to measure: what the tables call it, how it is started, and the port it listens on."""

    label: str
    command: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = harness.ROOT

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


async def measure(contenders: list[Contender], args: argparse.Namespace) -> list[Result]:
    """Start every server; warm each and run its load alone, reading its memory before and after; then the rates
    at each number of calls in flight, the servers interleaved in `args.rounds` rounds (medians shown), so that
    a change in the machine's load falls on all of them alike."""
    results = [Result(c.label) for c in contenders]
    samples: dict[tuple[int, int], list[float]] = {}
    with ExitStack() as stack:
        servers = [stack.enter_context(running(c.command, c.env, c.cwd)) for c in contenders]
        tools: dict[int, str] = {}
        for number, (contender, (process, errlog), result) in enumerate(zip(contenders, servers, results,
                                                                             strict=True)):
            try:
                tool = await first_answer(contender.url, args.era, process, errlog, args.start_timeout)
                await run_load(contender.url, args.era, tool, 10, args.warmup, args.timeout)
                result.rss_before_mb = memory_mb(process.pid)[0]
                result.load = await run_load(contender.url, args.era, tool, args.clients, args.calls, args.timeout)
                result.rss_after_mb, result.pss_after_mb = memory_mb(process.pid)
                tools[number] = tool
            except (RuntimeError, TimeoutError, httpx.HTTPError) as exc:
                result.error = f"{type(exc).__name__}: {exc}".split("\n")[0][:300]
        for _ in range(args.rounds):
            for level in args.levels:
                for number, tool in tools.items():
                    load = await run_load(contenders[number].url, args.era, tool, level, args.level_calls,
                                          args.timeout)
                    samples.setdefault((number, level), []).append(load.rate)
        for number, ((process, _), result) in enumerate(zip(servers, results, strict=True)):
            result.rates = {level: statistics.median(samples[number, level]) for level in args.levels
                            if (number, level) in samples}
            if process.poll() is not None and result.error is None:
                result.error = f"the server exited with {process.returncode}"
    return results


def ours_command(document: str, base_url: str, port: int, workers: int) -> list[str]:
    """mcp-gateway serving every GitHub tool over HTTP, as FastMCP lists them."""
    return [sys.executable, "-m", "mcp_gateway", "serve", document, "--base-url", base_url, "--discovery", "off",
            "--transport", "http", "--port", str(port), *(["--workers", str(workers)] if workers > 1 else [])]


def report(results: list[Result], args: argparse.Namespace) -> str:
    rows = []
    for r in results:
        load = r.load
        growth = (f"{(r.rss_after_mb / r.rss_before_mb - 1) * 100:+.0f}%" if r.rss_before_mb and r.rss_after_mb
                  else "-")
        rows.append([r.server, str(len(load.failures)) if load else "-", fmt(load.rate if load else None, 0),
                     fmt(load.percentile(0.5) if load else None, 1), fmt(load.percentile(0.99) if load else None, 1),
                     fmt(r.rss_before_mb, 0), fmt(r.rss_after_mb, 0), growth, fmt(r.pss_after_mb, 0),
                     *(fmt(r.rates.get(level), 0) for level in args.levels), (r.error or "")[:120]])
    headers = ["server", "failures", "calls/s", "p50 ms", "p99 ms", "RSS before MB", "RSS after MB", "growth",
               "PSS after MB",
               *(f"{level} in flight" for level in args.levels), "note"]
    return harness.table(headers, rows)


async def run(args: argparse.Namespace) -> int:
    began, load_before = time.perf_counter(), os.getloadavg()[0]
    document = str(DOCUMENTS["github"])
    if not Path(document).exists():
        print(f"{document} is missing: this benchmark needs ../shared/specs beside the checkout", file=sys.stderr)
        return 1
    peer_python = None
    note = ""
    if args.peer == "run":
        found = peer_fastmcp.ensure_venv()
        if isinstance(found, str):
            note = f"{peer_fastmcp.LABEL} could not be measured: {found}"
        else:
            peer_python = found
    with harness.local_upstream() as base_url, tempfile.TemporaryDirectory() as cache:
        ports = iter(range(args.port, args.port + 3))
        contenders = []
        if args.baseline:  # another checkout's mcp_gateway, e.g. the last commit, for before/after figures
            port = next(ports)
            contenders.append(Contender(f"mcp-gateway at {args.baseline}", ours_command(document, base_url, port, 1),
                                        port, {"MCP_GATEWAY_CACHE_DIR": cache, "PYTHONPATH": str(args.baseline)},
                                        args.baseline))
        port = next(ports)
        workers = f", {args.workers} workers" if args.workers > 1 else ""
        contenders.append(Contender(f"mcp-gateway{workers}", ours_command(document, base_url, port, args.workers),
                                    port, {"MCP_GATEWAY_CACHE_DIR": cache}))
        if peer_python is not None:
            port = next(ports)
            contenders.append(Contender(peer_fastmcp.LABEL, [str(peer_python), str(peer_fastmcp.SCRIPT), document,
                                                             base_url, str(port)], port,
                                        {"FASTMCP_LOG_LEVEL": "WARNING"}))
        results = await measure(contenders, args)
    harness.save("http_load", {"era": args.era, "results": [r.summary() for r in results]})
    print(f"\nStreamable HTTP ({args.era} era): {args.clients} clients share {args.calls:,} tool calls "
          f"({harness.CALL_ARGUMENTS} -> fast upstream on 127.0.0.1);\nRSS of the server and its workers after "
          f"{args.warmup} warm-up calls and after the load (each server alone); then calls/s at each number of "
          f"calls in flight ({args.level_calls:,} calls each, median of {args.rounds} rounds, servers interleaved).")
    print(report(results, args))
    if note:
        print(note)
    print(f"\n{os.cpu_count()} CPUs; load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at "
          f"the end; {time.perf_counter() - began:.0f} s in all")
    failed = any(r.error or (r.load and r.load.failures) for r in results)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="clients in the load run (default 50)")
    parser.add_argument("--calls", type=int, default=10_000, help="calls in the load run (default 10,000)")
    parser.add_argument("--levels", type=lambda s: [int(n) for n in s.split(",")], default=[1, 10, 50, 100],
                        help="calls in flight for the rate runs (default 1,10,50,100)")
    parser.add_argument("--level-calls", type=int, default=1000, help="calls per rate run (default 1,000)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds of the rate runs, medians shown (default 3)")
    parser.add_argument("--warmup", type=int, default=300, help="calls before the first RSS reading (default 300)")
    parser.add_argument("--era", choices=["legacy", MODERN], default="legacy",
                        help="legacy: the 2025-11-25 initialize handshake (default); or 2026-07-28 requests")
    parser.add_argument("--workers", type=int, default=1, help="mcp-gateway serve --workers N (default 1)")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="also measure the mcp_gateway package of another checkout (e.g. `git archive HEAD` "
                             "unpacked in DIR), served as this one is, first")
    parser.add_argument("--peer", choices=["run", "skip"], default="run",
                        help="FastMCP: measure its HTTP server too (default), or leave it out")
    parser.add_argument("--port", type=int, default=18631, help="the first server's port; the next ones follow")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per call (default 60)")
    parser.add_argument("--start-timeout", type=float, default=300.0,
                        help="seconds allowed for a server to answer tools/list (default 300)")
    args = parser.parse_args()
    return anyio.run(run, args)


if __name__ == "__main__":
    sys.exit(main())
