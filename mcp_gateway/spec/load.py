"""Read a document from a path or an http(s) URL and parse it as JSON or YAML, within a size limit.

Every byte read is counted: a local file by its size before reading, a download as it streams, after each
`Content-Encoding` layer is undone, so a small compressed answer cannot expand into memory or onto disk. A
fetched document is cached only once it parsed, so the copy that stands in when the URL fails is usable.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import httpx
import yaml

from mcp_gateway.errors import DocumentError, GatewayError

log = logging.getLogger("mcp_gateway")

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024  # GitHub's REST API document, among the largest published, is 13 MB
LIMIT_VARIABLE = "MCP_GATEWAY_MAX_DOCUMENT_BYTES"
_MAX_REDIRECTS = 10
_PIECE = 1 << 16  # the most output one decompression step may produce
_INFLATED = {"gzip", "x-gzip", "deflate"}  # zlib undoes each (gzip or zlib framing, detected from the header)

T = TypeVar("T")
ErrorFactory = Callable[[str, str], GatewayError]  # (source, message) -> the error to raise
Check = Callable[[Any, str], T]  # (parsed data, source) -> the data as the caller needs it, or DocumentError


def _document_loader() -> type[yaml.SafeLoader]:
    """The safe YAML loader (libyaml's when present) that keeps dates as strings, so every value stays
    JSON-serialisable."""
    base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    resolvers = {first: [(tag, regexp) for tag, regexp in entries if tag != "tag:yaml.org,2002:timestamp"]
                 for first, entries in base.yaml_implicit_resolvers.items()}
    return type("_DocumentLoader", (base,), {"yaml_implicit_resolvers": resolvers})


_DocumentLoader = _document_loader()


def is_url(source: str) -> bool:
    """True when the source is an http(s) URL rather than a file path."""
    return source.startswith(("http://", "https://"))


def cache_dir() -> Path:
    """Where fetched documents are kept: $MCP_GATEWAY_CACHE_DIR, else ~/.cache/mcp-gateway."""
    configured = os.environ.get("MCP_GATEWAY_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "mcp-gateway"


def max_document_bytes() -> int:
    """The most bytes a document may have once decompressed: $MCP_GATEWAY_MAX_DOCUMENT_BYTES, else 64 MiB."""
    configured = os.environ.get(LIMIT_VARIABLE, "").strip()
    if not configured:
        return MAX_DOCUMENT_BYTES
    if not configured.isdigit() or int(configured) < 1:
        raise DocumentError(LIMIT_VARIABLE, f"must be a whole number of bytes, e.g. {MAX_DOCUMENT_BYTES} "
                                            f"(it is {configured!r})")
    return int(configured)


def _too_large(limit: int) -> str:
    size = f"{limit / (1 << 20):g} MiB" if limit >= 1 << 20 else f"{limit} bytes"
    return (f"is larger than the {size} a document may have (counted after decompression); if it is genuine, "
            f"set {LIMIT_VARIABLE} to a larger number of bytes")


def _text_encoding(charset: str | None) -> str:
    """The codec of a declared charset; UTF-8 when none is declared or it names no text encoding."""
    try:
        codec = codecs.lookup(charset or "utf-8")
    except LookupError:
        return "utf-8"
    return codec.name if codec._is_text_encoding else "utf-8"  # not rot13, base64 or zlib


def _decode(data: bytes, source: str, charset: str | None = None, error: ErrorFactory = DocumentError) -> str:
    """The text of `data` in its declared charset, else UTF-8 (a BOM is dropped); bytes that do not decode
    are an error naming the source and the first bad byte."""
    encoding = _text_encoding(charset)
    try:
        return data.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        label = "UTF-8" if encoding == "utf-8" else encoding
        raise error(source, f"cannot be read as {label} (byte {data[exc.start]:#04x} at offset {exc.start}); "
                            "save it as UTF-8") from None


def read_local_text(path: str, limit: int, error: ErrorFactory = DocumentError) -> str:
    """The text of a local file, refusing one larger than `limit` bytes before reading it."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(limit + 1) if size <= limit else b""  # read() is bounded for pipes and devices
    except FileNotFoundError:
        raise error(path, "no such file; check the path") from None
    except OSError as exc:
        raise error(path, f"cannot be read ({exc.__class__.__name__}: {exc.strerror or exc})") from None
    if max(size, len(data)) > limit:
        raise error(path, _too_large(limit))
    return _decode(data, path, error=error)


def _capped(pieces: Iterable[bytes], url: str, limit: int) -> Iterator[bytes]:
    """Pass `pieces` on until together they exceed `limit` bytes, then refuse the document."""
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > limit:
            raise DocumentError(url, _too_large(limit))
        yield piece


def _inflated(pieces: Iterable[bytes], coding: str, url: str) -> Iterator[bytes]:
    """Undo one gzip or deflate layer step by step, no step producing more than 64 KiB; data after the end of
    the compressed stream is ignored."""
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)
    try:
        for data in pieces:
            more = True  # a step that filled its 64 KiB may have left output inside zlib
            while (data or more) and not inflater.eof:
                out = inflater.decompress(data, _PIECE)
                more, data = len(out) == _PIECE, inflater.unconsumed_tail
                if out:
                    yield out
    except zlib.error as exc:
        raise DocumentError(url, f"is sent as {coding} but cannot be decompressed ({exc})") from None


