"""Compiled tools kept on disk, so that a server started again on the same document neither parses nor compiles
it: for GitHub's 13 MB document that is a fifth of a second of start-up, and the 18 MB its parsing peaks at.

An entry is keyed by everything its compilation depends on: the document's bytes, the inputs the caller names
(profile, options, tool names taken by other documents) and this package's code (its version and a digest of
its source, so that an edited checkout never serves what older code compiled). It holds marshal data, plain
containers that run no code when loaded, behind a digest of its own. An entry that is missing, damaged or does
not match is no entry: the document is compiled again and the entry rewritten, atomically. Failing to write one
costs the next start its speed, never the start itself.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import marshal
import os
import sys
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

from mcp_gateway import __version__
from mcp_gateway.compile import Compilation
from mcp_gateway.plan import BodyPlan, CallPlan, CompiledTool, FieldEncoding, JobPlan, PagePlan, ParamBinding, Skipped
from mcp_gateway.spec.load import write_atomically

log = logging.getLogger("mcp_gateway")

MAGIC = b"mcp-gateway compiled tools 1\n"
SUFFIX = ".compiled"
KEEP = 16  # entries kept; the least recently used go first
_DIGEST = 32  # bytes of a SHA-256 digest
_CLASSES = {cls.__name__.encode(): cls
            for cls in (Compilation, CompiledTool, CallPlan, ParamBinding, BodyPlan, FieldEncoding, PagePlan, JobPlan,
                        Skipped)}


@dataclass(frozen=True)
class Entry:
    """What a start needs of a compiled document: its tools, and its security schemes (for a bare document's
    apiKey scheme)."""

    compilation: Compilation
    security_schemes: dict[str, Any]


@functools.cache
def code_digest() -> bytes | None:
    """A digest of this package's version, its source files and the Python that runs it (marshal's format);
    None when a source file cannot be read, and then nothing is cached."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(f"{__version__}\0{sys.version}".encode())
    try:
        for path in sorted(package.rglob("*.py")):
            source = path.read_bytes()
            digest.update(f"\0{path.relative_to(package)}\0{len(source)}\0".encode() + source)
    except OSError as exc:
        log.debug("compiled tools are not cached: %s", exc)
        return None
    return digest.digest()


def entry_key(document: bytes, inputs: Any) -> bytes | None:
    """The key of a document's compilation with these inputs (JSON-serialisable) by this code; None when the
    code cannot be told apart from other versions of it."""
    code = code_digest()
    if code is None:
        return None
    digest = hashlib.sha256(code)
    digest.update(len(document).to_bytes(8, "big"))
    digest.update(document)
    digest.update(json.dumps(inputs, sort_keys=True, default=str).encode())
    return digest.digest()


def _plain(value: Any) -> Any:
    """Dataclasses as tuples led by their class name in bytes (which the tuples of a plan never hold), through
    tuples; everything else as it is."""
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__.encode(), *(_plain(getattr(value, field.name)) for field in fields(value)))
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    return value


def _restored(value: tuple[Any, ...]) -> Any:
    """The inverse of `_plain` for a tuple; an unknown class name raises KeyError."""
    items = [_restored(item) if type(item) is tuple else item for item in value]
    return _CLASSES[items[0]](*items[1:]) if items and type(items[0]) is bytes else tuple(items)


class CompileCache:
    """Entries in one directory (`<cache dir>/compiled`), at most KEEP of them. A `deferred` cache keeps what it is
    given to store until `flush()`: a stdio server writes it once its tool list is out, not before."""

    def __init__(self, directory: Path, deferred: bool = False) -> None:
        self.directory = directory
        self.deferred = deferred
        self.pending: list[tuple[bytes, Entry]] = []

    def flush(self) -> None:
        """Write the entries kept until now."""
        pending, self.pending = self.pending, []
        for key, entry in pending:
            self._write(key, entry)

    def _path(self, key: bytes) -> Path:
        return self.directory / f"{key.hex()}{SUFFIX}"

    def load(self, key: bytes) -> Entry | None:
        """The entry stored under `key`; None when there is none or it is unusable."""
        path = self._path(key)
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        header = len(MAGIC) + 2 * _DIGEST
        payload = memoryview(blob)[header:]
        if blob[:header] != MAGIC + key + hashlib.sha256(payload).digest():
            log.debug("compiled tools at %s are damaged or do not match; compiling again", path)
            return None
        try:
            schemes, compilation = marshal.loads(payload)  # noqa: S302 - written here, intact by its digest
            entry = Entry(_restored(compilation), schemes)
            if not isinstance(entry.compilation, Compilation) or not isinstance(schemes, dict):
                raise TypeError("not a compilation")
        except Exception as exc:  # noqa: BLE001 - whatever is wrong with it, the document is compiled again
            log.debug("compiled tools at %s are unusable (%s); compiling again", path, exc)
            return None
        try:
            os.utime(path)  # recently used: pruned last
        except OSError:
            pass
        return entry

    def store(self, key: bytes, entry: Entry) -> None:
        """Keep an entry, now or (when deferred) at the next flush."""
        if self.deferred:
            self.pending.append((key, entry))
        else:
            self._write(key, entry)

    def _write(self, key: bytes, entry: Entry) -> None:
        """Write an entry (atomically), then prune the least recently used beyond KEEP; failures are only logged."""
        try:
            payload = marshal.dumps((entry.security_schemes, _plain(entry.compilation)))
        except ValueError as exc:  # a value marshal cannot write, or nesting too deep for it
            log.debug("compiled tools not cached: %s", exc)
            return
        try:
            write_atomically(self._path(key), MAGIC + key + hashlib.sha256(payload).digest() + payload)
            entries = sorted(self.directory.glob(f"*{SUFFIX}"), key=lambda path: path.stat().st_mtime, reverse=True)
            for stale in entries[KEEP:]:
                stale.unlink(missing_ok=True)
        except OSError as exc:
            log.debug("could not cache compiled tools in %s (%s)", self.directory, exc)
