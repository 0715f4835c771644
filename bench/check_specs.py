"""`mcp-gateway check` over every document in ../shared/specs, as one table with totals.

    .venv/bin/python bench/check_specs.py [SPECS_FOLDER]

Documents are the JSON/YAML files in seeds/ and realworld/, and for a multi-file document kept in a
folder of its own (realworld/digitalocean.com-multifile/), the root file(s) at the top of that folder.
Without ../shared/specs beside the checkout there is nothing to check: it says so and exits 0.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcp_gateway.cli import check_one  # noqa: E402
from tests.common import SPECS  # noqa: E402

_SUFFIXES = (".json", ".yaml", ".yml")


def _is_root_document(path: Path) -> bool:
    """A file whose first lines say `openapi:` / `swagger:` (or the JSON spelling) at the top level."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        head = handle.read(4096)
    return any(marker in head for marker in ("openapi:", "swagger:", '"openapi"', '"swagger"'))


def documents(specs: Path = SPECS) -> list[Path]:
    """Every document of the corpus: seeds, realworld, and the root files of multi-file folders."""
    found: list[Path] = []
    for group in ("seeds", "realworld"):
        folder = specs / group
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.is_file() and entry.suffix in _SUFFIXES:
                found.append(entry)
            elif entry.is_dir():
                found.extend(p for p in sorted(entry.iterdir())
                             if p.is_file() and p.suffix in _SUFFIXES and _is_root_document(p))
    return found


def main() -> int:
    if len(sys.argv) == 1 and not SPECS.is_dir():
        print(f"../shared/specs is not beside this checkout ({SPECS}): nothing to check", file=sys.stderr)
        return 0
    specs = Path(sys.argv[1]) if len(sys.argv) > 1 else SPECS
    docs = documents(specs)
    if not docs:
        print(f"no documents under {specs}", file=sys.stderr)
        return 1
    width = max(len(str(d.relative_to(specs))) for d in docs)
    print(f"{'doc':<{width}}  {'ok':>3}  {'operations':>10}  {'tools':>6}  {'skipped':>7}  {'seconds':>7}")
    totals = {"ok": 0, "operations": 0, "tools": 0, "skipped": 0, "seconds": 0.0}
    errors = []
    for doc in docs:
        started = time.perf_counter()
        report = check_one(str(doc), timeout=10.0)
        seconds = time.perf_counter() - started
        name = str(doc.relative_to(specs))
        print(f"{name:<{width}}  {'yes' if report['ok'] else 'NO':>3}  {report['operations']:>10}  "
              f"{report['tools']:>6}  {len(report['skipped']):>7}  {seconds:>7.2f}", flush=True)
        totals["ok"] += report["ok"]
        totals["operations"] += report["operations"]
        totals["tools"] += report["tools"]
        totals["skipped"] += len(report["skipped"])
        totals["seconds"] += seconds
        if report["error"]:
            errors.append(report["error"])
        for skipped in report["skipped"]:
            errors.append(f"{name}: {skipped['operation']}: {skipped['reason']}")
    print(f"{'total: ' + str(len(docs)) + ' documents':<{width}}  {totals['ok']:>3}  {totals['operations']:>10}  "
          f"{totals['tools']:>6}  {totals['skipped']:>7}  {totals['seconds']:>7.2f}")
    for line in errors:
        print(f"  {line}")
    return 0 if totals["ok"] == len(docs) else 1


if __name__ == "__main__":
    sys.exit(main())
