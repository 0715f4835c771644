"""FastMCP 4.1.0's OpenAPI support, measured the way bench/startup_and_calls.py measures mcp-gateway.

Run: .venv/bin/python bench/peer_fastmcp.py

FastMCP needs its own `mcp`, so it is installed in bench/.venv-peer (made here when missing) and its
server (bench/peer_server.py) runs there; this driver uses the project's MCP client. Figures are saved
to bench/.cache/peer.json for startup_and_calls.py --peer cached.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import harness
import httpx
from harness import DOCUMENTS, Rates, Startup
from mcp import Client, StdioServerParameters

VERSION = "4.1.0"
LABEL = f"FastMCP {VERSION}"
VENV = harness.BENCH / ".venv-peer"
PYTHON = VENV / "bin" / "python"
SCRIPT = harness.BENCH / "peer_server.py"
MARKER = "peer_server.py"
TOOLS = ("reposget_all_topics", "repos_get_all_topics", "repos/get-all-topics", "repos_get-all-topics")


def ensure_venv(install_timeout: float = 900.0) -> Path | str:
    """The peer venv's Python, installing fastmcp there first if needed; a string says why it failed."""
    check = [str(PYTHON), "-c", f"import fastmcp, httpx2; assert fastmcp.__version__ == {VERSION!r}"]
    if PYTHON.exists() and subprocess.run(check, capture_output=True, timeout=120).returncode == 0:
        return PYTHON
    print(f"installing fastmcp=={VERSION} into {VENV.relative_to(harness.ROOT)} ...", file=sys.stderr, flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=300)
        install = subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", f"fastmcp=={VERSION}"],
                                 capture_output=True, text=True, timeout=install_timeout)
    except subprocess.TimeoutExpired:
        return f"pip install fastmcp=={VERSION} timed out after {install_timeout:g} s"
    except subprocess.CalledProcessError as exc:
        return f"could not create {VENV}: {exc.stderr.decode(errors='replace')[-300:]}"
    if install.returncode != 0:
        return f"pip install fastmcp=={VERSION} failed: {install.stderr.strip()[-300:]}"
    if subprocess.run(check, capture_output=True, timeout=120).returncode != 0:
        return f"fastmcp {VERSION} installed but does not import"
    return PYTHON


def params(python: Path, document: str, base_url: str) -> StdioServerParameters:
    return StdioServerParameters(command=str(python), args=[str(SCRIPT), document, base_url], cwd=str(harness.ROOT),
                                 env={"FASTMCP_LOG_LEVEL": "WARNING"})


async def measure_startups(python: Path, base_url: str, runs: int, stripe_runs: int,
                           timeout: float) -> list[Startup]:
    """Start-up on GitHub's and Stripe's documents: SDK-client runs as asked, and one raw run each."""
    series = (("github", runs), ("stripe", stripe_runs))
    return [await harness.startup_series(Startup(LABEL, key), params(python, str(DOCUMENTS[key]), base_url), MARKER,
                                         count, 1, timeout) for key, count in series]


async def with_session(python: Path, base_url: str, timeout: float, use: harness.SessionHook) -> str | None:
    """Run `use(client, tools)` in a FastMCP session on GitHub's document; returns the start-up error, if any."""
    session = Startup(LABEL, "github")
    await harness.startup_run(params(python, str(DOCUMENTS["github"]), base_url), MARKER, session, timeout, use,
                              then_timeout=600)
    return session.error.split("\n")[0] if session.error else None


async def measure_calls(python: Path, base_url: str, calls: int, concurrency: int, rounds: int,
                        timeout: float) -> Rates:
    """Calls through FastMCP next to direct calls, interleaved."""
    rates = Rates(LABEL, calls, concurrency)

    async def calls_phase(client: Client, tools: list[Any]) -> None:
        try:
            caller = harness.tool_caller(client, harness.pick_tool(tools, *TOOLS), harness.CALL_ARGUMENTS)
            async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as http:
                paths = {"direct": harness.direct_caller(http, base_url + harness.DIRECT_PATH), "stdio": caller}
                await harness.compare_rates(rates, paths, rounds, {"stdio": harness.find_child(MARKER)})
        except Exception as exc:  # noqa: BLE001 - reported in the table
            rates.error = f"{type(exc).__name__}: {exc}"

    error = await with_session(python, base_url, timeout, calls_phase)
    rates.error = rates.error or error or (None if rates.rounds else "no calls were made")
    return rates


def save(results: list[Startup], rates: Rates | None) -> None:
    """Keep the figures for startup_and_calls.py --peer cached."""
    harness.save("peer", {"saved": time.strftime("%Y-%m-%d %H:%M"), "startup": [harness.to_json(r) for r in results],
                          "rates": harness.to_json(rates) if rates else None})


def load_saved() -> tuple[list[Startup], Rates | None, str] | None:
    """The figures of the last run, if any."""
    data = harness.load("peer")
    if not data:
        return None
    rates = harness.rates_from_json(data["rates"]) if data.get("rates") else None
    return [harness.startup_from_json(r) for r in data["startup"]], rates, data.get("saved", "earlier")


async def run(args: argparse.Namespace) -> int:
    python = ensure_venv()
    if isinstance(python, str):
        print(f"{LABEL} could not be measured: {python}", file=sys.stderr)
        return 1
    with harness.local_upstream() as base_url:
        results = await measure_startups(python, base_url, args.runs, args.stripe_runs, args.timeout)
        rates = await measure_calls(python, base_url, args.calls, args.concurrency, args.rounds, args.timeout)
    save(results, rates)
    print(f"\n{LABEL} start-up over stdio: process start -> complete tools/list (peak = the server's VmHWM)")
    print(harness.startup_table(results))
    print(f"\n{LABEL} tool calls per second -> fast upstream on 127.0.0.1; {args.calls} calls per measurement, "
          f"median of {args.rounds} interleaved rounds")
    rows = [("direct httpx.AsyncClient", rates, "direct"), (f"{LABEL} over stdio", rates, "stdio")]
    print(harness.rates_table(rows, args.concurrency))
    failures = [e for r in results for e in (r.error, r.raw_error) if e and "timed out" not in e]
    return 1 if rates.error or failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="start-up runs on GitHub (default 3)")
    parser.add_argument("--stripe-runs", type=int, default=1, help="start-up runs on Stripe (default 1)")
    harness.add_call_options(parser)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per start-up (default 300)")
    args = parser.parse_args()
    return anyio.run(run, args)


if __name__ == "__main__":
    sys.exit(main())