def _body(response: httpx.Response, url: str, limit: int) -> bytes:
    """The body of a streamed response with its Content-Encoding undone, every layer capped at `limit`."""
    codings = [c.strip().lower() for c in response.headers.get("content-encoding", "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    unknown = [c for c in codings if c not in _INFLATED]
    if unknown:
        raise DocumentError(url, f"is sent with Content-Encoding {', '.join(unknown)}, which cannot be decoded here "
                                 "(gzip and deflate can)")
    pieces = _capped(response.iter_raw(), url, limit)
    for coding in reversed(codings):  # the last encoding applied is the first to undo
        pieces = _capped(_inflated(pieces, coding, url), url, limit)
    return b"".join(pieces)


class _Fetched(NamedTuple):
    text: str
    etag: str | None


def _answer(response: httpx.Response, url: str, etag: str | None, limit: int) -> _Fetched | None:
    """The document a final (not redirecting) response carries; None for a 304 to `etag`."""
    if response.status_code == 304 and etag:
        return None
    if not response.is_success:
        raise DocumentError(url, f"fetch returned HTTP {response.status_code}; check the URL")
    text = _decode(_body(response, url, limit), url, response.charset_encoding)
    return _Fetched(text, response.headers.get("etag"))


def _download(url: str, timeout: float, etag: str | None, limit: int) -> _Fetched | None:
    """GET a document within `limit` bytes, following redirects without reading their bodies (httpx would
    read and decompress each one whole); None when the server answers 304 to `etag`."""
    headers = {"Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    try:
        with httpx.Client(timeout=timeout, headers=headers) as client:
            request = client.build_request("GET", url)
            for _ in range(_MAX_REDIRECTS + 1):
                response = client.send(request, stream=True)
                try:
                    if response.next_request is None:
                        return _answer(response, url, etag, limit)
                    request = response.next_request
                finally:
                    response.close()
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise DocumentError(url, f"could not fetch ({type(exc).__name__}); check the URL and the network") from None
    raise DocumentError(url, f"redirects more than {_MAX_REDIRECTS} times; check the URL")


@dataclass(frozen=True)
class _CacheEntry:
    """The last copy of one URL's document that parsed, with its ETag, on disk."""

    body: Path
    etag: Path

    @classmethod
    def of(cls, url: str) -> _CacheEntry:
        key = hashlib.sha256(url.encode()).hexdigest()[:32]
        return cls(cache_dir() / f"{key}.doc", cache_dir() / f"{key}.etag")

    def validator(self) -> str | None:
        """The ETag to revalidate with, when there is a copy to fall back on and the ETag can be sent (ASCII)."""
        try:
            etag = self.etag.read_text(encoding="utf-8").strip() if self.body.exists() else ""
        except (OSError, UnicodeDecodeError):
            return None
        return etag if etag.isascii() and etag.isprintable() and etag else None

    def load(self, url: str, check: Check[T], limit: int) -> T | None:
        """The cached copy parsed and checked; None when there is none, or it is unusable (then it is removed)."""
        if not self.body.exists():
            return None
        try:
            return _parsed_file(str(self.body), check, limit)
        except DocumentError as exc:
            log.warning("the copy of %s cached on disk is unusable, removing it: %s", url, exc)
            self.remove()
            return None

    def store(self, url: str, fetched: _Fetched) -> None:
        """Keep a copy that parsed; a failure to write is a warning, never an error."""
        try:
            self.etag.unlink(missing_ok=True)  # no stale ETag may ever describe the new copy
            self.body.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.body.parent, suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(fetched.text)
                os.replace(temporary, self.body)  # readers see the old copy or the new one, never half of one
            except OSError:
                Path(temporary).unlink(missing_ok=True)
                raise
            if fetched.etag:
                self.etag.write_text(fetched.etag, encoding="utf-8")
        except OSError as exc:
            log.warning("could not cache %s (%s)", url, exc)

    def remove(self) -> None:
        """Forget the copy and its ETag."""
        for path in (self.body, self.etag):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not remove %s (%s)", path, exc)


def _parsed_file(path: str, check: Check[T], limit: int) -> T:
    """A local file read, parsed and checked."""
    return check(parse_text(read_local_text(path, limit), path), path)


def _fetch(url: str, timeout: float, check: Check[T], limit: int, entry: _CacheEntry, etag: str | None) -> T:
    """Download, parse and check a document, then cache it; a 304 answer to `etag` gives the cached copy."""
    fetched = _download(url, timeout, etag, limit)
    if fetched is None:
        cached = entry.load(url, check, limit)
        return cached if cached is not None else _fetch(url, timeout, check, limit, entry, None)
    data = check(parse_text(fetched.text, url), url)
    entry.store(url, fetched)
    return data


def _load_url(url: str, timeout: float, check: Check[T], limit: int) -> T:
    """A fetched document; when it cannot be fetched or is unusable, the cached copy, with a warning."""
    entry = _CacheEntry.of(url)
    try:
        return _fetch(url, timeout, check, limit, entry, entry.validator())
    except DocumentError as exc:
        cached = entry.load(url, check, limit)
        if cached is None:
            raise
        log.warning("%s; using the copy cached on disk at %s", exc, entry.body)
        return cached


def _load(source: str, timeout: float, check: Check[T]) -> T:
    """A path or URL read, parsed and checked, within the document size limit."""
    limit = max_document_bytes()  # an invalid setting is an error before any cached copy is touched
    return _load_url(source, timeout, check, limit) if is_url(source) else _parsed_file(source, check, limit)


def parse_text(text: str, source: str) -> Any:
    """Parse JSON (fast path) or YAML text."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass  # YAML is a superset of JSON in practice; let YAML report the error
    try:
        data = yaml.load(text, Loader=_DocumentLoader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise DocumentError(source, f"is neither valid JSON nor valid YAML{where}") from None
    _check_aliases(data, source, limit=20 * len(text) + 100_000)
    return data


def _check_aliases(data: Any, source: str, limit: int) -> None:
    """Refuse YAML whose aliases make a cycle or expand far past the text (a "billion laughs" document).

    Every later stage walks the document as a tree, so a shared node costs once per path to it;
    sizes are counted per distinct node, which keeps this check linear in the text.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(data, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        if not isinstance(node, dict | list) or (id(node) in sizes and not children_done):
            continue
        children = [v for v in (node.values() if isinstance(node, dict) else node) if isinstance(v, dict | list)]
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + len(node) + sum(sizes[id(child)] for child in children)
            if sizes[id(node)] > limit:
                raise DocumentError(source, "YAML aliases expand it to far more nodes than its text has; "
                                            "write the repeated parts out or use $ref")
            continue
        if id(node) in open_nodes:
            raise DocumentError(source, "a YAML alias refers to a node that contains it (a cycle); use $ref instead")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children)


def _openapi(data: Any, source: str) -> dict[str, Any]:
    """The root document, if it is a mapping with an `openapi` or `swagger` key (normalise checks the version)."""
    hint = "check that it is the document itself and not a web page"
    if not isinstance(data, dict):
        raise DocumentError(source, f"the top level must be a mapping (an OpenAPI or Swagger object); {hint}")
    if not {"openapi", "swagger"} & data.keys():
        raise DocumentError(source, f"is not an OpenAPI 3.x or Swagger 2.0 document (no `openapi` or `swagger` key at "
                                    f"the top); {hint}")
    return data


def _json_or_yaml(data: Any, source: str) -> Any:
    """A referenced file, if its top level is a mapping or a list (not a lone string, as a web page parses)."""
    if not isinstance(data, dict | list):
        raise DocumentError(source, "is not a JSON or YAML document (its top level is neither a mapping nor a list)")
    return data


def load_referenced(location: str, timeout: float) -> Any:
    """Load a file that a document refers to (cached when fetched, like documents)."""
    return _load(location, timeout, _json_or_yaml)


def load_document(source: str, timeout: float = 10.0) -> tuple[dict[str, Any], str]:
    """Load the root document; returns the parsed dict and the base that relative refs resolve against."""
    data = _load(source, timeout, _openapi)
    base = source if is_url(source) else str(Path(source).resolve())
    return data, base
