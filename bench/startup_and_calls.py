"""mcp-gateway's start-up time, peak memory and tool calls per second over stdio, next to FastMCP's.

Run: .venv/bin/python bench/startup_and_calls.py [--peer run|cached|skip]

Start-up is process start -> complete tools/list received by the official MCP client, for GitHub's
(1,223 operations) and Stripe's documents: the first start (an empty compile cache each run) and a cached one
(the same document started before). Calls go to GitHub's GET /repos/{owner}/{repo}/topics on a
fast local upstream (127.0.0.1), interleaved with direct httpx.AsyncClient calls to the same URL, with
Gateway.call in-process, and (with --peer run) with the same tool through FastMCP.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import harness
import httpx
import peer_fastmcp
from harness import DOCUMENTS, Rates, Startup, fmt, ratio
from mcp import Client, StdioServerParameters

SERVER = "mcp-gateway"
MARKER = "mcp_gateway --log-level WARNING serve"
TOOL = "repos_get-all-topics"
PEER = "fastmcp"  # the FastMCP path's key in Rates
RAW, PEER_RAW = "stdio-raw", "fastmcp-raw"  # the same servers driven by a raw JSON-RPC client


CACHED = " (cached)"  # the document label of a start whose compiled tools are in the compile cache
DISCOVERY = " (discovery)"  # the document label of a start in discovery mode: the meta-tools listed


def params(document: str, base_url: str, cache: str, discovery: str = "off") -> StdioServerParameters:
    """Our server on `document`; by default with every tool listed, as the peer lists them."""
    return StdioServerParameters(command=sys.executable, cwd=str(harness.ROOT),
                                 args=["-m", "mcp_gateway", "--log-level", "WARNING", "serve", document,
                                       "--base-url", base_url, "--discovery", discovery],
                                 env={"MCP_GATEWAY_CACHE_DIR": cache})


async def measure_startups(base_url: str, runs: int, timeout: float) -> list[Startup]:
    """SDK-client and raw start-ups on both documents, `runs` of each: first starts, each with an empty compile
    cache, then cached starts (the last first start left its entry)."""
    results: list[Startup] = []
    with tempfile.TemporaryDirectory() as cache:
        for key in ("github", "stripe"):
            server = params(str(DOCUMENTS[key]), base_url, cache)
            results.append(await harness.startup_series(Startup(SERVER, key), server, MARKER, runs, runs, timeout,
                                                        prepare=lambda: shutil.rmtree(cache, ignore_errors=True)))
            results.append(await harness.startup_series(Startup(SERVER, key + CACHED), server, MARKER, runs, runs,
                                                        timeout))
            results.append(await harness.startup_series(Startup(SERVER, key + DISCOVERY),
                                                        params(str(DOCUMENTS[key]), base_url, cache, "on"), MARKER,
                                                        0, 1, timeout))
    return results


async def measure_calls(base_url: str, calls: int, concurrency: int, rounds: int, timeout: float,
                        peer_python: Path | None, peer_timeout: float) -> Rates:
    """Direct, in-process, stdio and (given its Python) FastMCP calls, interleaved in the same rounds."""
    from mcp_gateway.build import TargetOptions, build_gateway

    rates = Rates(SERVER, calls, concurrency)
    # Gateway.call without MCP or stdio, to split the gateway's own cost from the transport's.
    gateway = build_gateway([str(DOCUMENTS["github"])], TargetOptions(base_url=base_url))

    async def in_process() -> None:
        result = await gateway.call(TOOL, harness.CALL_ARGUMENTS)
        if result.is_error:
            raise RuntimeError(f"{TOOL} returned an error in-process: {result.content}")

    async def compare(paths: dict[str, Any], pids: dict[str, int | None],
                      raw: dict[str, tuple[StdioServerParameters, str]]) -> None:
        """`paths` and, for each of `raw`, the same server driven by a raw JSON-RPC client in its own process."""
        try:
            async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as http, AsyncExitStack() as stack:
                paths = {"direct": harness.direct_caller(http, base_url + harness.DIRECT_PATH),
                         "in-process": in_process, **paths}
                for key, (server, tool) in raw.items():
                    session = await stack.enter_async_context(harness.RawSession(server))
                    paths[key] = session.tool_caller(tool, harness.CALL_ARGUMENTS)
                    pids[key] = session.pid
                await harness.compare_rates(rates, paths, rounds, pids)
        except Exception as exc:  # noqa: BLE001 - reported in the table
            rates.error = f"{type(exc).__name__}: {exc}"

    async def ours(client: Client, tools: list[Any]) -> None:
        try:
            path = {"stdio": harness.tool_caller(client, harness.pick_tool(tools, TOOL), harness.CALL_ARGUMENTS)}
        except RuntimeError as exc:
            rates.error = str(exc)
            return
        pids = {"stdio": harness.find_child(MARKER)}
        raw = {RAW: (params(str(DOCUMENTS["github"]), base_url, cache), TOOL)}
        if peer_python is None:
            await compare(path, pids, raw)
            return

        async def both(peer: Client, peer_tools: list[Any]) -> None:
            try:
                name = harness.pick_tool(peer_tools, *peer_fastmcp.TOOLS)
            except RuntimeError as exc:
                rates.error = f"{peer_fastmcp.LABEL}: {exc}"
                return
            await compare({**path, PEER: harness.tool_caller(peer, name, harness.CALL_ARGUMENTS)},
                          {**pids, PEER: harness.find_child(peer_fastmcp.MARKER)},
                          {**raw, PEER_RAW: (peer_fastmcp.params(peer_python, str(DOCUMENTS["github"]), base_url),
                                             name)})

        error = await peer_fastmcp.with_session(peer_python, base_url, peer_timeout, both)
        if error:
            rates.error = f"{peer_fastmcp.LABEL}: {error}"
            await compare(path, pids, raw)

    session = Startup(SERVER, "github")
    try:
        with tempfile.TemporaryDirectory() as cache:  # the raw-client server starts from the entry left here
            await harness.startup_run(params(str(DOCUMENTS["github"]), base_url, cache), MARKER, session, timeout,
                                      ours, then_timeout=900)
    finally:
        await gateway.aclose()
    if session.error and not rates.error:
        rates.error = session.error.split("\n")[0]
    if not rates.rounds and not rates.error:
        rates.error = "no calls were made"
    return rates


def comparison(ours: list[Startup], peer: list[Startup], calls: tuple[Rates, Rates, str] | None) -> str:
    """Ours next to FastMCP, as ratios: above 1x, mcp-gateway is faster or smaller by that factor."""
    lines = [f"mcp-gateway vs {peer_fastmcp.LABEL} (FastMCP / mcp-gateway for time, memory and bytes; "
             f"mcp-gateway / FastMCP for calls/sec)"]
    by_doc = {r.document: r for r in peer}
    for mine in ours:
        if mine.document.endswith(DISCOVERY):
            theirs = by_doc.get(mine.document.removesuffix(DISCOVERY))
            if theirs is not None:
                lines.append(f"  {mine.document}: tools/list bytes {ratio(theirs.list_mb, mine.list_mb)}")
            continue
        theirs = by_doc.get(mine.document.removesuffix(CACHED))
        if theirs is None:
            continue
        sdk = (ratio(theirs.median_seconds, mine.median_seconds) if theirs.seconds
               else (theirs.error or "not run").split("\n")[0])
        lines.append(f"  {mine.document}: start-up (SDK client) {sdk}; start-up (raw) "
                     f"{ratio(theirs.median_raw_seconds, mine.median_raw_seconds)}; peak memory "
                     f"{ratio(theirs.median_peak_mb, mine.median_peak_mb)}; tools/list bytes "
                     f"{ratio(theirs.list_mb, mine.list_mb)}")
    if calls is not None:
        mine, theirs, path = calls
        for client, ours_key, their_key in (("SDK client", "stdio", path), ("raw client", RAW, path + "-raw")):
            for mode in ("sequential", "concurrent"):
                a, b = mine.median(f"{ours_key}/{mode}"), theirs.median(f"{their_key}/{mode}")
                direct_a, direct_b = mine.median(f"direct/{mode}"), theirs.median(f"direct/{mode}")
                lines.append(f"  calls/sec {mode} ({client}): {ratio(a, b)} ({fmt(a, 0)} vs {fmt(b, 0)}; of direct "
                             f"httpx: {ratio(a, direct_a)} vs {ratio(b, direct_b)})")
        a, b = mine.median_cpu(f"{RAW}/sequential/server"), theirs.median_cpu(f"{path}-raw/sequential/server")
        lines.append(f"  server CPU per call (raw client): {ratio(b, a)} ({fmt(a)} ms vs {fmt(b)} ms)")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    began, load_before = time.perf_counter(), os.getloadavg()[0]
    peer_python: Path | None = None
    note = ""
    if args.peer == "run":
        found = peer_fastmcp.ensure_venv()
        if isinstance(found, str):
            note = f"{peer_fastmcp.LABEL} could not be measured: {found}"
        else:
            peer_python = found
    with harness.local_upstream() as base_url:
        ours = await measure_startups(base_url, args.runs, args.timeout)
        peer: list[Startup] = []
        if peer_python is not None:
            peer = await peer_fastmcp.measure_startups(peer_python, base_url, args.peer_runs, args.peer_stripe_runs,
                                                       args.peer_timeout)
        rates = await measure_calls(base_url, args.calls, args.concurrency, args.rounds, args.timeout,
                                    peer_python, args.peer_timeout)
    harness.save("ours", {"startup": [harness.to_json(r) for r in ours], "rates": harness.to_json(rates)})
    if peer_python is not None:
        kept = ("direct", PEER)
        peer_rates = Rates(peer_fastmcp.LABEL, rates.calls, rates.concurrency,
                           {k.replace(PEER, "stdio"): v for k, v in rates.rounds.items() if k.startswith(kept)},
                           {k.replace(PEER, "stdio"): v for k, v in rates.cpu_ms.items() if k.startswith(kept)})
        peer_fastmcp.save(peer, peer_rates)

    rows = [("direct httpx.AsyncClient", rates, "direct"),
            ("mcp-gateway Gateway.call (in-process)", rates, "in-process"),
            ("mcp-gateway over stdio (SDK client)", rates, "stdio"),
            ("mcp-gateway over stdio (raw client)", rates, RAW)]
    calls: tuple[Rates, Rates, str] | None = None
    if peer_python is not None:
        rows += [(f"{peer_fastmcp.LABEL} over stdio (SDK client)", rates, PEER),
                 (f"{peer_fastmcp.LABEL} over stdio (raw client)", rates, PEER_RAW)]
        calls = (rates, rates, PEER)
    elif args.peer == "cached":
        saved = peer_fastmcp.load_saved()
        if saved is None:
            note = "no saved FastMCP figures: run bench/peer_fastmcp.py or use --peer run"
        else:
            peer, saved_rates, when = saved
            note = f"{peer_fastmcp.LABEL} figures saved {when}, not measured now: its calls/sec are from other rounds"
            if saved_rates is not None:
                rows += [(f"direct httpx.AsyncClient (saved {peer_fastmcp.LABEL} rounds)", saved_rates, "direct"),
                         (f"{peer_fastmcp.LABEL} over stdio (saved)", saved_rates, "stdio")]
                calls = (rates, saved_rates, "stdio")

    print("\nStart-up over stdio: process start -> complete tools/list received (median of the runs).")
    print("SDK client = the official mcp Client; raw = the same JSON-RPC read with json.loads only (the server's "
          "share);\npeak = the server process's VmHWM.")
    print(harness.startup_table(ours + peer))
    print(f"\nTool calls per second: {TOOL} (GitHub) -> fast upstream on 127.0.0.1; {args.calls} calls per "
          f"measurement, median of {args.rounds} interleaved rounds;\nratios to the direct calls of the same "
          f"rounds; CPU = milliseconds per sequential call in this client process and in the server process.")
    print(harness.rates_table(rows, args.concurrency))
    print()
    if peer:
        print(comparison(ours, peer, calls))
    if note:
        print(note)
    print(f"\n{os.cpu_count()} CPUs; load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at "
          f"the end; {time.perf_counter() - began:.0f} s in all")
    failed = any(r.error or r.raw_error for r in ours) or rates.error
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="start-up runs per document (default 5)")
    harness.add_call_options(parser)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per start-up (default 120)")
    parser.add_argument("--peer", choices=["run", "cached", "skip"], default="run",
                        help="FastMCP: measure it now (default), show its last saved figures, or leave it out")
    parser.add_argument("--peer-runs", type=int, default=3, help="FastMCP SDK-client start-ups on GitHub (default 3)")
    parser.add_argument("--peer-stripe-runs", type=int, default=0,
                        help="FastMCP SDK-client start-ups on Stripe (default 0: the SDK client needs longer than "
                             "the timeout for its one-line 189 MB tools/list; the raw run is always made)")
    parser.add_argument("--peer-timeout", type=float, default=300.0,
                        help="seconds allowed per FastMCP start-up (default 300)")
    args = parser.parse_args()
    return anyio.run(run, args)


if __name__ == "__main__":
    sys.exit(main())
